#!/usr/bin/env bash
# Runs Shoal's whole test suite: Rust unit and integration tests, then the nakama-js
# compatibility suite against the freshly built `shoal` binary.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shoal-target}"

# One dev-profile build serves the binary, the Rust tests and the compat suite.
cargo build --workspace --bins --tests
cargo test --workspace

export SHOAL_BIN="$CARGO_TARGET_DIR/debug/shoal"
(cd tests/compat && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test)

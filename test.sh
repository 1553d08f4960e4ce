#!/usr/bin/env bash
# Runs Shoal's whole test suite: Rust unit and integration tests, the chaos smoke run, then
# the nakama-js compatibility suite against the freshly built `shoal` binary.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shoal-target}"

# One dev-profile build serves the binary, the Rust tests and the compat suite.
cargo build --workspace --bins --tests
cargo test --workspace

export SHOAL_BIN="$CARGO_TARGET_DIR/debug/shoal"

# Chaos smoke: every fault kind in turn against 3 real nodes, checkers judge the history
# (about 90 s). A failure prints the seed and the command that reproduces it.
"$CARGO_TARGET_DIR/debug/shoal-chaos" smoke
(cd tests/compat && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test)

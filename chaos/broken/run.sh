#!/usr/bin/env bash
# Checks the checkers: builds `shoal` with one deliberately broken patch from this folder
# and runs a chaos scenario against it. The run is expected to FAIL (exit 1); this script
# exits 0 only if the chaos run caught the bug.
#
#   chaos/broken/run.sh ack-before-commit run --scenario kill-leader --duration 40s --seed 7
#   chaos/broken/run.sh stale-reads run --scenario partition-leader --duration 40s --seed 7
#
# The broken tree is a temporary git worktree of HEAD; it shares the cargo target dir (no
# second RocksDB build) and the real debug `shoal` binary there is put back afterwards.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 PATCH-NAME shoal-chaos-args..." >&2; exit 2; }
name=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
patch="$root/chaos/broken/$name.patch"
[ -f "$patch" ] || { echo "no patch $patch" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shoal-target}"
bin="$CARGO_TARGET_DIR/debug/shoal"

scratch=$(mktemp -d)
wt="$scratch/tree"
cleanup() {
  [ -f "$scratch/shoal.good" ] && cp "$scratch/shoal.good" "$bin"
  git -C "$root" worktree remove --force "$wt" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
(cd "$root" && cargo build -p shoal-node -p shoal-chaos --bin shoal --bin shoal-chaos)
cp "$bin" "$scratch/shoal.good"
git -C "$root" worktree add --detach "$wt" HEAD >/dev/null
git -C "$wt" apply "$patch"
(cd "$wt" && cargo build -p shoal-node --bin shoal)
cp "$bin" "$scratch/shoal.broken"
cp "$scratch/shoal.good" "$bin"

set +e
"$CARGO_TARGET_DIR/debug/shoal-chaos" "$@" --shoal "$scratch/shoal.broken"
rc=$?
set -e
case $rc in
  1) echo "caught: the chaos run failed against the $name build, as it must"; exit 0 ;;
  0) echo "NOT CAUGHT: every checker passed against the $name build"; exit 1 ;;
  *) echo "the chaos run could not complete (exit $rc)"; exit "$rc" ;;
esac

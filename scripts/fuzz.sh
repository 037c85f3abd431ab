#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 600), JOBS at a
# time (default 2), on the committed corpus in fuzz/corpus/. Needs the
# nightly toolchain; installs cargo-fuzz when it is missing. A crash
# leaves its input in fuzz/artifacts/TARGET/ and fails the script.
#   scripts/fuzz.sh [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
jobs=${2:-2}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
targets=$(cargo +nightly fuzz list)
status=0
run() {
  local target=$1
  mkdir -p "fuzz/corpus/$target"
  if cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
      > "fuzz/$target.log" 2>&1; then
    echo "fuzz $target: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/$target.log" | grep -o '[0-9]*$') runs in ${seconds}s)"
  else
    echo "fuzz $target: FAILED; see fuzz/$target.log and fuzz/artifacts/$target/"
    return 1
  fi
}
pids=()
for target in $targets; do
  run "$target" &
  pids+=($!)
  if (( ${#pids[@]} >= jobs )); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit $status

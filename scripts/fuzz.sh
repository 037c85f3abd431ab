#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 600), JOBS at a
# time (default 2). Needs the nightly toolchain; installs cargo-fuzz when it
# is missing. The build goes to fuzz/target/.
#
# By default each target fuzzes its committed corpus in fuzz/corpus/TARGET/
# and libFuzzer adds the new inputs it finds there, to be minimized and
# committed; the log is fuzz/TARGET.log and a crash leaves its input in
# fuzz/artifacts/TARGET/.
#
# With --scratch (what .ci/run uses) each target fuzzes a copy of its corpus
# in a temporary directory that also holds its log and artifacts and is
# removed on exit, so the checkout is left as it was. A crash prints the
# log's end and the input (base64) and copies the input to
# fuzz/artifacts/TARGET/.
#   scripts/fuzz.sh [--scratch] [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=
if [[ ${1:-} == --scratch ]]; then
  shift
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/wscope-fuzz.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  trap 'exit 130' INT TERM
fi
seconds=${1:-600}
jobs=${2:-2}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
targets=$(cargo +nightly fuzz list)
status=0
run() {
  local target=$1 corpus log artifacts
  if [[ -n $scratch ]]; then
    corpus=$scratch/corpus/$target
    log=$scratch/$target.log
    artifacts=$scratch/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    if [[ -d fuzz/corpus/$target ]]; then
      cp -R "fuzz/corpus/$target/." "$corpus/"
    fi
  else
    corpus=fuzz/corpus/$target
    log=fuzz/$target.log
    artifacts=fuzz/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
  fi
  # The last -artifact_prefix wins over the one cargo-fuzz passes itself.
  if cargo +nightly fuzz run "$target" "$corpus" -- \
      -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" > "$log" 2>&1; then
    echo "fuzz $target: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${seconds}s)"
    return 0
  fi
  echo "fuzz $target: FAILED"
  if [[ -z $scratch ]]; then
    echo "  log: $log"
    for input in "$artifacts"/*; do
      [[ -f $input ]] && echo "  input: $input"
    done
    return 1
  fi
  # The scratch directory goes away: show why, and keep the input.
  local why
  why=$(grep -m1 -A1 -E 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" || tail -n 20 "$log")
  sed 's/^/  | /' <<< "$why"
  mkdir -p "fuzz/artifacts/$target"
  for input in "$artifacts"/*; do
    [[ -f $input ]] || continue
    cp "$input" "fuzz/artifacts/$target/"
    echo "  input: fuzz/artifacts/$target/${input##*/} (base64: $(base64 -w0 < "$input"))"
  done
  return 1
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

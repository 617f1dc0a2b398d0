#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets with clang (ASan + UBSan) and runs each one for a bounded time over its corpus.
# Usage: tests/fuzz/run.sh [seconds-per-target] [build-dir] [target...]
#   seconds: how long each target fuzzes after replaying its corpus (default 15; 0 only replays).
#   build-dir: where the clang build, the grown corpus and crash files go (default <root>/build-fuzz).
#   targets: codec_json codec_msgpack event gateway (default: all), run CRM_FUZZ_JOBS at a time (default 2).
# Exits 0 when no target found anything; otherwise prints each finding and where its input is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-15}"
build="${2:-$root/build-fuzz}"
shift $(( $# < 2 ? $# : 2 ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(codec_json codec_msgpack event gateway)
jobs="${CRM_FUZZ_JOBS:-2}"
max_len="${CRM_FUZZ_MAX_LEN:-8192}"        # bytes of one generated input
per_input_timeout=10                        # seconds one input may take before it is a finding
rss_limit_mb=2048

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC="${CRM_FUZZ_CC:-clang}" cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$jobs" >"$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }

# The sanitizers stop at the first error; libFuzzer then writes the input to the artifact prefix.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:handle_abort=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run_one() {
  local t="$1" grown="$build/corpus/$1" artifacts="$build/artifacts/$1/" log="$build/fuzz_$1.log"
  mkdir -p "$grown" "$artifacts"
  # New inputs go to the first (build) directory; the corpus in the tree is only read.
  local budget=(-max_total_time="$seconds")
  [ "$seconds" -eq 0 ] && budget=(-runs=0)    # libFuzzer takes max_total_time=0 as no limit
  if "$build/fuzz_$t" "${budget[@]}" -timeout="$per_input_timeout" -rss_limit_mb="$rss_limit_mb" \
       -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts" \
       "$grown" "$here/corpus/$t" >"$log" 2>&1; then
    echo "fuzz_$t: ok: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs in ${seconds}s," \
         "corpus $(find "$grown" "$here/corpus/$t" -type f | wc -l) inputs"
  else
    echo "fuzz_$t: FOUND A PROBLEM (log: $log)"
    grep -E -A40 'ERROR: |runtime error|fuzz check failed|==ERROR|deadly signal|Test unit written' "$log" | head -60
    ls "$artifacts"
    return 1
  fi
}

failed=0
pids=()
names=()
for t in "${targets[@]}"; do
  [ -x "$build/fuzz_$t" ] || { echo "no target fuzz_$t"; exit 2; }
  run_one "$t" & pids+=($!); names+=("$t")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" -ne 0 ]; then
  echo "A crash input is in $build/artifacts/<target>/: minimise it (fuzz_<target> -minimize_crash=1 -runs=10000 <file>),"
  echo "add it to tests/fuzz/corpus/<target>/ as regress-<what>, and write the failing test (see tests/fuzz/README.md)."
fi
exit "$failed"

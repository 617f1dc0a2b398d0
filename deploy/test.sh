#!/usr/bin/env bash
# test.sh: installs what is missing, builds with AddressSanitizer and UndefinedBehaviorSanitizer
# (warnings are errors), and runs every test: unit, integration and fault.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${CRM_TEST_BUILD_DIR:-$root/build-test}"

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRM_SANITIZE=ON -DCRM_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --output-on-failure -j2 "$@"

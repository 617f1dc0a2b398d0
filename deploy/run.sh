#!/usr/bin/env bash
# run.sh: installs what is missing, builds, and runs the whole suite in the foreground on loopback.
# Ctrl-C (SIGINT) or SIGTERM stops every service cleanly. Settings come from the environment
# (see README.md); with none, stores go under ./data and the gateway listens on 127.0.0.1:8080.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${CRM_BUILD_DIR:-$root/build}"

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCRM_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

export CRM_DATA_DIR="${CRM_DATA_DIR:-$PWD/data}"
mkdir -p "$CRM_DATA_DIR"

# Publishers first, the gateway last: start order does not matter for correctness (subscribers
# catch up by replay), but this way /readyz turns ready sooner.
services=(contacts loyalty feedback analytics notifier gateway)
pids=()
stop() {
  trap - INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop; exit 0' INT TERM
for svc in "${services[@]}"; do
  [ -x "$build/crm-$svc" ] || continue
  "$build/crm-$svc" &
  pids+=("$!")
done
echo "crm: ${#pids[@]} services running; gateway on http://${CRM_HTTP_ADDR:-127.0.0.1:8080}; Ctrl-C stops them" >&2
# When any service ends on its own, stop the others: the suite runs whole or not at all.
status=0
wait -n "${pids[@]}" || status=$?
stop
exit "$status"

#!/usr/bin/env bash
# The README's walkthrough, unattended: build once (release), run the router
# on its embedded default in a temporary directory, route the example
# requests with `finroute route` (and grpcurl when it is installed), accept
# an offer, file an appeal, read the application back, then stop the router
# with SIGTERM and expect a clean exit. Exits non-zero at the first failure.
#
#   docs/walkthrough.sh                      # from the repository root
#   FINROUTE_BIN=path/to/finroute docs/walkthrough.sh   # skip the build
#   WALKTHROUGH_PORT=50051 (default) WALKTHROUGH_METRICS_PORT=9464 (default)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${WALKTHROUGH_PORT:-50051}"
metrics_port="${WALKTHROUGH_METRICS_PORT:-9464}"
endpoint="127.0.0.1:$port"

if [[ -z "${FINROUTE_BIN:-}" ]]; then
  cargo build --release -p finroute
  FINROUTE_BIN="${CARGO_TARGET_DIR:-$root/target}/release/finroute"
fi
# Absolute: the router runs in a temporary directory.
bin="$(cd "$(dirname "$FINROUTE_BIN")" && pwd)/$(basename "$FINROUTE_BIN")"
step() { printf '\n== %s\n' "$*"; }

work="$(mktemp -d)"
router_pid=""
cleanup() {
  if [[ -n "$router_pid" ]] && kill -0 "$router_pid" 2>/dev/null; then
    kill "$router_pid" 2>/dev/null || true
    wait "$router_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "finroute config check finroute.example.toml"
"$bin" config check finroute.example.toml
step "finroute config show (the embedded default)"
"$bin" config show | sed -n 1,12p

step "finroute serve (embedded default, in $work)"
(cd "$work" && exec "$bin" serve --listen "$endpoint" --metrics-listen "127.0.0.1:$metrics_port") \
  2>"$work/serve.log" &
router_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/serve.log" 2>/dev/null && break
  kill -0 "$router_pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
grep "listening on" "$work/serve.log"

step "finroute route examples/grpcurl/route_financing.json"
"$bin" route examples/grpcurl/route_financing.json --endpoint "$endpoint" | tee "$work/route.txt"
application="$(sed -n 's/^Application: //p' "$work/route.txt")"
next="$(grep '^finroute accept ' "$work/route.txt")"
offer="$(awk '{print $4}' <<<"$next")"

step "finroute route examples/grpcurl/route_financing_zh.json"
"$bin" route examples/grpcurl/route_financing_zh.json --endpoint "$endpoint"

step "finroute route examples/grpcurl/route_financing_invalid.json (INVALID_ARGUMENT expected)"
if "$bin" route examples/grpcurl/route_financing_invalid.json --endpoint "$endpoint"; then
  echo "the invalid request was accepted" >&2
  exit 1
fi

step "finroute accept $application $offer"
"$bin" accept "$application" "$offer" --applicant app-7f3a9c \
  --idempotency-key walkthrough-1 --endpoint "$endpoint"
step "finroute appeal $application"
"$bin" appeal "$application" --reason income-changed --details "new job since March" \
  --idempotency-key walkthrough-appeal-1 --endpoint "$endpoint"
step "finroute get $application"
"$bin" get "$application" --endpoint "$endpoint"

if command -v grpcurl >/dev/null; then
  step "grpcurl"
  grpcurl -plaintext "$endpoint" list
  grpcurl -plaintext -d @ "$endpoint" finroute.v1.FinancingRouter/RouteFinancing \
    < examples/grpcurl/route_financing.json >/dev/null
  grpcurl -plaintext -d "{\"offer_id\":\"$offer\",\"locale\":\"zh-CN\"}" "$endpoint" \
    finroute.v1.FinancingRouter/GetKeyFacts
  grpcurl -plaintext "$endpoint" grpc.health.v1.Health/Check
else
  step "grpcurl is not installed: its calls are skipped"
fi

if command -v curl >/dev/null; then
  step "metrics"
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -m 3 '^finroute_'
fi

step "stop (SIGTERM)"
kill -TERM "$router_pid"
status=0
wait "$router_pid" || status=$?
router_pid=""
if [[ "$status" -ne 0 ]]; then
  cat "$work/serve.log" >&2
  echo "the router exited $status" >&2
  exit 1
fi
echo "walkthrough ok"

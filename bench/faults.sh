#!/usr/bin/env bash
# Bounded load with one partner hanging (issue: tail-tolerant fan-out).
# Builds release, starts two partner processes (one answers at once, one
# never answers a quote), and the router on the built-in channels plus both
# partners, then drives RouteFinancing with h2load for a fixed number of
# calls, each with grpc-timeout D. Reports p50/p99/max latency from
# h2load's per-request log, req/s, and the router's RSS before, after and
# at peak.
#
#   bash bench/faults.sh              # N=20000 calls, D=700 ms, -c 4 -m 16
#   N=5000 D=300 bash bench/faults.sh
#
# The breaker is on as in production: after 5 timeouts the hung partner is
# ejected and probed with growing backoff (so most calls skip it). Set
# BREAKER=off to keep it in every fan-out (every call then waits for D).
#
# bench/run.sh measures the same fault side by side with the other
# scenarios (its "hung" row: one hung partner, 300 ms deadline, by time
# rather than by call count); this script stays for fixed-count runs and
# BREAKER=off.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-20000}"
D="${D:-700}"
CONNS="${CONNS:-4}"
STREAMS="${STREAMS:-16}"
PORT="${PORT:-50161}"
BREAKER="${BREAKER:-on}"

command -v h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client" >&2; exit 2; }
cargo build --release -q -p finroute -p finroute-bench
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

./target/release/finroute-bench body route "$work/route.bin"
./target/release/finroute-bench body health "$work/health.bin"
./target/release/finroute-bench partner offers $((PORT + 1)) 2>/dev/null & pids+=($!)
./target/release/finroute-bench partner hung $((PORT + 2)) 2>/dev/null & pids+=($!)
threshold=5
[ "$BREAKER" = off ] && threshold=1000000000
cat > "$work/faults.toml" <<TOML
[server]
metrics_listen = "127.0.0.1:$((PORT + 3))"

[store]
url = "sqlite://$work/finroute.db"

[routing]
breaker_failure_threshold = $threshold

[[adapters]]
id = "secured"
kind = "secured"
[[adapters]]
id = "installment"
kind = "installment"
[[adapters]]
id = "partner-sim"
kind = "partner_sim"
[[adapters]]
id = "bank-good"
kind = "remote"
endpoint = "http://127.0.0.1:$((PORT + 1))"
timeout_ms = 400
[[adapters]]
id = "bank-hung"
kind = "remote"
endpoint = "http://127.0.0.1:$((PORT + 2))"
timeout_ms = 10000
TOML
RUST_LOG=warn ./target/release/finroute serve --config "$work/faults.toml" --listen "127.0.0.1:$PORT" 2>"$work/router.log" &
pid=$!; pids+=($pid)
for _ in $(seq 100); do
  if h2load -n 1 -c 1 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/health.bin" \
      "http://127.0.0.1:$PORT/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '1 succeeded'; then break; fi
  sleep 0.1
done

rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status; }
load() { # n -> h2load output in $work/out.txt, per-request log in $work/log.txt
  h2load -n "$1" -c "$CONNS" -m "$STREAMS" -t 1 --log-file="$work/log.txt" \
    -H 'content-type: application/grpc' -H 'te: trailers' -H "grpc-timeout: ${D}m" \
    -d "$work/route.bin" "http://127.0.0.1:$PORT/finroute.v1.FinancingRouter/RouteFinancing" \
    > "$work/out.txt" 2>&1 || true
}
load 1000 # warm up
rss_before=$(rss)
rm -f "$work/log.txt"
load "$N"
rss_after=$(rss)
rss_peak=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
rps=$(awk '/finished in/ {for (i=1;i<=NF;i++) if ($i ~ /req\/s/) print $(i-1)}' "$work/out.txt" | tr -d ',')
# log: start (us since epoch), HTTP status, response time (us)
sort -n -k3 "$work/log.txt" | awk -v d="$D" '
  { t[NR] = $3 / 1000; if ($2 != 200) bad++ ; if ($3 / 1000 > d) late++ }
  END {
    printf "calls %d, non-200 %d, over D %d\n", NR, bad + 0, late + 0
    printf "latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", t[int(NR*0.5)], t[int(NR*0.9)], t[int(NR*0.99)], t[NR]
  }'
grep -E "^requests:|^status codes:" "$work/out.txt"
echo "req/s: $rps (h2load -n $N -c $CONNS -m $STREAMS, grpc-timeout ${D}m, breaker $BREAKER)"
echo "router RSS: ${rss_before} MB before, ${rss_after} MB after, ${rss_peak} MB peak"
grep -c "circuit opened" "$work/router.log" | sed 's/^/circuit opened (log lines): /' || true

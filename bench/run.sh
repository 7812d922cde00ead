#!/usr/bin/env bash
# One-command benchmark: builds release, starts the router on the embedded
# default (SQLite in a temp dir), and measures with h2load side by side in
# one run: Health/Check (the ceiling) and RouteFinancing. Each is run 3
# times and the median req/s is reported with the ratio to Health/Check.
#
#   bash bench/run.sh            # defaults: 10 s per run, -c 4 -m 16
#   DURATION=5 CONNS=4 STREAMS=16 bash bench/run.sh
#   STORE_URL=postgres://postgres@127.0.0.1:5432/test bash bench/run.sh
#
# Every routed application is committed to the store (SQLite in the temp
# dir by default, or STORE_URL) before its reply.
#
# Needs h2load (Debian: apt-get install nghttp2-client).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNS="${CONNS:-4}"
STREAMS="${STREAMS:-16}"
PORT="${PORT:-50151}"

command -v h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client" >&2; exit 2; }
cargo build --release -q -p finroute -p finroute-bench
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

./target/release/finroute-bench body route "$work/route.bin"
./target/release/finroute-bench body health "$work/health.bin"
config=()
if [ -n "${STORE_URL:-}" ]; then
  printf '[store]\nurl = "%s"\n' "$STORE_URL" > "$work/bench.toml"
  config=(--config "$work/bench.toml")
fi
(cd "$work" && RUST_LOG=warn exec "$OLDPWD/target/release/finroute" serve "${config[@]}" --listen "127.0.0.1:$PORT") &
pid=$!
for _ in $(seq 100); do
  if h2load -n 1 -c 1 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/health.bin" \
      "http://127.0.0.1:$PORT/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '1 succeeded'; then break; fi
  sleep 0.1
done

run() { # name path body -> req/s
  h2load -D "$DURATION" -c "$CONNS" -m "$STREAMS" -t 1 \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$2" \
    "http://127.0.0.1:$PORT/$1" > "$work/out.txt" 2>&1 || true
  local rps p50 p99
  rps=$(awk '/finished in/ {for (i=1;i<=NF;i++) if ($i ~ /req\/s/) print $(i-1)}' "$work/out.txt" | tr -d ',')
  echo "$rps"
  grep -E "^requests:|^status codes:|time for request:" "$work/out.txt" >&2
}

median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

declare -a H R
for i in 1 2 3; do
  H+=("$(run grpc.health.v1.Health/Check "$work/health.bin")")
  R+=("$(run finroute.v1.FinancingRouter/RouteFinancing "$work/route.bin")")
done
hm=$(median "${H[@]}"); rm_=$(median "${R[@]}")
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
cpu_ticks=$(awk '{print $14+$15}' /proc/$pid/stat)
echo
echo "h2load -D $DURATION -c $CONNS -m $STREAMS, 3 runs each, median req/s"
echo "Health/Check            : ${H[*]} -> median $hm"
label="embedded SQLite"
[ -n "${STORE_URL:-}" ] && label="${STORE_URL%%://*}"
echo "RouteFinancing ($label): ${R[*]} -> median $rm_"
awk -v r="$rm_" -v h="$hm" 'BEGIN { printf "ratio RouteFinancing / Health = %.3f\n", r / h }'
echo "router peak RSS: $((rss_kb / 1024)) MB; CPU time: $((cpu_ticks / $(getconf CLK_TCK))) s"

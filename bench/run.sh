#!/usr/bin/env bash
# The one benchmark command: builds release, then measures side by side, in
# one run, one router process per scenario (each with a fresh store):
#
#   health    Health/Check on a router on the embedded default (the ceiling)
#   embedded  RouteFinancing on the embedded default: the 3 built-in
#             channels in process, SQLite in a temp dir
#   remote3   RouteFinancing with ONLY 3 remote partners: three partner_bank
#             processes on loopback (timeout_ms PARTNER_TIMEOUT_MS), SQLite
#   pg        RouteFinancing on PostgreSQL (PG_URL, a fresh schema), built-ins
#   hung      RouteFinancing on the built-ins plus one partner that never
#             answers (breaker on, as in production), every call with a
#             caller deadline of DEADLINE_MS (grpc-timeout)
#   replicas  2 routers on one PostgreSQL schema, two h2load in parallel
#             (one per replica, CONNS/2 connections each), req/s summed
#
# and the limit rows (issue 21): `finroute-bench limit`, a bare service on
# the same proto that per call only decodes the request, makes the same
# durable record (the router's stored bytes, through finroute-store's group
# commit) and answers with a pre-built response of the router's size (the
# router's own answer to the same request, captured first):
#
#   limit     its SQLite twin, the limit of embedded (and of hung)
#   limit3    the bare 3-partner fan-out: the same, plus Quote to the same
#             three partner_bank processes as remote3, the limit of remote3
#   limitpg   on PostgreSQL (a fresh schema), the limit of pg and replicas
#
# Each routed row is quoted as a share of its limit row (throughput) and as
# a multiple of it and of Health/Check (router CPU per call), and a list of
# targets under the table says which are met. LIMITS=0 leaves them out.
# LIMIT_STORED=basic makes the limit rows store the response without each
# offer's schedule and disclosures (about what a compact record rebuilding
# them would store), LIMIT_STORED=none no response bytes at all (the most a
# smaller record could gain); the default, full, stores what the router does.
#
# BASELINE_BIN=path/to/finroute adds a row "embedded, baseline build": the
# embedded scenario on another build, measured in the same rounds (a means
# measured before and after: build the old commit, copy its binary, pass it).
#
# Each scenario is run REPEATS times, the scenarios interleaved round by
# round (so a slow minute of a shared machine hits all of them), and the
# median run is quoted. Then a soak: SOAK seconds of RouteFinancing on the
# embedded router at CONNS x STREAMS concurrent calls, VmRSS sampled every
# 5 s under load (growth from the first such sample; the router's RSS at
# rest before the soak is shown apart). The final markdown table can be
# pasted into BENCHMARKS.md.
#
#   bash bench/run.sh                           # DURATION=10 REPEATS=3 SOAK=60
#   DURATION=2 REPEATS=1 SOAK=10 bash bench/run.sh   # a quick check
#   SCENARIOS="embedded hung" SOAK=0 bash bench/run.sh
#   PG_URL=postgres://user@host:5432/db bash bench/run.sh   # PG_URL= skips PG
#
# Other settings (environment): CONNS=4 STREAMS=16 THREADS=1 (h2load -c -m
# -t), REPLICA_CONNS=CONNS/2 (each of the two h2load of "replicas"),
# WARMUP=1000 calls per router, DEADLINE_MS=300, PARTNER_TIMEOUT_MS=300,
# ROUTER_LOG=warn (routers' RUST_LOG), CHART=target/bench/latency.svg (the
# latency-percentile chart of every row: p50 ... max, the median of the
# runs at each percentile; CHART= skips it).
#
# Columns: req/s = h2load's "finished in" rate (summed over both h2load for
# replicas); p50/p99 from h2load's per-request log (all requests of the
# run); CPU ms/call = router utime+stime (/proc/PID/stat) over the run
# divided by the calls that succeeded; peak RSS = the router's VmHWM at the
# end (warm-up, all runs; for replicas both processes). Ratio = median
# req/s over Health/Check's median of the same run.
#
# h2load counts a reply as 2xx even when its grpc-status is an error, so
# each routing row is checked against the router's own
# finroute_routes_total{outcome="ok"} (see "checks" in the output).
#
# Needs h2load (Debian: apt-get install nghttp2-client) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
DURATION="${DURATION:-10}"
REPEATS="${REPEATS:-3}"
CONNS="${CONNS:-4}"
STREAMS="${STREAMS:-16}"
THREADS="${THREADS:-1}"
WARMUP="${WARMUP:-1000}"            # calls per router before the first round
SOAK="${SOAK:-60}"                  # seconds, 0 skips
SOAK_EVERY=5
DEADLINE_MS="${DEADLINE_MS:-300}"   # caller deadline of the hung scenario
PARTNER_TIMEOUT_MS="${PARTNER_TIMEOUT_MS:-300}"
PG_URL="${PG_URL-postgres://postgres@127.0.0.1:5432/test}"
REPLICA_CONNS="${REPLICA_CONNS:-$(( CONNS / 2 > 0 ? CONNS / 2 : 1 ))}"
SCENARIOS="${SCENARIOS:-embedded remote3 pg hung replicas}"
LIMITS="${LIMITS:-1}"               # 0: no limit rows
LIMIT_STORED="${LIMIT_STORED:-full}" # the limit rows' stored response: full, basic, none
BASELINE_BIN="${BASELINE_BIN:-}"    # another finroute binary: an embedded row for it
CHART="${CHART:-target/bench/latency.svg}"   # the latency-percentile chart, '' skips
PERCENTILES="50 75 90 95 99 99.5 99.9 99.99 100"

for tool in h2load curl; do
  command -v "$tool" >/dev/null || { echo "$tool missing (h2load: apt-get install nghttp2-client)" >&2; exit 2; }
done
echo "building release (finroute, finroute-bench, partner_bank)..." >&2
cargo build --release -q -p finroute -p finroute-bench -p partner_bank
bin="$root/target/release"
work=$(mktemp -d)

pids=()      # every long-running process started here, killed on exit
loaders=()   # h2load processes running in the background
schemas=()   # PostgreSQL schemas created here, dropped on exit
cleanup() {
  set +e
  for p in "${loaders[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 100); do
    local alive=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  for s in "${schemas[@]}"; do "$bin/finroute-bench" pg drop "$PG_URL" "$s" || echo "could not drop schema $s" >&2; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn NAME "ready text" CMD... : starts CMD in the background, logging to
# $work/NAME.log, waits for the line with the ready text followed by the
# address, and sets ADDR and PID.
spawn() {
  local name=$1 ready=$2 log="$work/$1.log" line=""
  shift 2
  NO_COLOR=1 "$@" 2>"$log" >/dev/null &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 600); do   # 30 s: a PostgreSQL router migrates first
    line=$(grep -m1 "$ready" "$log" || true)
    [ -n "$line" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$line" ]; then
    echo "$name did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  ADDR=$(sed -E "s/.*$ready ([0-9.:]+).*/\1/" <<<"$line")
}

declare -A S_ADDRS S_PIDS S_METRICS S_PATH S_HDR S_CONNS S_LABEL S_SKIP
router_log="${ROUTER_LOG:-warn}"
# router SCENARIO CONFIG [BINARY]: starts one router for the scenario (call
# twice for two replicas).
router() {
  spawn "router-$1-${2##*/}" "finroute ready: listening on" \
    env RUST_LOG="$router_log,finroute_server::server=info" "${3:-$bin/finroute}" serve --config "$2" --listen 127.0.0.1:0
  S_ADDRS[$1]="${S_ADDRS[$1]:-} $ADDR"
  S_PIDS[$1]="${S_PIDS[$1]:-} $PID"
  S_METRICS[$1]="${S_METRICS[$1]:-} $(grep -m1 -o 'metrics=http://[^ ]*' "$work/router-$1-${2##*/}.log" | cut -d= -f2)"
}
# config FILE STORE_URL [ADAPTERS_TOML]: a router config (no adapters
# given: the embedded default's built-in channels).
config() {
  printf '[server]\nmetrics_listen = "127.0.0.1:0"\n\n[store]\nurl = "%s"\n\n%s' "$2" "${3:-}" > "$1"
}
remote() { # id endpoint timeout_ms
  printf '[[adapters]]\nid = "%s"\nkind = "remote"\nendpoint = "%s"\ntimeout_ms = %s\n\n' "$1" "$2" "$3"
}
builtins='[[adapters]]
id = "secured"
kind = "secured"

[[adapters]]
id = "installment"
kind = "installment"

[[adapters]]
id = "partner-sim"
kind = "partner_sim"

'
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }
route_path=finroute.v1.FinancingRouter/RouteFinancing
"$bin/finroute-bench" body route "$work/route.bin"
"$bin/finroute-bench" body health "$work/health.bin"

# --- start everything -------------------------------------------------------
order=(health)
S_LABEL[health]="Health/Check (embedded router, the ceiling)"
config "$work/health.toml" "sqlite://$work/health.db"
router health "$work/health.toml"
S_PATH[health]=grpc.health.v1.Health/Check

if has embedded; then
  order+=(embedded)
  S_LABEL[embedded]="RouteFinancing, embedded (3 built-ins, SQLite)"
  config "$work/embedded.toml" "sqlite://$work/embedded.db"
  router embedded "$work/embedded.toml"
  if [ -n "$BASELINE_BIN" ]; then
    order+=(baseline)
    S_LABEL[baseline]="RouteFinancing, embedded, baseline build"
    config "$work/baseline.toml" "sqlite://$work/baseline.db"
    router baseline "$work/baseline.toml" "$BASELINE_BIN"
  fi
fi

# limit_row NAME LABEL ROUTER_ADDR STORE_URL [PARTNER_URL...]: the bare
# service answering with ROUTER_ADDR's answer to the benchmark's request.
limit_row() {
  local name=$1 label=$2 from=$3 url=$4
  shift 4
  "$bin/finroute-bench" capture "$from" "$work/$name.response"
  spawn "$name" "limit ready: listening on" \
    "$bin/finroute-bench" limit "--stored=$LIMIT_STORED" "$url" "$work/$name.response" "$@"
  order+=("$name")
  S_LABEL[$name]=$label
  S_ADDRS[$name]=" $ADDR"
  S_PIDS[$name]=" $PID"
}
if has embedded || has hung; then
  if [ "$LIMITS" = 1 ]; then
    if has embedded; then from=$(awk '{print $1}' <<<"${S_ADDRS[embedded]}"); else
      config "$work/capture.toml" "sqlite://$work/capture.db"
      router capture "$work/capture.toml"
      from=$ADDR
    fi
    limit_row limit "Limit: decode, record, answer of embedded's size (SQLite)" "$from" "sqlite://$work/limit.db"
  fi
fi

if has remote3; then
  order+=(remote3)
  S_LABEL[remote3]="RouteFinancing, 3 remote partner_bank only (SQLite)"
  adapters=""
  for b in 1 2 3; do
    spawn "partner-bank-$b" "partner bank ready: listening on" \
      env RUST_LOG=warn,partner_bank=info "$bin/partner_bank" --listen 127.0.0.1:0 --bank-id "bank-$b"
    adapters+=$(remote "bank-$b" "http://$ADDR" "$PARTNER_TIMEOUT_MS")$'\n\n'
  done
  config "$work/remote3.toml" "sqlite://$work/remote3.db" "$adapters"
  router remote3 "$work/remote3.toml"
  if [ "$LIMITS" = 1 ]; then
    # shellcheck disable=SC2046
    limit_row limit3 "Limit: bare 3-partner fan-out, record, answer (SQLite)" "$ADDR" "sqlite://$work/limit3.db" \
      $(grep -o 'endpoint = "[^"]*"' "$work/remote3.toml" | cut -d'"' -f2)
  fi
fi

if has hung; then
  order+=(hung)
  S_LABEL[hung]="RouteFinancing, built-ins + 1 hung partner, deadline ${DEADLINE_MS} ms"
  spawn partner-hung "partner hung listening on" "$bin/finroute-bench" partner hung 0
  config "$work/hung.toml" "sqlite://$work/hung.db" "$builtins$(remote bank-hung "http://$ADDR" "$PARTNER_TIMEOUT_MS")"
  router hung "$work/hung.toml"
  S_HDR[hung]="grpc-timeout: ${DEADLINE_MS}m"
fi

pg_ok=""
if has pg || has replicas; then
  if [ -z "$PG_URL" ]; then
    pg_why="skipped: PG_URL is empty"
  else
    base="finroute_bench_$$_$(date +%s)"
    if "$bin/finroute-bench" pg create "$PG_URL" "${base}_pg" > "$work/pg.url" 2> "$work/pg.err"; then
      schemas+=("${base}_pg")
      "$bin/finroute-bench" pg create "$PG_URL" "${base}_replicas" > "$work/replicas.url"
      schemas+=("${base}_replicas")
      "$bin/finroute-bench" pg create "$PG_URL" "${base}_limit" > "$work/limitpg.url"
      schemas+=("${base}_limit")
      pg_ok=1
    else
      pg_why="skipped: PostgreSQL unreachable"
      echo "$pg_why at $PG_URL: $(cat "$work/pg.err")" >&2
    fi
  fi
  for s in pg replicas; do
    has $s || continue
    order+=($s)
    [ -n "$pg_ok" ] || S_SKIP[$s]="$pg_why"
  done
  S_LABEL[pg]="RouteFinancing, PostgreSQL (3 built-ins)"
  S_LABEL[replicas]="RouteFinancing, 2 replicas on one PostgreSQL (summed)"
  if [ -n "$pg_ok" ]; then
    if has pg; then
      config "$work/pg.toml" "$(cat "$work/pg.url")"
      router pg "$work/pg.toml"
      [ "$LIMITS" = 1 ] && limit_row limitpg "Limit: decode, record, answer (PostgreSQL)" "$ADDR" "$(cat "$work/limitpg.url")"
    fi
    if has replicas; then
      config "$work/replica-1.toml" "$(cat "$work/replicas.url")"
      config "$work/replica-2.toml" "$(cat "$work/replicas.url")"
      router replicas "$work/replica-1.toml"   # migrates the schema
      router replicas "$work/replica-2.toml"
      S_CONNS[replicas]=$REPLICA_CONNS
    fi
  fi
fi

# The table's order, whatever the order of starting.
sorted=()
for s in health limit embedded baseline limit3 remote3 limitpg pg hung replicas; do
  [[ " ${order[*]} " == *" $s "* ]] && sorted+=("$s")
done
order=("${sorted[@]}")

# --- load ---------------------------------------------------------------------
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
hz=$(getconf CLK_TCK)
# group N: N rounded, thousands separated by spaces (as in BENCHMARKS.md).
group() { awk -v n="$1" 'BEGIN { n = sprintf("%.0f", n); s = ""; while (length(n) > 3) { s = " " substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } print n s }'; }

# load SCENARIO OUT MODE...: h2load against every router of the scenario at
# once (MODE: -D seconds or -n calls); output in OUT.N.txt, log in OUT.N.log.
load() {
  local s=$1 out=$2 i=0 addr body="$work/route.bin" path=${S_PATH[$1]:-$route_path}
  shift 2
  [ "$s" = health ] && body="$work/health.bin"
  local extra=()
  [ -n "${S_HDR[$s]:-}" ] && extra=(-H "${S_HDR[$s]}")
  loaders=()
  for addr in ${S_ADDRS[$s]}; do
    i=$((i + 1))
    h2load "$@" -c "${S_CONNS[$s]:-$CONNS}" -m "$STREAMS" -t "$THREADS" --log-file="$out.$i.log" \
      -H 'content-type: application/grpc' -H 'te: trailers' "${extra[@]}" \
      -d "$body" "http://$addr/$path" > "$out.$i.txt" 2>&1 &
    loaders+=($!)
  done
  [ "${LOAD_WAIT:-1}" = 1 ] || return 0
  local p
  for p in "${loaders[@]}"; do wait "$p" || true; done
  loaders=()
}

# One measured run of a scenario: appends "rps calls non2xx p50 p99 max late
# cpu_ms_per_call" to $work/res.SCENARIO and prints a progress line.
run_once() {
  local s=$1 out="$work/run.$1"
  rm -f "$out".*
  # shellcheck disable=SC2086
  local before; before=$(ticks ${S_PIDS[$s]})
  load "$s" "$out" -D "$DURATION"
  # shellcheck disable=SC2086
  local after; after=$(ticks ${S_PIDS[$s]})
  local rps calls non2xx
  rps=$(cat "$out".*.txt | awk '/finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) { gsub(",", "", $(i-1)); t += $(i-1) } } END { printf "%.0f", t }')
  calls=$(cat "$out".*.txt | awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($i ~ /^succeeded/) t += $(i-1) } END { print t + 0 }')
  # h2load's "failed" counts non-2xx replies, errors and timeouts.
  non2xx=$(cat "$out".*.txt | awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($i ~ /^failed/) t += $(i-1) } END { print t + 0 }')
  local lat
  # log: start (us since epoch), HTTP status, response time (us)
  cat "$out".*.log | awk '{ print $3 / 1000 }' | sort -g > "$out.sorted"
  lat=$(awk -v d="$DEADLINE_MS" '
    { t[NR] = $1; if ($1 > d) late++ }
    END { if (NR == 0) { print "0 0 0 0"; exit }
          i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
          i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
          printf "%.2f %.2f %.1f %d", t[i50], t[i99], t[NR], late }' "$out.sorted")
  # The latency at each of PERCENTILES, for the chart (one line per run).
  awk -v ps="$PERCENTILES" '
    { t[NR] = $1 }
    END { n = split(ps, p, " "); line = ""
          for (k = 1; k <= n; k++) { i = int(NR * p[k] / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR
                                     line = line (k > 1 ? " " : "") (NR ? t[i] : 0) }
          print line }' "$out.sorted" >> "$work/pct.$s"
  local cpu
  cpu=$(awk -v d=$((after - before)) -v hz="$hz" -v n="$calls" 'BEGIN { printf "%.4f", n ? d * 1000 / hz / n : 0 }')
  read -r p50 p99 max late <<<"$lat"
  echo "$rps $calls $non2xx $p50 $p99 $max $late $cpu" >> "$work/res.$s"
  echo "$calls" >> "$work/calls.$s"
  printf '  %-9s %8s req/s  p50 %7s ms  p99 %7s ms  max %7s ms  CPU %s ms/call  failed %s\n' \
    "$s" "$rps" "$p50" "$p99" "$max" "$cpu" "$non2xx" >&2
}

loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "warming up ($WARMUP calls per router)..." >&2
for s in "${order[@]}"; do
  [ -z "${S_SKIP[$s]:-}" ] || continue
  load "$s" "$work/warm.$s" -n "$WARMUP"
  cat "$work/warm.$s".*.txt | awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($i ~ /^succeeded/) t += $(i-1) } END { print t + 0 }' >> "$work/calls.$s"
done
for r in $(seq "$REPEATS"); do
  echo "round $r/$REPEATS (h2load -D $DURATION -c $CONNS -m $STREAMS -t $THREADS)" >&2
  for s in "${order[@]}"; do
    [ -z "${S_SKIP[$s]:-}" ] || continue
    run_once "$s"
  done
done

# --- soak ---------------------------------------------------------------------
soak_line=""
if [ "$SOAK" -gt 0 ] && has embedded; then
  echo "soak: ${SOAK} s of RouteFinancing on the embedded router, VmRSS every ${SOAK_EVERY} s..." >&2
  pid=$(awk '{print $1}' <<<"${S_PIDS[embedded]}")
  rss() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
  # Growth is counted from the first sample under load (5 s in), not from
  # the router at rest before it, which is shown apart.
  idle_rss=$(rss)
  samples=()
  LOAD_WAIT=0 load embedded "$work/soak" -D "$SOAK"
  for _ in $(seq $((SOAK / SOAK_EVERY))); do
    sleep "$SOAK_EVERY"
    samples+=("$(rss)")
  done
  for p in "${loaders[@]}"; do wait "$p" || true; done
  loaders=()
  soak_rps=$(group "$(awk '/finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) { gsub(",", "", $(i-1)); print $(i-1) } }' "$work/soak.1.txt")")
  soak_stats=$(printf '%s\n' "${samples[@]}" | awk 'NR == 1 { f = $1 } { l = $1; if ($1 > m) m = $1 } END { printf "first %.1f, last %.1f, max %.1f MB (growth %+.1f %%)", f, l, m, f ? (l - f) * 100 / f : 0 }')
  soak_line="soak, embedded, ${SOAK} s at $((CONNS * STREAMS)) concurrent calls: ${soak_rps} req/s; VmRSS under load $soak_stats; samples every ${SOAK_EVERY} s: ${samples[*]}; at rest before: $idle_rss MB"
  cat "$work/soak.1.txt" | awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($i ~ /^succeeded/) t += $(i-1) } END { print t + 0 }' >> "$work/calls.embedded"
fi

# --- report -------------------------------------------------------------------
# median COLUMN FILE: the median of one column of a results file.
median() { awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
peak_mb() { local p out=""; for p in "$@"; do out+="${out:+ + }$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$p/status")"; done; echo "$out"; }
# chart_svg ROWS PERCENTILES TITLE: an SVG line chart, one line per row
# ("label|ms at p1|ms at p2|..."), percentiles evenly spaced on x, latency
# on a log10 y axis from 0.1 ms; plain SVG, no script, no external font.
chart_svg() {
  awk -F'|' -v ps="$2" -v title="$3" '
    function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
    function y(ms) { if (ms < 0.1) ms = 0.1; return top + h - (log(ms) / log(10) + 1) / (lmax + 1) * h }
    { label[NR] = $1; for (k = 2; k <= NF; k++) { v[NR, k - 1] = $k; if ($k > max) max = $k } cols = NF - 1 }
    END {
      split(ps, p, " "); left = 70; top = 40; w = 640; h = 320
      lmax = 1; while (10 ^ lmax < max) lmax++
      ncolor = split("#1f5fbf #c62828 #2e7d32 #ef6c00 #6a1b9a #00838f #5d4037 #f9a825 #9e9e9e #ad1457", color, " ")
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", left + w + 30, top + h + 60 + NR * 20
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"%d\" y=\"20\" font-size=\"13\">%s</text>\n", left, esc(title)
      for (e = -1; e <= lmax; e++) {
        yy = y(10 ^ e)
        printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, yy, left + w, yy
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s ms</text>\n", left - 6, yy + 4, (e < 0 ? "0.1" : 10 ^ e)
      }
      for (k = 1; k <= cols; k++) {
        xx = left + (k - 1) * w / (cols - 1)
        printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", xx, top, xx, top + h
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", xx, top + h + 18, (p[k] == 100 ? "max" : "p" p[k])
      }
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile of calls</text>\n", left + w / 2, top + h + 40
      for (r = 1; r <= NR; r++) {
        pts = ""
        for (k = 1; k <= cols; k++) pts = pts sprintf("%.1f,%.1f ", left + (k - 1) * w / (cols - 1), y(v[r, k]))
        c = color[(r - 1) % ncolor + 1]
        printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", c, pts
        printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", left, top + h + 52 + (r - 1) * 20, c
        printf "<text x=\"%d\" y=\"%d\">%s</text>\n", left + 18, top + h + 63 + (r - 1) * 20, esc(label[r])
      }
      print "</svg>"
    }' "$1"
}

metric() { # URL NAME-AND-LABELS -> value
  curl -s "$1" | awk -v k="$2" 'index($0, k) == 1 { print $2 }' | awk '{ t += $1 } END { print t + 0 }'
}

health_rps=""
[ -s "$work/res.health" ] && health_rps=$(median 1 "$work/res.health")
echo
echo "### bench/run.sh, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates examples 2>/dev/null || echo '+changes')"
echo
echo "h2load -D $DURATION -c $CONNS -m $STREAMS -t $THREADS ($((CONNS * STREAMS)) concurrent calls; replicas: -c $REPLICA_CONNS on each), $REPEATS run(s) per scenario, interleaved, median quoted; $(nproc) cores, load average $loadavg at the start."
echo
# The limit row each routed row is measured against.
declare -A LIMIT_OF=([embedded]=limit [baseline]=limit [hung]=limit [remote3]=limit3 [pg]=limitpg [replicas]=limitpg)
# val SCENARIO COLUMN: the median of a column, or empty when the row did not run.
val() { [ -z "${S_SKIP[$1]:-}" ] && [ -s "$work/res.$1" ] && median "$2" "$work/res.$1" || true; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print ""; else printf f, a / b }'; }
health_cpu=$(val health 8)
echo "| scenario | req/s median (runs) | ratio to Health | ratio to its limit | p50 ms | p99 ms | CPU ms/call | CPU x Health | CPU x its limit | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for s in "${order[@]}"; do
  if [ -n "${S_SKIP[$s]:-}" ]; then
    echo "| ${S_LABEL[$s]} | ${S_SKIP[$s]} | | | | | | | | |"
    continue
  fi
  f="$work/res.$s"
  m=$(median 1 "$f")
  cpu=$(median 8 "$f")
  runs=$(awk '{ print $1 }' "$f" | while read -r v; do group "$v"; done | paste -sd, | sed 's/,/, /g')
  ratio=$(awk -v a="$m" -v b="$health_rps" 'BEGIN { printf "%.3f", b ? a / b : 0 }')
  lim=${LIMIT_OF[$s]:-}
  to_limit="" cpu_limit=""
  if [ -n "$lim" ] && [ -n "$(val "$lim" 1)" ]; then
    to_limit=$(div "$m" "$(val "$lim" 1)" "%.3f")
    cpu_limit=$(div "$cpu" "$(val "$lim" 8)" "%.2f")
  fi
  # shellcheck disable=SC2086
  echo "| ${S_LABEL[$s]} | $(group "$m") ($runs) | $ratio | $to_limit | $(printf '%.2f' "$(median 4 "$f")") | $(printf '%.2f' "$(median 5 "$f")") | $(awk -v v="$cpu" 'BEGIN { printf "%.3f", v }') | $(div "$cpu" "$health_cpu" "%.1f") | $cpu_limit | $(peak_mb ${S_PIDS[$s]}) |"
done
echo
# target LABEL VALUE OP BOUND: one line of the targets list.
target() {
  if [ -z "$2" ]; then echo "- $1: not measured (row not run)"; return; fi
  local ok
  ok=$(awk -v v="$2" -v b="$4" -v op="$3" 'BEGIN { print ((op == ">=" && v >= b) || (op == "<=" && v <= b)) ? "met" : "NOT met" }')
  echo "- $1: $2 (target $3 $4): $ok"
}
echo "targets (issue 21; medians of this run):"
target "embedded throughput / its limit's" "$(div "$(val embedded 1)" "$(val limit 1)" "%.3f")" ">=" 0.60
target "embedded router CPU per call / Health/Check's" "$(div "$(val embedded 8)" "$health_cpu" "%.1f")" "<=" 6
target "3 remote partners throughput / the bare fan-out's" "$(div "$(val remote3 1)" "$(val limit3 1)" "%.3f")" ">=" 0.60
target "PostgreSQL throughput / embedded's" "$(div "$(val pg 1)" "$(val embedded 1)" "%.3f")" ">=" 0.80
target "embedded p99 ms at $((CONNS * STREAMS)) concurrent calls" "$(val embedded 5)" "<=" 10
for s in embedded remote3 pg hung; do
  [ -n "$(val "$s" 1)" ] || continue
  # shellcheck disable=SC2086
  target "$s peak RSS MB" "$(peak_mb ${S_PIDS[$s]})" "<=" 64
done
echo
if [ -s "$work/res.hung" ]; then
  f="$work/res.hung"
  keep=""
  [ -s "$work/res.embedded" ] && keep=$(awk -v a="$(median 1 "$f")" -v b="$(median 1 "$work/res.embedded")" 'BEGIN { printf "; %.0f %% of the embedded throughput (healthy path kept: %s)", a * 100 / b, (a >= 0.9 * b) ? "yes" : "no, below 90 %" }')
  echo "hung partner, caller deadline ${DEADLINE_MS} ms: p50 $(median 4 "$f") ms, p99 $(median 5 "$f") ms, max $(median 6 "$f") ms (medians over runs), calls over the deadline per run: $(awk '{ print $7 }' "$f" | paste -sd, | sed 's/,/, /g')$keep; circuit opened $(grep -c 'circuit opened' "$work"/router-hung-*.log || true) time(s)."
fi
[ -n "$soak_line" ] && echo "$soak_line"
if [ -n "$CHART" ]; then
  mkdir -p "$(dirname "$CHART")"
  # Per scenario, the median over runs of the latency at each percentile.
  for s in "${order[@]}"; do
    [ -z "${S_SKIP[$s]:-}" ] && [ -s "$work/pct.$s" ] || continue
    n=$(awk '{ print NF; exit }' "$work/pct.$s")
    row="${S_LABEL[$s]}"
    for k in $(seq "$n"); do row+="|$(median "$k" "$work/pct.$s")"; done
    echo "$row"
  done > "$work/chart.rows"
  chart_svg "$work/chart.rows" "$PERCENTILES" \
    "bench/run.sh $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD): latency by percentile, median of $REPEATS run(s), $((CONNS * STREAMS)) concurrent calls" > "$CHART"
  echo
  echo "latency-percentile chart: $CHART"
fi
echo
echo "checks (h2load counts a 2xx even when grpc-status is an error; the router's own counters):"
for s in "${order[@]}"; do
  [ -z "${S_SKIP[$s]:-}" ] || continue
  non2xx=$(awk '{ t += $3 } END { print t + 0 }' "$work/res.$s")
  sent=$(awk '{ t += $1 } END { print t + 0 }' "$work/calls.$s")
  if [ "$s" = health ]; then
    echo "- $s: h2load succeeded $sent, failed $non2xx"
    continue
  fi
  if [[ $s == limit* ]]; then
    errs=$(grep -c 'limit call failed' "$work/$s.log" || true)
    verdict="all OK"
    [ "$errs" = 0 ] && [ "$non2xx" = 0 ] || verdict="MISMATCH"
    echo "- $s: $verdict: h2load succeeded $sent, failed $non2xx; calls that failed (limit's log): $errs"
    continue
  fi
  ok=0; bad=""; chans=""
  for url in ${S_METRICS[$s]}; do
    ok=$((ok + $(metric "$url" 'finroute_routes_total{outcome="ok"}')))
    bad+=$(curl -s "$url" | awk '/^finroute_routes_total/ && !/outcome="ok"/ && $2 > 0 { printf " %s", $0 }')
    chans+=$(curl -s "$url" | awk '/^finroute_channel_calls_total/ && $2 > 0 { sub(/finroute_channel_calls_total/, ""); printf " %s", $0 }
      /^finroute_channel_offers_rejected_total/ && $2 > 0 { sub(/finroute_channel_offers_rejected_total/, "rejected"); printf " %s", $0 }')
  done
  verdict="all OK"
  [ "$ok" -ge "$sent" ] && [ "$non2xx" = 0 ] || verdict="MISMATCH"
  echo "- $s: $verdict: h2load succeeded $sent, router routes ok $ok, h2load failed $non2xx;${bad:+ other outcomes:$bad;} channels:$chans"
done

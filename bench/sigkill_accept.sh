#!/usr/bin/env bash
# The SIGKILL acceptance loop at full size (issue 14, fault matrix (a)):
# crates/finroute/tests/sigkill_loop.rs, release build, ACCEPTS
# acceptances per backend, each on a fresh offer with its own idempotency
# key, while the router process is SIGKILLed every 0.5-1 s (at random) and
# restarted on the same store. The partner is a fake in the test process.
# Runs SQLite, then PostgreSQL (one at a time, each with both cores), and
# prints per backend: accepted, lost, doubled, stuck, kills, elapsed.
# Exits non-zero if any key was lost, doubled or stuck (the test's asserts).
#
#   bash bench/sigkill_accept.sh                    # ACCEPTS=200, both backends
#   ACCEPTS=50 bash bench/sigkill_accept.sh
#   PG_URL= bash bench/sigkill_accept.sh            # SQLite only
#   SEED=123 bash bench/sigkill_accept.sh           # replay the kill times
#
# PG_URL defaults to postgres://postgres@127.0.0.1:5432/test (each run
# uses a fresh schema, dropped at the end). The test suite runs the same
# loop at FINROUTE_SIGKILL_ACCEPTS=20 (its default).
set -euo pipefail
cd "$(dirname "$0")/.."
ACCEPTS="${ACCEPTS:-200}"
PG_URL="${PG_URL-postgres://postgres@127.0.0.1:5432/test}"

cargo test --release -q -p finroute --test sigkill_loop --no-run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
run() { # backend test-name [database url]
  local backend=$1 name=$2
  echo "== $backend: $ACCEPTS acceptances under SIGKILL"
  if ! env -u FINROUTE_TEST_DATABASE_URL ${3:+FINROUTE_TEST_DATABASE_URL="$3"} \
      FINROUTE_SIGKILL_ACCEPTS="$ACCEPTS" ${SEED:+FINROUTE_SIGKILL_SEED="$SEED"} \
      cargo test --release -q -p finroute --test sigkill_loop -- --exact "$name" --nocapture \
      > "$work/$backend.txt" 2>&1; then
    status=1
    tail -n 40 "$work/$backend.txt"
  fi
  grep -h "^sigkill loop" "$work/$backend.txt" || echo "sigkill loop ($backend): no summary line"
}
run sqlite sigkill_every_half_second_accepts_each_key_once_on_sqlite
if [ -n "$PG_URL" ]; then
  run postgres sigkill_every_half_second_accepts_each_key_once_on_postgres "$PG_URL"
fi

echo
echo "| backend | accepted | lost | doubled | stuck | kills | elapsed |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
cat "$work"/*.txt | grep -h "^sigkill loop" | sed -E \
  's/^sigkill loop \(([a-z]+)\): accepted ([0-9/]+), lost ([0-9]+), doubled ([0-9]+), stuck ([0-9]+),.* kills ([0-9]+), elapsed ([0-9.]+) s.*/| \1 | \2 | \3 | \4 | \5 | \6 | \7 s |/'
exit "$status"

#!/usr/bin/env bash
# The Python partner against finroute check-adapter, as CI runs it:
# a venv with requirements.txt, the partner started on a free port (stubs
# generated from proto/ at start), check-adapter run against it. Exits with
# check-adapter's code (0: every check passed). The partner is stopped on
# any exit.
#
# The binary is the argument, else $CARGO_TARGET_DIR/debug/finroute (where
# cargo builds it when CARGO_TARGET_DIR is set; a relative one is taken
# from the repository root, as cargo does), else target/debug/finroute.
#
#   cargo build -p finroute && bash examples/python_partner/check.sh
#   bash examples/python_partner/check.sh path/to/finroute
#   VENV=/tmp/pyvenv bash examples/python_partner/check.sh   # reuse a venv
set -euo pipefail
cd "$(dirname "$0")/../.."
finroute="${1:-${CARGO_TARGET_DIR:-target}/debug/finroute}"
[ -x "$finroute" ] || { echo "no $finroute: build it first (cargo build -p finroute)" >&2; exit 2; }

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

venv="${VENV:-$work/venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r examples/python_partner/requirements.txt

"$venv/bin/python" examples/python_partner/partner.py --listen 127.0.0.1:0 \
  >"$work/partner.out" 2>"$work/partner.log" &
pid=$!
addr=
for _ in $(seq 300); do # up to 30 s for stub generation and start
  addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/partner.out" | head -1)
  [ -n "$addr" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "python partner exited before it was ready:" >&2; cat "$work/partner.log" >&2; exit 1
  fi
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "python partner not ready after 30 s:" >&2; cat "$work/partner.log" >&2; exit 1
fi
# The ready line comes after the port is bound; wait until it accepts too.
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null && break
  sleep 0.1
done
status=0
"$finroute" check-adapter --endpoint "http://$addr" || status=$?
if [ "$status" -ne 0 ]; then
  echo "python partner log:" >&2; cat "$work/partner.log" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Checks edged's logging against a real systemd-journald (run as root; no
# systemd as PID 1 needed): starts journald on /run/systemd/journal, runs
# edged with its stderr on the journal's stream socket and JOURNAL_STREAM
# naming it (as systemd does for a service), then asks journalctl:
#   - a warning (an MQTT source whose broker refuses) shows at -p warning
#     with the DEVICE= and SOURCE= fields;
#   - a fatal configuration error shows at -p err.
# Usage: scripts/journal-check.sh   (make journal-check)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "journal-check: run as root (journald writes /run/systemd/journal)" >&2; exit 1; }
jd=$(command -v systemd-journald || echo /lib/systemd/systemd-journald)
[ -x "$jd" ] || { echo "journal-check: systemd-journald not found (apt-get install systemd)" >&2; exit 1; }
if [ -S /run/systemd/journal/socket ] && [ -d /run/systemd/system ]; then
  echo "journal-check: this machine runs systemd; install the package and use journalctl -u edged instead" >&2; exit 1
fi
work=$(mktemp -d)
trap 'kill "$jpid" 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/edged" ./cmd/edged
mkdir -p /run/systemd/journal /run/log/journal
"$jd" >"$work/journald.log" 2>&1 & jpid=$!
for _ in $(seq 50); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done
id=edged                     # edged names itself so in native records
since=$(date +%s)
cat >"$work/stream.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/systemd/journal/stdout")
s.sendall((sys.argv[1] + "\nedged.service\n6\n1\n0\n0\n0\n").encode())
st = os.fstat(s.fileno())
os.dup2(s.fileno(), 1); os.dup2(s.fileno(), 2)
os.execve(sys.argv[2], sys.argv[2:], dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino)))
PY
cat >"$work/warn.yaml" <<YAML
version: 1
state_dir: $work/state
http: {listen: "127.0.0.1:0"}
models:
  - {name: person_detect, path: $PWD/testdata/models/person_detect.tflite}
sources:
  - name: mic0
    type: mqtt
    model: person_detect
    mqtt: {broker: "tcp://127.0.0.1:1", topic: sensors/+/in, result_topic: "edged/results/{topic}"}
YAML
printf 'version: 1\nstate_dir: %s/state2\nhttp: {listen: "no-port"}\n' "$work" >"$work/bad.yaml"
timeout -s INT 5 python3 "$work/stream.py" "$id" "$work/edged" --config "$work/warn.yaml" || true
python3 "$work/stream.py" "$id" "$work/edged" --config "$work/bad.yaml" && { echo "journal-check: edged accepted a bad configuration" >&2; exit 1; }
sleep 1
fail=0
warn=$(journalctl --no-pager --since "@$since" -p warning -t "$id" -o verbose)
for want in 'PRIORITY=4' 'SOURCE=mic0' 'DEVICE=' 'cannot connect'; do
  if ! grep -q "$want" <<<"$warn"; then echo "journal-check: FAIL: no $want in the warnings (-p warning)" >&2; fail=1; fi
done
if ! journalctl --no-pager --since "@$since" -p err -t "$id" | grep -q 'http.listen'; then
  echo "journal-check: FAIL: the fatal configuration error is not at -p err" >&2; fail=1
fi
if journalctl --no-pager --since "@$since" -p warning -t "$id" | grep -q 'level=INFO'; then
  echo "journal-check: FAIL: info lines reach -p warning" >&2; fail=1
fi
journalctl --no-pager --since "@$since" -t "$id" | tail -n 20
[ $fail = 0 ] && echo "journal-check: ok (journalctl -p warning and -p err show edged's warnings and errors with their fields)"
exit $fail

#!/usr/bin/env bash
# The HTTP API against its own OpenAPI document: schemathesis generates
# requests from /openapi.json of a live `sonica serve` and runs every check
# (server errors, undocumented statuses, response schemas and headers,
# schema-valid requests refused, schema-breaking requests accepted, 405s
# without Allow, stateful links, auth) against the answers.
#
#   benches/api-fuzz.sh [--release] [--max-examples N] [--seed N] [--timeout S] [--workers N]
#
# Defaults: debug build, --max-examples 1200 (per operation and phase; over
# 20 000 requests), --seed 1, --timeout 1500 s for schemathesis, 1 worker
# (more trip a race in the Python AST use of hypothesis).
# SONICA_ST_VENV (default /opt/st) is the virtual environment schemathesis
# runs from, outside the repository; it is created and schemathesis
# (SONICA_ST_VERSION, default 4.32.5) installed there when missing.
#
# The server runs on a temporary data dir and songs dir, on a free loopback
# port, with the rate limit off (every request comes from one address) and
# an API key `k` that schemathesis sends. One small generated WAV is
# uploaded first so that track ids exist. The run stops by itself: the
# examples are bounded and schemathesis runs under `timeout`.
#
# What the document cannot say is told to schemathesis here, nothing more:
# whether uploaded bytes are decodable audio (routes that take audio may
# answer 400 empty_file, 415 or 422 to a schema-valid body), rules across
# two fields (tempo_min <= tempo_max, start_s < end_s: such cases are not
# generated), and whether a section lies inside the track and has drum hits
# (pattern.mid may answer 400 bad_range or 422).
#
# GET /ws/stream is left out: schemathesis speaks plain HTTP, and a valid
# handshake (which the document describes) turns its connection into a
# WebSocket that it then reuses for the next request. The stream has its
# own tests (tests/integration/service_stream.rs).
#
# Prints a table: requests (as schemathesis recorded them, and as the
# server counted them in /metrics), failures by check, 5xx answers, and
# whether /health still answers after the run. Exits 1 on any failure, any
# 5xx, or a dead server.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
max_examples=1200
seed=1
st_timeout=1500
workers=1
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --max-examples) max_examples="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --timeout) st_timeout="$2"; shift ;;
    --workers) workers="$2"; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

venv="${SONICA_ST_VENV:-/opt/st}"
st_version="${SONICA_ST_VERSION:-4.32.5}"
if [ ! -x "$venv/bin/st" ]; then
  echo "installing schemathesis $st_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$st_version"
fi

if [ "$profile" = release ]; then
  cargo build --release --bin sonica 2>&1 | tail -1
else
  cargo build --bin sonica 2>&1 | tail -1
fi
bin="./target/$profile/sonica"

tmp="$(mktemp -d)"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

SONICA_LOG=warn "$bin" --data-dir "$tmp/data" serve --bind 127.0.0.1:0 --songs-dir "$tmp/songs" \
  --rate-limit 0 --api-keys k --http-workers 2 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do grep -q '^listening on ' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$tmp/out" | head -1)"
[ -n "$url" ] || { echo "the server did not start:"; cat "$tmp/err"; exit 1; }
echo "server pid $pid at $url"

# One small WAV (6 s of tones and clicks), so ids, analysis and links exist.
python3 - "$tmp/a.wav" <<'EOF'
import math, random, struct, sys, wave
rate, n = 8000, 8000 * 6
random.seed(1)
frames = bytearray()
for i in range(n):
    t = i / rate
    v = 0.3 * math.sin(2 * math.pi * (220 + 110 * (int(t * 4) % 5)) * t)
    v += 0.2 * math.sin(2 * math.pi * 880 * t) * (int(t * 8) % 2)
    v += 0.05 * (random.random() - 0.5)
    frames += struct.pack('<h', int(max(-1.0, min(1.0, v)) * 32000))
with wave.open(sys.argv[1], 'wb') as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(bytes(frames))
EOF
curl -sf -H "Authorization: Bearer k" -F "file=@$tmp/a.wav" "$url/tracks" >/dev/null
for _ in $(seq 300); do
  curl -sf "$url/tracks/1" | grep -q '"status":"READY"' && break
  sleep 0.1
done

metric_sum() { # total of sonica_http_requests_total, or of its 5xx series with "5"
  curl -sf "$url/metrics" | awk -v five="${1:-}" '
    /^sonica_http_requests_total\{/ {
      if (five == "" || $0 ~ /status="5/) s += $NF
    }
    END { printf "%d\n", s }'
}
before="$(metric_sum)"

cat >"$tmp/schemathesis.toml" <<'EOF'
# Rejections the document cannot express (see the header of api-fuzz.sh).
[[operations]]
include-name-regex = "^POST /(tracks|upload|recognize|analyze|search|search/similar)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", "400", "415", "422"]

[[operations]]
include-name = "GET /tracks/{id}/pattern.mid"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", "400", "422"]
EOF
cat >"$tmp/hooks.py" <<'EOF'
# Rules across two fields, which JSON Schema cannot state: cases that break
# them are not generated (the server answers them 400 invalid_parameter).
import schemathesis


def _num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x == x else None


def _fine(d):
    if not isinstance(d, dict):
        return True
    fields = dict(d)
    if isinstance(fields.get("filters"), dict):
        fields.update(fields["filters"])
    lo, hi = _num(fields.get("tempo_min")), _num(fields.get("tempo_max"))
    if lo is not None and hi is not None and lo > hi:
        return False
    s, e = _num(fields.get("start_s")), _num(fields.get("end_s"))
    if s is not None and e is not None and e <= s:
        return False
    return True


@schemathesis.hook
def filter_case(ctx, case):
    return _fine(case.query) and _fine(case.body)
EOF

echo "schemathesis $("$venv/bin/st" --version | awk '{print $NF}'): --max-examples $max_examples --seed $seed, timeout ${st_timeout}s"
set +e
# From inside $tmp: schemathesis keeps a .schemathesis/ cache in its working folder.
(cd "$tmp" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$tmp" timeout "$st_timeout" "$venv/bin/st" --config-file "$tmp/schemathesis.toml" \
  run "$url/openapi.json" --checks all -H "Authorization: Bearer k" \
  --max-examples "$max_examples" --seed "$seed" --workers "$workers" --request-timeout 30 \
  --generation-with-security-parameters false --generation-database none --exclude-path /ws/stream \
  --output-sanitize false --no-color --report ndjson --report-ndjson-path "$tmp/run.ndjson" \
  >"$tmp/st.txt" 2>&1)
st_rc=$?
set -e
[ "$st_rc" = 124 ] && echo "schemathesis ran past ${st_timeout}s and was stopped"

alive=no
curl -sf -m 10 "$url/health" | grep -q '"status":"ok"' && kill -0 "$pid" 2>/dev/null && alive=yes
after="$(metric_sum)"
server_5xx="$(metric_sum 5)"

# Failures as schemathesis summarises them, and what its report recorded.
grep -aE '^  ❌ ST[0-9]+|^  🚫 |generated, |^Seed: ' "$tmp/st.txt" >"$tmp/summary" || true
python3 - "$tmp/run.ndjson" >"$tmp/counts" <<'EOF'
import json, sys
requests = fivexx = 0
try:
    for line in open(sys.argv[1]):
        ev = json.loads(line)
        fin = ev.get("ScenarioFinished")
        if not fin:
            continue
        for it in (fin.get("recorder", {}).get("interactions") or {}).values():
            requests += 1
            r = it.get("response") or {}
            if r.get("status_code", 0) >= 500:
                fivexx += 1
except FileNotFoundError:
    pass
print(requests, fivexx)
EOF
read -r st_requests st_5xx <"$tmp/counts"

kept="${SONICA_FUZZ_OUT:-target/api-fuzz}"
mkdir -p "$kept"
cp "$tmp/st.txt" "$kept/schemathesis.txt"
cp "$tmp/run.ndjson" "$kept/run.ndjson" 2>/dev/null || true

failures=0
echo
echo "| what | value |"
echo "| --- | --- |"
echo "| requests (schemathesis report) | $st_requests |"
echo "| requests (server /metrics) | $((after - before)) |"
if grep -q '❌ ST' "$tmp/summary"; then
  while read -r line; do
    code="$(echo "$line" | grep -oE 'ST[0-9]+')"
    n="${line##*: }"
    name="$(echo "$line" | sed -E 's/^ *❌ ST[0-9]+ //; s/: [0-9]+$//')"
    echo "| failures $code $name | $n |"
    failures=$((failures + n))
  done < <(grep '❌ ST' "$tmp/summary")
else
  echo "| failures | 0 |"
fi
errors="$(grep -c '^  🚫 ' "$tmp/summary" || true)"
echo "| schemathesis errors | $errors |"
echo "| 5xx (report / server) | $st_5xx / $server_5xx |"
echo "| server alive after | $alive |"
echo "| schemathesis exit | $st_rc |"
grep -E 'generated, ' "$tmp/summary" | sed 's/^ */cases: /' || true
echo "full output: $kept/schemathesis.txt"

[ "$failures" = 0 ] && [ "$errors" = 0 ] && [ "$st_5xx" = 0 ] && [ "$server_5xx" = 0 ] && [ "$alive" = yes ]

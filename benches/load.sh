#!/usr/bin/env bash
# Load test of POST /recognize on a real server over loopback.
#
#   SONICA_LOAD_DB=/path/to/data-dir SONICA_LOAD_CLIPS=/path/to/clips benches/load.sh
#
# SONICA_LOAD_DB: a data dir holding a library (made by `sonica ingest`).
# SONICA_LOAD_CLIPS: a folder of clips, or a file listing clip paths.
# SONICA_LOAD_CONNS (64) and SONICA_LOAD_SECS (60) shape the run.
# SONICA_LOAD_BIN (target/release/sonica) is the server binary: another
# build, for old-against-new runs.
# The server runs with the per-client rate limit off (every request comes
# from one address here) and the folder watcher off.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SONICA_LOAD_DB:?set SONICA_LOAD_DB to a data dir with a library}"
: "${SONICA_LOAD_CLIPS:?set SONICA_LOAD_CLIPS to a clip folder or list}"
cargo build --release --bin sonica 2>&1 | tail -1
cargo bench --bench load --no-run 2>&1 | tail -1
tmp="$(mktemp -d)"
trap 'kill -TERM ${pid:-0} 2>/dev/null || true; rm -rf "$tmp"' EXIT
"${SONICA_LOAD_BIN:-./target/release/sonica}" --data-dir "$SONICA_LOAD_DB" serve --bind 127.0.0.1:0 \
  --songs-dir "$tmp/songs" --rate-limit 0 --watch false >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$tmp/out" | head -1)"
echo "server pid $pid at $url; $(nproc) cores; clips: $SONICA_LOAD_CLIPS"
SONICA_LOAD_URL="$url" SONICA_LOAD_PID="$pid" cargo bench --bench load 2>/dev/null
kill -TERM "$pid"
wait "$pid" || true

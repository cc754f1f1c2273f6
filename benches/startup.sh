#!/usr/bin/env bash
# Startup time and memory at ~1000 tracks: the reference corpus is ingested
# several times under other names (symlinked folders), then one process opens
# the store and answers one query; wall time and peak RSS are reported.
#
#   benches/startup.sh [COPIES]       default 10 copies (~1000-1200 tracks)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${SONICA_CORPUS:-$HOME/.cache/sonica-corpus}"
queries="${SONICA_QUERIES:-$HOME/.cache/sonica-queries}"
db="${SONICA_STARTUP_DB:-$HOME/.cache/sonica-startup-db}"
copies="${1:-10}"
(cd "$here" && cargo build --release --quiet)
sonica="$here/target/release/sonica"
[[ -f "$queries/reference.txt" ]] || { echo "run benches/corpus-eval.sh first" >&2; exit 1; }
links="$(dirname "$db")/sonica-startup-links"
mkdir -p "$links"
if [[ ! -d "$db" ]]; then
  t0=$(date +%s.%N)
  for i in $(seq 1 "$copies"); do
    ln -sfn "$corpus" "$links/copy$i"
    sed "s|^|$links/copy$i/|" "$queries/reference.txt" | tr '\n' '\0' | xargs -0 "$sonica" ingest --data-dir "$db" >/dev/null 2>>"$db.log"
  done
  t1=$(date +%s.%N)
  echo "built: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s" >&2
fi
clips=("$queries"/clips/*)
clip="${clips[0]}"
tracks=$("$sonica" stats --data-dir "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tracks"])')
# Drop the page cache's head start where we can (root only; harmless otherwise).
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
cold=$( { /usr/bin/time -f "%e %M" "$sonica" identify --data-dir "$db" --json "$clip" >/dev/null; } 2>&1 | tail -1)
warm=$( { /usr/bin/time -f "%e %M" "$sonica" identify --data-dir "$db" --json "$clip" >/dev/null; } 2>&1 | tail -1)
echo "| tracks | open + first answer, cold cache | warm cache | peak RSS (warm) |"
echo "|---|---|---|---|"
read -r ct cm <<<"$cold"; read -r wt wm <<<"$warm"
echo "| $tracks | ${ct} s | ${wt} s | $((wm / 1024)) MB |"

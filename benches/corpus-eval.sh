#!/usr/bin/env bash
# Whole-loop evaluation on real music: fetch the corpus, cut the query clips,
# ingest the reference set, identify every clip, score, and print a table of
# recall, ingest throughput, query latency and index size.
#
#   benches/corpus-eval.sh            # uses $SONICA_CORPUS, $SONICA_QUERIES, $SONICA_EVAL_DB
#
# Defaults keep everything outside the repository (~/.cache/sonica-*).
# Needs root on first use (the shared tools install ffmpeg).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SONICA_SHARED:-$here/../shared}"
corpus="${SONICA_CORPUS:-$HOME/.cache/sonica-corpus}"
queries="${SONICA_QUERIES:-$HOME/.cache/sonica-queries}"
db="${SONICA_EVAL_DB:-$HOME/.cache/sonica-eval-db}"
out="${SONICA_EVAL_OUT:-$HOME/.cache/sonica-eval}"
mkdir -p "$out"

"$shared/corpus/fetch-corpus.sh" "$corpus" >&2
if [[ ! -f "$queries/truth.tsv" ]]; then
  python3 "$shared/corpus/make-queries.py" "$corpus" "$queries" >&2
fi
(cd "$here" && cargo build --release --quiet)
sonica="$here/target/release/sonica"

rm -rf "$db"
sed "s|^|$corpus/|" "$queries/reference.txt" > "$out/reference-paths.txt"
tracks=$(wc -l < "$out/reference-paths.txt")
t0=$(date +%s.%N)
tr '\n' '\0' < "$out/reference-paths.txt" | xargs -0 "$sonica" ingest --data-dir "$db" > "$out/ingest.log" 2> "$out/ingest.err"
t1=$(date +%s.%N)
"$sonica" stats --data-dir "$db" --json > "$out/stats.json"

clips=("$queries"/clips/*)
t2=$(date +%s.%N)
"$sonica" identify --data-dir "$db" --json "${clips[@]}" > "$out/answers.jsonl"
t3=$(date +%s.%N)
python3 "$shared/corpus/score.py" "$queries" "$out/answers.jsonl" > "$out/score.txt" || true

python3 - "$out" "$t0" "$t1" "$t2" "$t3" "${#clips[@]}" "$tracks" "$(nproc)" <<'PY'
import json, sys
out, t0, t1, t2, t3, nclips, ntracks, cores = sys.argv[1:]
t0, t1, t2, t3 = map(float, (t0, t1, t2, t3))
s = json.load(open(f"{out}/stats.json"))
hours = s["audio_hours"]
ingest = t1 - t0
rt = hours * 3600 / ingest
print(open(f"{out}/score.txt").read().rstrip())
print()
print("| measure | value |")
print("|---|---|")
print(f"| tracks ingested | {s['tracks']} of {ntracks} ({hours:.2f} h of audio) |")
print(f"| ingest wall time (decode included, {cores} cores) | {ingest:.1f} s |")
print(f"| ingest speed | {rt:.0f}x realtime ({rt/int(cores):.0f}x per core) |")
print(f"| identify, {nclips} clips (decode included, {cores} threads) | {t3-t2:.1f} s, {1000*(t3-t2)/int(nclips):.1f} ms/clip |")
print(f"| postings | {s['postings']} ({s['postings']/(hours*3600):.0f}/s of audio) |")
mb = lambda b: b / 1e6
print(f"| compacted tier (logical) | {mb(s['compacted']['bytes']):.2f} MB |")
print(f"| canonical peaks (logical) | {mb(s['canonical_peaks']['bytes']):.2f} MB |")
print(f"| on disk (sled, all trees) | {mb(s['disk_bytes']):.2f} MB = {mb(s['disk_bytes'])/hours:.2f} MB/h |")
PY

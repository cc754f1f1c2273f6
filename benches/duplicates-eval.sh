#!/usr/bin/env bash
# Duplicate detection on the real corpus (issue 5's measurement).
#
#   benches/duplicates-eval.sh CORPUS OUT [SONICA]
#
# CORPUS is a folder made by ../shared/corpus/fetch-corpus.sh (music/ and
# manifest.tsv); OUT is a scratch folder (variants, store, answers). For the
# first 100 tracks of at least 45 s it makes five variants with ffmpeg:
# MP3 128k, AAC 96k, Opus 64k, +3 dB with 2 s of silence prepended, and a
# 30 s section from the middle. Then:
#   1. every corpus track is ingested with --on-duplicate flag: any flag is a
#      distinct pair wrongly called a duplicate;
#   2. every variant is ingested with --on-duplicate reject: each must be
#      rejected as a duplicate of its source with the right kind.
# Prints a table per variant and the wall time of each step.
set -euo pipefail
CORPUS=${1:?corpus folder}
OUT=${2:?scratch folder}
SONICA=${3:-target/release/sonica}
mkdir -p "$OUT/variants"
JOBS=$(nproc)

# 1. Variants (skipped when already made).
awk -F'\t' 'NR>1 && $3>=45 {print $1"\t"$3}' "$CORPUS/manifest.tsv" | head -100 > "$OUT/sources.tsv"
make_variants() {
    local rel=$1 dur=$2 corpus=$3 out=$4
    local src="$corpus/$rel" stem
    stem=$(echo "$rel" | tr '/' '_' | sed 's/\.[^.]*$//')
    local v="$out/variants/$stem"
    local start
    start=$(awk -v d="$dur" 'BEGIN{s=(d-30)/2; if(s<0)s=0; printf "%.2f", s}')
    [ -s "$v.mp3" ] || ffmpeg -nostdin -loglevel error -y -i "$src" -c:a libmp3lame -b:a 128k "$v.mp3"
    [ -s "$v.m4a" ] || ffmpeg -nostdin -loglevel error -y -i "$src" -c:a aac -b:a 96k "$v.m4a"
    [ -s "$v.opus" ] || ffmpeg -nostdin -loglevel error -y -i "$src" -c:a libopus -b:a 64k "$v.opus"
    [ -s "$v.gain.flac" ] || ffmpeg -nostdin -loglevel error -y -i "$src" -af "adelay=2000:all=1,volume=3dB" "$v.gain.flac"
    [ -s "$v.section.flac" ] || ffmpeg -nostdin -loglevel error -y -ss "$start" -t 30 -i "$src" "$v.section.flac"
    printf '%s\t%s\n' "$v" "$src"
}
export -f make_variants
t0=$(date +%s.%N)
cut -f1,2 "$OUT/sources.tsv" | tr '\t' '\n' | xargs -d '\n' -n2 -P"$JOBS" bash -c 'make_variants "$0" "$1" "'"$CORPUS"'" "'"$OUT"'"' > "$OUT/variant-sources.tsv"
t1=$(date +%s.%N)

# 2. The library: every corpus track, flag policy.
rm -rf "$OUT/db"
find "$CORPUS/music" -type f -name '*.ogg' | sort > "$OUT/library.txt"
tr '\n' '\0' < "$OUT/library.txt" | xargs -0 "$SONICA" --data-dir "$OUT/db" ingest --json --on-duplicate flag > "$OUT/library.jsonl" 2> "$OUT/library.err"
# The same library in reverse order: every distinct pair is then checked
# in both directions (newer against older, and the other way round).
rm -rf "$OUT/db-rev"
tac "$OUT/library.txt" | tr '\n' '\0' | xargs -0 "$SONICA" --data-dir "$OUT/db-rev" ingest --json --on-duplicate flag > "$OUT/library-rev.jsonl" 2>> "$OUT/library.err"
t2=$(date +%s.%N)

# 3. The variants, reject policy.
: > "$OUT/variants.txt"
while IFS=$'\t' read -r v src; do
    for ext in mp3 m4a opus gain.flac section.flac; do printf '%s\n' "$v.$ext" >> "$OUT/variants.txt"; done
done < "$OUT/variant-sources.tsv"
tr '\n' '\0' < "$OUT/variants.txt" | xargs -0 "$SONICA" --data-dir "$OUT/db" ingest --json --on-duplicate reject > "$OUT/variants.jsonl" 2> "$OUT/variants.err"
t3=$(date +%s.%N)

python3 - "$OUT" <<'PY'
import json, sys, collections
out = sys.argv[1]
src_of = {}
for line in open(f"{out}/variant-sources.tsv"):
    v, src = line.rstrip("\n").split("\t")
    src_of[v] = src
want = {"mp3": "same_recording", "m4a": "same_recording", "opus": "same_recording",
        "gain.flac": "same_recording", "section.flac": "section_of"}
flagged = [json.loads(l) for l in open(f"{out}/library.jsonl")]
flagged_rev = [json.loads(l) for l in open(f"{out}/library-rev.jsonl")]
false_pairs = [r for r in flagged + flagged_rev if r.get("duplicate")]
n = len(flagged)
print(f"library: {n} distinct tracks ingested twice (forward and reversed order, so each of the"
      f" {n}x{n-1} ordered pairs is checked once): {len(false_pairs)} flagged as duplicates")
for r in false_pairs:
    d = r["duplicate"]
    print(f"  FALSE: {r['path']} -> {d['of_path']} {d['kind']} overlap {d['overlap_s']} s score {d['score']}")
rows = collections.defaultdict(lambda: [0, 0, 0, 0])  # total, detected, right kind+source, wrong
misses = []
for l in open(f"{out}/variants.jsonl"):
    r = json.loads(l)
    p = r["path"]
    for ext in want:
        if p.endswith("." + ext):
            break
    v = p[: -len(ext) - 1]
    row = rows[ext]
    row[0] += 1
    d = r.get("duplicate")
    if d:
        row[1] += 1
        if d["kind"] == want[ext] and d["of_path"] == src_of[v]:
            row[2] += 1
        else:
            row[3] += 1
            misses.append((p, d))
    else:
        misses.append((p, r.get("error")))
print()
print("| variant | files | detected | right kind and source |")
print("|---|---|---|---|")
tot = [0, 0, 0]
for ext in want:
    t, d, ok, _ = rows[ext]
    tot[0] += t; tot[1] += d; tot[2] += ok
    print(f"| {ext} ({want[ext]}) | {t} | {d} ({100*d/max(t,1):.1f} %) | {ok} ({100*ok/max(t,1):.1f} %) |")
print(f"| all | {tot[0]} | {tot[1]} ({100*tot[1]/max(tot[0],1):.1f} %) | {tot[2]} ({100*tot[2]/max(tot[0],1):.1f} %) |")
for p, d in misses:
    print(f"  MISS: {p}: {d}")
PY
printf '\nvariants made in %.0f s; library ingested (twice) in %.0f s; variants checked in %.0f s\n' \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t2" | bc)"

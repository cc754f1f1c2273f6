#!/usr/bin/env bash
# sonica-reindex speed: the corpus from empty, a rerun with nothing
# changed, then --rebuild (and --verify) of a library grown to N tracks.
#
#   benches/reindex.sh [N]        N defaults to 1000
#
# Env: SONICA_CORPUS, the corpus folder (default: ../shared's fetch
# location, else /work/data/corpus); SONICA_REINDEX_WORK, a scratch folder
# (default: a fresh temp folder, removed at the end). The library is grown
# to N tracks by tools/reindex/examples/synth_library.rs (perturbed copies
# of the ingested tracks, same peak density), a bench-only program that is
# not part of the shipped binary. Release build.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000}"
corpus="${SONICA_CORPUS:-}"
if [[ -z "$corpus" ]]; then
  for c in "$HOME/.cache/sonica-corpus" /work/data/corpus; do
    [[ -d "$c" ]] && { corpus="$c"; break; }
  done
fi
[[ -d "$corpus" ]] || { echo "no corpus: set SONICA_CORPUS (see ../shared/README.md)" >&2; exit 1; }
[[ -d "$corpus/music" ]] && corpus="$corpus/music"

(cd "$here" && cargo build --release --quiet -p sonica-reindex --bin sonica-reindex --example synth_library)
tool="$here/target/release/sonica-reindex"
synth="$here/target/release/examples/synth_library"

work="${SONICA_REINDEX_WORK:-}"
if [[ -z "$work" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
db="$work/db"
rm -rf "$db"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
field() { python3 -c "import json,sys; v=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'r': v}))" "$1"; }

t0=$(now); first=$("$tool" --data-dir "$db" --json "$corpus"); t1=$(now)
t2=$(now); again=$("$tool" --data-dir "$db" --json "$corpus"); t3=$(now)
tracks=$(echo "$first" | field 'r["added"]')
hours=$(echo "$first" | field 'round(r["audio_hours"], 2)')
rt=$(echo "$first" | field 'r["x_realtime"]')
failed=$(echo "$first" | field 'r["failed"]')
unchanged=$(echo "$again" | field 'r["unchanged"]')

"$synth" "$db" "$n" >/dev/null
t4=$(now); rebuilt=$("$tool" --data-dir "$db" --rebuild --json); t5=$(now)
t6=$(now); "$tool" --data-dir "$db" --verify --json > "$work/verify.json" || true; t7=$(now)
big=$(echo "$rebuilt" | field 'r["hash_tiers"]["tracks"]')
postings=$(echo "$rebuilt" | field 'r["hash_tiers"]["postings"]')
hash_s=$(echo "$rebuilt" | field 'round(r["hash_tiers"]["seconds"], 2)')
music_s=$(echo "$rebuilt" | field 'r["music_seconds"]')
lookups_s=$(echo "$rebuilt" | field 'r["lookups_seconds"]')
consistent=$(field 'r["consistent"]' < "$work/verify.json")

verdict() { awk -v x="$1" -v t="$2" 'BEGIN{print (x <= t) ? "met" : "**missed**"}'; }
w1=$(secs "$t0" "$t1"); w2=$(secs "$t2" "$t3"); w3=$(secs "$t4" "$t5"); w4=$(secs "$t6" "$t7")
echo "| step | tracks | wall (process) | detail | target | |"
echo "|---|---|---|---|---|---|"
echo "| corpus from empty | $tracks ($failed failed) | $w1 s | $hours h of audio, ${rt}x realtime | ≤ 25 s | $(verdict "$w1" 25) |"
echo "| rerun, nothing changed | $unchanged unchanged | $w2 s | | ≤ 1 s | $(verdict "$w2" 1) |"
echo "| --rebuild | $big | $w3 s | hash tiers $hash_s s ($postings postings), paths + digests $lookups_s s, vectors + text $music_s s | ≤ 10 s | $(verdict "$w3" 10) |"
echo "| --verify | $big | $w4 s | consistent: $consistent | | |"

#!/usr/bin/env bash
# Recognition under pitch shifts, speed changes and time stretches (issue
# 16): cuts the transformed clips (benches/make-transformed.py) beside the
# shared query set, identifies them against the reference library, scores
# them per (length, condition) cell, and prints where the answers came from
# (the reported speed / tempo / pitch against the truth).
#
#   benches/tolerant-eval.sh
#
# Needs the shared query set and a reference library: run
# benches/corpus-eval.sh first (it leaves both under ~/.cache). With
# SONICA_OLD_BIN and SONICA_OLD_DB (an older build and its library) it also
# times clean 10 s clips, old and new interleaved, to show that clips the
# exact stages settle pay nothing for the tolerant stage.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SONICA_SHARED:-$here/../shared}"
corpus="${SONICA_CORPUS:-$HOME/.cache/sonica-corpus}"
queries="${SONICA_QUERIES:-$HOME/.cache/sonica-queries}"
transformed="${SONICA_TRANSFORMED:-$HOME/.cache/sonica-transformed}"
db="${SONICA_EVAL_DB:-$HOME/.cache/sonica-eval-db}"
out="${SONICA_EVAL_OUT:-$HOME/.cache/sonica-eval}"
mkdir -p "$out"
[[ -f "$queries/reference.txt" && -d "$db" ]] || { echo "run benches/corpus-eval.sh first" >&2; exit 1; }
if [[ ! -f "$transformed/truth.tsv" ]]; then
  python3 "$here/benches/make-transformed.py" "$corpus" "$queries" "$transformed" >&2
fi
(cd "$here" && cargo build --release --quiet --bin sonica)
sonica="$here/target/release/sonica"

clips=("$transformed"/clips/*)
t0=$(date +%s.%N)
"$sonica" identify --data-dir "$db" --json "${clips[@]}" > "$out/transformed.jsonl"
t1=$(date +%s.%N)
python3 "$shared/corpus/score.py" "$transformed" "$out/transformed.jsonl" || true
awk -v a="$t0" -v b="$t1" -v n="${#clips[@]}" 'BEGIN{printf "\nidentify, %d transformed clips (decode included, one process): %.1f s, %.1f ms/clip\n", n, b-a, 1000*(b-a)/n}'

# How well the reported factors match the truth, per condition.
python3 - "$transformed/truth.tsv" "$out/transformed.jsonl" <<'PY'
import json, math, os, sys, collections
truth = {}
for line in list(open(sys.argv[1]))[1:]:
    q, expected, length, cond, *_ = line.rstrip("\n").split("\t")
    truth[os.path.basename(q)] = (expected, cond)
err = collections.defaultdict(list)
for line in open(sys.argv[2]):
    a = json.loads(line)
    m = a.get("match")
    expected, cond = truth[os.path.basename(a["query"])]
    if not m or expected == "-" or not m["path"].endswith(expected):
        continue
    kind, amount = cond[:5], float(cond[5:])
    if kind == "pitch":
        got, want = m["pitch_cents"] + 1200 * math.log2(m["speed"]), amount
    elif kind == "speed":
        got, want = 100 * (m["speed"] * m["tempo"] - 1), amount
    else:
        got, want = 100 * (m["tempo"] * m["speed"] - 1), amount
    err[cond].append(abs(got - want))
print("\n| condition | answered | median error of the reported factor |")
print("|---|---|---|")
for cond, e in err.items():
    e.sort()
    unit = "cents" if cond.startswith("pitch") else "% points"
    print(f"| {cond} | {len(e)} | {e[len(e) // 2]:.2f} {unit} |")
PY

if [[ -n "${SONICA_OLD_BIN:-}" && -n "${SONICA_OLD_DB:-}" ]]; then
  mapfile -t clean < <(awk -F'\t' '$3 == 10 && $4 == "clean" && $2 != "-" {print $1}' "$queries/truth.tsv")
  clean=("${clean[@]/#/$queries/}")
  declare -A total=([old]=0 [new]=0)
  for round in 1 2 3 4 5; do
    for side in old new; do
      if [[ $side == old ]]; then bin="$SONICA_OLD_BIN" lib="$SONICA_OLD_DB"; else bin="$sonica" lib="$db"; fi
      a=$(date +%s.%N)
      "$bin" identify --data-dir "$lib" --json "${clean[@]}" > /dev/null
      b=$(date +%s.%N)
      total[$side]=$(awk -v t="${total[$side]}" -v a="$a" -v b="$b" 'BEGIN{print t + b - a}')
    done
  done
  n=$((${#clean[@]} * 5))
  echo
  echo "| clean 10 s clips, 5 interleaved rounds | old ms/clip | new ms/clip | new/old |"
  echo "|---|---|---|---|"
  awk -v o="${total[old]}" -v w="${total[new]}" -v n="$n" \
    'BEGIN{printf "| %d clips (process start and decode included) | %.1f | %.1f | %.2f |\n", n, 1000*o/n, 1000*w/n, w/o}'
fi

#!/usr/bin/env bash
# Radio-monitoring evaluation (issue 17): runs `sonica monitor` over a
# generated radio show whose true play log is known, scores the play log,
# does the same for Olaf when OLAF_BIN is set, and prints one markdown table.
#
#   benches/monitor-eval.sh DB [--seed N] [--minutes M]
#
#   DB        a Sonica data dir holding the library (the tracks of
#             $SONICA_QUERIES/reference.txt); "-" skips Sonica
#   --seed    show seed (default 1); the show is built once, then reused, in
#             $SONICA_RADIO_SHOW/seed-N (default ~/.cache/sonica-radio-show)
#   --minutes show length (default 60; other lengths go to seed-N-Mmin)
#
# Environment:
#   SONICA_BIN      default target/release/sonica
#   SONICA_MONITOR_ARGS  extra `sonica monitor` flags, e.g. "--jobs 1 --hop 5"
#   SONICA_CORPUS   default ~/.cache/sonica-corpus
#   SONICA_QUERIES  default ~/.cache/sonica-queries
#   OLAF_BIN        an Olaf CLI binary; unset = no Olaf rows
#   OLAF_HOME       Olaf's own HOME (config + LMDB), default
#                   $SONICA_RADIO_SHOW/olaf-home; the library is stored
#                   there on first use (not timed as part of the scan)
#   OLAF_FRAGMENT   Olaf's window, fragment_duration_in_seconds (default 30)
#   OLAF_WHOLE=1    also run a plain whole-file `olaf query` (second row)
#
# Olaf (https://github.com/JorenSix/Olaf, measured at commit
# e5d89fba1b4ed9f5c8bd38ea3cdce799a6a67222, 2026-05-20) is C with a Zig CLI:
#   pip install ziglang==0.15.2            # the version in Olaf's .zigversion
#   cd olaf && python -m ziglang build -Doptimize=ReleaseFast   # = `make`
#   OLAF_BIN=$PWD/zig-out/bin/olaf benches/monitor-eval.sh DB
# It has no monitor command; `olaf query --fragmented FILE` is its documented
# way to match an unsegmented recording (per-window matches with times);
# benches/olaf-plays.py merges those windows into plays.
#
# Scan time is wall and CPU (user+sys, children included) of the one
# command that turns show.mp3 into a play log, from /usr/bin/time -v, with
# its peak RSS. Outputs stay beside the show, in runs/<engine>/.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
benches="$here/benches"
corpus="${SONICA_CORPUS:-$HOME/.cache/sonica-corpus}"
queries="${SONICA_QUERIES:-$HOME/.cache/sonica-queries}"
root="${SONICA_RADIO_SHOW:-$HOME/.cache/sonica-radio-show}"
sonica="${SONICA_BIN:-$here/target/release/sonica}"
olaf_fragment="${OLAF_FRAGMENT:-30}"

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
db="$1"; shift
seed=1; minutes=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "monitor-eval: unknown argument $1" >&2; usage ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "monitor-eval: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

show="$root/seed-$seed"
[[ "$minutes" == 60 ]] || show="$root/seed-$seed-${minutes}min"
gen_version="$(sed -n 's/^VERSION = \([0-9]*\)$/\1/p' "$benches/make-radio-show.py")"
have_version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("version"))' "$show/show.json" 2>/dev/null || true)"
if [[ -s "$show/show.mp3" && -s "$show/truth.jsonl" && "$have_version" == "$gen_version" ]]; then
  echo "monitor-eval: reusing $show" >&2
else
  echo "monitor-eval: building the show in $show" >&2
  python3 "$benches/make-radio-show.py" "$corpus" "$queries" "$show" --seed "$seed" --minutes "$minutes" >&2
fi
mp3="$show/show.mp3"
truth="$show/truth.jsonl"
runs="$show/runs"
mkdir -p "$runs"
rows=()   # "label<TAB>rundir" for the table

# ---------------------------------------------------------------- Sonica
if [[ "$db" != "-" ]]; then
  d="$runs/sonica"; mkdir -p "$d"
  echo "monitor-eval: sonica monitor ($sonica)" >&2
  # shellcheck disable=SC2086  # SONICA_MONITOR_ARGS is a word list
  if /usr/bin/time -v -o "$d/time.txt" "$sonica" monitor --data-dir "$db" --json ${SONICA_MONITOR_ARGS:-} "$mp3" \
       > "$d/plays.jsonl" 2> "$d/stderr.txt"; then
    echo ok > "$d/status"
  else
    echo "failed (exit $?), see $d/stderr.txt" > "$d/status"
    tail -5 "$d/stderr.txt" >&2 || true
  fi
  # keep only the play objects (lines with start_s) for the scorer
  grep '"start_s"' "$d/plays.jsonl" > "$d/plays.only.jsonl" || true
  python3 "$benches/score-plays.py" "$truth" "$d/plays.only.jsonl" --label sonica > "$d/score.txt"
  rows+=("sonica	$d")
fi

# ---------------------------------------------------------------- Olaf
olaf_config() {  # home, extra JSON members
  mkdir -p "$1/.olaf" "$olaf_home/.olaf/db" "$olaf_home/.olaf/cache"
  printf '{"db_folder": "%s/", "cache_folder": "%s/", "fragment_duration_in_seconds": %s%s}\n' \
    "$olaf_home/.olaf/db" "$olaf_home/.olaf/cache" "$olaf_fragment" "$2" > "$1/.olaf/olaf_config.json"
}
if [[ -n "${OLAF_BIN:-}" ]]; then
  olaf_home="${OLAF_HOME:-$root/olaf-home}"
  olaf_config "$olaf_home" ""
  sed "s|^|$corpus/|" "$queries/reference.txt" > "$olaf_home/library.txt"
  stamp="$(sha256sum "$olaf_home/library.txt" | cut -c1-16)"
  if [[ "$(cat "$olaf_home/stored" 2>/dev/null)" != "$stamp" ]]; then
    echo "monitor-eval: olaf store ($(wc -l < "$olaf_home/library.txt") tracks) into $olaf_home" >&2
    rm -rf "$olaf_home/.olaf/db"; mkdir -p "$olaf_home/.olaf/db"
    HOME="$olaf_home" /usr/bin/time -v -o "$olaf_home/store-time.txt" \
      "$OLAF_BIN" store "$olaf_home/library.txt" > "$olaf_home/store.log" 2>&1
    echo "$stamp" > "$olaf_home/stored"
  fi

  d="$runs/olaf"; mkdir -p "$d"
  echo "monitor-eval: olaf query --fragmented (${olaf_fragment} s windows)" >&2
  if HOME="$olaf_home" /usr/bin/time -v -o "$d/time.txt" "$OLAF_BIN" query --fragmented "$mp3" \
       > "$d/olaf.csv" 2> "$d/stderr.txt"; then echo ok > "$d/status"; else echo "failed (exit $?)" > "$d/status"; fi
  python3 "$benches/olaf-plays.py" "$d/olaf.csv" --fragment "$olaf_fragment" > "$d/plays.jsonl"
  python3 "$benches/score-plays.py" "$truth" "$d/plays.jsonl" --label "olaf ${olaf_fragment} s windows" > "$d/score.txt"
  rows+=("olaf (query --fragmented, ${olaf_fragment} s)	$d")

  if [[ "${OLAF_WHOLE:-0}" == 1 ]]; then
    # same LMDB, a config that lets one query report every (track, alignment)
    whole_home="$olaf_home/whole"
    olaf_config "$whole_home" ', "max_results": 3000'
    d="$runs/olaf-whole"; mkdir -p "$d"
    echo "monitor-eval: olaf query (whole file)" >&2
    if HOME="$whole_home" /usr/bin/time -v -o "$d/time.txt" "$OLAF_BIN" query "$mp3" \
         > "$d/olaf.csv" 2> "$d/stderr.txt"; then echo ok > "$d/status"; else echo "failed (exit $?)" > "$d/status"; fi
    python3 "$benches/olaf-plays.py" "$d/olaf.csv" --fragment 0 > "$d/plays.jsonl"
    python3 "$benches/score-plays.py" "$truth" "$d/plays.jsonl" --label "olaf whole file" > "$d/score.txt"
    rows+=("olaf (whole-file query)	$d")
  fi
fi

# ---------------------------------------------------------------- table
python3 - "$show" "${rows[@]}" <<'PY'
import json, os, re, sys
show = sys.argv[1]
meta = json.load(open(os.path.join(show, "show.json")))
print(f"Show {show}: {meta['minutes']:g} min, seed {meta['seed']}, {meta['plays']} plays "
      f"({meta['plays_ge_20s']} of >= 20 s, {meta['short_plays']} short), {meta['crossfades']} crossfades, "
      f"{meta['talkovers']} talk-overs, {meta['unknown_music']} unknown-music, {meta['jingles']} jingles, "
      f"{meta['speech']} speech, repeat: {', '.join(os.path.basename(p) for p in meta['repeated_tracks']) or 'none'}")
print()
print("| engine | plays found (>= 20 s) | start ±2 s | end ±2 s | invented | split | scan wall / CPU | peak RSS |")
print("|---|---|---|---|---|---|---|---|")

def timing(path):
    wall = cpu = rss = None
    try:
        t = open(path).read()
    except OSError:
        return None, None, None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t)
    if m:
        parts = [float(x) for x in m.group(1).split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    u = re.search(r"User time \(seconds\): (\S+)", t)
    s = re.search(r"System time \(seconds\): (\S+)", t)
    if u and s:
        cpu = float(u.group(1)) + float(s.group(1))
    r = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    if r:
        rss = int(r.group(1)) / 1024
    return wall, cpu, rss

for row in sys.argv[2:]:
    label, d = row.split("\t")
    status = open(os.path.join(d, "status")).read().strip() if os.path.exists(os.path.join(d, "status")) else "?"
    summ = None
    for line in open(os.path.join(d, "score.txt")):
        if line.startswith("{"):
            summ = json.loads(line)
    wall, cpu, rss = timing(os.path.join(d, "time.txt"))
    n = summ["truth_plays"]
    inv = summ["invented"]
    by = summ["invented_by"]
    inv_txt = f"{inv}" + (" (" + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(by.items())) + ")" if by else "")
    tm = f"{wall:.1f} s / {cpu:.1f} s" if wall is not None and cpu is not None else "-"
    if status != "ok":
        label += f" ({status})"
    print(f"| {label} | {summ['found']} / {n} | {summ['start_within_tol']} / {n} | {summ['end_within_tol']} / {n} "
          f"| {inv_txt} | {summ['split']} | {tm} | {f'{rss:.0f} MiB' if rss else '-'} |")
print()
for row in sys.argv[2:]:
    label, d = row.split("\t")
    print(f"{label}: details in {os.path.join(d, 'score.txt')}")
PY

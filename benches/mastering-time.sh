#!/usr/bin/env bash
# The mastering assistant's time per analysis (issue 14: "one 4-minute
# analysis with recommendations takes ≤ 0.5 s on one core, plus decode"),
# on one core (taskset -c 0), as CPU seconds (user + system) and wall:
#
#   - file mode: `sonica master MIX --reference REF` (two analyses, nothing stored)
#   - library mode: `sonica master MIX --genre G` (one analysis against the
#     stored references, the analysis and its 30 s preview stored)
#   - a WAV decode alone (`sonica analyze`-free: ffmpeg is not timed; the
#     WAV is read by Sonica's own decoder inside both runs)
#
#   benches/mastering-time.sh [SONICA] [CORPUS_TRACK] [RUNS]
set -euo pipefail
BIN=${1:-target/release/sonica}
SRC=${2:-$(find "${SONICA_CORPUS:-$HOME/.cache/sonica-corpus}" -name '*.ogg' | sort | head -1)}
RUNS=${3:-5}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Four minutes of stereo 44.1 kHz: the track looped if it is shorter.
ffmpeg -v error -y -stream_loop -1 -i "$SRC" -t 240 -ac 2 -ar 44100 -c:a pcm_s16le "$T/ref.wav"
ffmpeg -v error -y -i "$T/ref.wav" -af "equalizer=f=100:t=o:w=2:g=3,volume=-3dB" -c:a pcm_s16le "$T/mix.wav"
"$BIN" --data-dir "$T/db" ingest --reference-genre bench "$T/ref.wav" >/dev/null 2>&1
cpu() { /usr/bin/time -f "%U %S %e" taskset -c 0 "$@" 2>&1 >/dev/null | tail -1; }
echo "| run | file mode: CPU s (wall s) | library mode: CPU s (wall s) |"
echo "|---|---|---|"
for i in $(seq 1 "$RUNS"); do
  read -r fu fs fw <<<"$(cpu "$BIN" master "$T/mix.wav" --reference "$T/ref.wav" --json)"
  read -r lu ls lw <<<"$(cpu "$BIN" --data-dir "$T/db" master "$T/mix.wav" --genre bench --json)"
  printf "| %d | %.2f (%.2f) | %.2f (%.2f) |\n" "$i" "$(echo "$fu + $fs" | bc)" "$fw" "$(echo "$lu + $ls" | bc)" "$lw"
done
echo
echo "File mode measures two 4-minute files; library mode measures one and stores it with its preview."

#!/usr/bin/env bash
# Regenerates the small encoded test fixtures in tests/fixtures/ with ffmpeg.
# Commas in the expression are escaped for the filtergraph.
# The audio is synthesised by ffmpeg itself (a deterministic two-voice melody),
# so nothing external is needed. Run only when the fixtures must change; the
# tests read the committed files and never need ffmpeg.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures"
mkdir -p "$out"
mel='0.25*sin(2*PI*t*220*pow(2\,floor(abs(sin(floor(t*4)*78.233))*24)/12))+0.15*sin(2*PI*t*110*pow(2\,floor(abs(sin(floor(t*2)*12.9898))*12)/12))+0.12*sin(2*PI*t*440*pow(2\,floor(abs(sin(floor(t*8)*4.1414))*24)/12))*exp(-mod(t\,0.125)*20)'
ff() { ffmpeg -nostdin -v error -y "$@"; }
# 20 s reference track: OGG Vorbis, stereo, 22.05 kHz, with tags.
ff -f lavfi -i "aevalsrc=${mel}|${mel}:s=22050:d=20" -c:a libvorbis -q:a 2 \
   -metadata title="Fixture Melody" -metadata artist="Sonica Tests" -metadata album="Fixtures" -metadata genre="Test" \
   "$out/melody.ogg"
# An 8 s clip from 6 s in, as low-bitrate MP3 (a codec-degraded query).
ff -f lavfi -i "aevalsrc=${mel}:s=22050:d=20" -ss 6 -t 8 -c:a libmp3lame -b:a 32k "$out/melody_clip_32k.mp3"
# The same clip as AAC in M4A.
ff -f lavfi -i "aevalsrc=${mel}:s=22050:d=20" -ss 6 -t 8 -c:a aac -b:a 48k "$out/melody_clip.m4a"
# 5 s FLAC for truncation tests.
ff -f lavfi -i "aevalsrc=${mel}:s=8000:d=5" -c:a flac -sample_fmt s16 "$out/melody_5s.flac"
# 3 s Opus: decoded through the ffmpeg fallback, or refused with a clear message.
ff -f lavfi -i "aevalsrc=${mel}:s=48000:d=3" -c:a libopus -b:a 32k "$out/melody_3s.opus"
ls -l "$out"
# A store of the current FORMAT_VERSION holding melody.ogg (path as given: tests/fixtures/melody.ogg).
# Only regenerate when FORMAT_VERSION changes, and then keep the old one too.
if [[ "${SONICA_REMAKE_STORE:-0}" == 1 ]]; then
  tmp="$(mktemp -d)"
  (cd "$out/../.." && cargo run --release --quiet -- ingest --data-dir "$tmp" tests/fixtures/melody.ogg)
  version="$(grep -o "FORMAT_VERSION: u32 = [0-9]*" "$out/../../schema/src/layout.rs" | grep -o "[0-9]*$")"
  mkdir -p "$out/store-v$version" && cp "$tmp/store/conf" "$tmp/store/db" "$out/store-v$version/"
fi

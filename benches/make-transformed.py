#!/usr/bin/env python3
"""Cuts pitch-, speed- and tempo-changed query clips, beside the shared set.

    benches/make-transformed.py CORPUS QUERIES OUT [--per-cell N] [--seed S]

The shared `make-queries.py` covers noise, codecs, the telephone band and
speed ±3 %. Tapes, DJ sets, karaoke and "nightcore" uploads go much further,
so this cuts the conditions recognition must survive since issue 16:

  pitch±100, pitch±200   pitch shift in cents, tempo kept
  speed±5, ±10, ±15      pitch and tempo together (a turntable)
  tempo±5, ±10, ±15      time stretch in %, pitch kept

from the reference tracks of QUERIES/reference.txt (made by make-queries.py,
so the held-out split is the same), plus negatives: clips of the held-out
tracks under the same transformations, where the right answer is none.

Two stretchers are alternated clip by clip (ffmpeg's `rubberband` and its
WSOLA `atempo`; pitch shifts by rubberband and by resample + atempo), so a
result does not hang on one algorithm's artefacts. Clips are 44.1 kHz mono
WAV. OUT/truth.tsv has the shared layout, so `score.py OUT answers.jsonl`
scores them. Needs ffmpeg with rubberband (Debian's has it).
"""
import argparse
import os
import random
import subprocess
import sys

LENGTHS = [5, 10]
CONDITIONS = [
    "pitch+100", "pitch-100", "pitch+200", "pitch-200",
    "speed+5", "speed-5", "speed+10", "speed-10", "speed+15", "speed-15",
    "tempo+5", "tempo-5", "tempo+10", "tempo-10", "tempo+15", "tempo-15",
]


def ff(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def transform(cond, alt):
    """(filter, source seconds per output second) for a condition."""
    kind, amount = cond[:5], float(cond[5:])
    if kind == "pitch":
        ratio = 2 ** (amount / 1200)
        if alt:
            return f"rubberband=pitch={ratio:.6f}", 1.0
        return f"asetrate={44100 * ratio:.0f},aresample=44100,atempo={1 / ratio:.6f}", 1.0
    factor = 1 + amount / 100
    if kind == "speed":
        return f"asetrate={44100 * factor:.0f},aresample=44100", factor
    if kind == "tempo":
        return (f"rubberband=tempo={factor:.6f}" if alt else f"atempo={factor:.6f}"), factor
    raise ValueError(cond)


def make_clip(src, dst, offset, length, cond, alt):
    filt, source_rate = transform(cond, alt)
    need = length * source_rate + 0.5
    ff("-ss", f"{offset:.3f}", "-t", f"{need:.3f}", "-i", src, "-af", f"{filt},aresample=44100",
       "-ac", "1", "-t", str(length), "-c:a", "pcm_s16le", dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("queries", help="a make-queries.py output (for reference.txt)")
    ap.add_argument("out")
    ap.add_argument("--per-cell", type=int, default=20, help="clips per (length, condition) cell")
    ap.add_argument("--negatives", type=int, default=64, help="transformed clips of held-out tracks")
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    with open(os.path.join(a.corpus, "manifest.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    durations = {p: float(d) for p, _src, d in rows}
    with open(os.path.join(a.queries, "reference.txt")) as f:
        ref = [line.strip() for line in f if line.strip()]
    held = [p for p in durations if p not in set(ref)]

    clips = os.path.join(a.out, "clips")
    os.makedirs(clips, exist_ok=True)
    jobs = [(rng.choice(ref), length, cond, True) for length in LENGTHS for cond in CONDITIONS for _ in range(a.per_cell)]
    jobs += [(rng.choice(held), rng.choice(LENGTHS), rng.choice(CONDITIONS), False) for _ in range(a.negatives)]

    with open(os.path.join(a.out, "truth.tsv"), "w") as truth:
        truth.write("query\texpected\tlength_s\tcondition\toffset_s\tsource\n")
        for n, (path, length, cond, known) in enumerate(jobs):
            offset = rng.uniform(0, max(0.0, durations[path] - 1.2 * length - 1))
            name = f"t{n:05d}.wav"
            make_clip(os.path.join(a.corpus, path), os.path.join(clips, name), offset, length, cond, n % 2 == 0)
            truth.write(f"clips/{name}\t{path if known else '-'}\t{length}\t{cond}\t{offset:.3f}\t{path}\n")
            if n % 100 == 0:
                print(f"{n}/{len(jobs)} clips", file=sys.stderr)
    print(f"wrote {len(jobs)} clips to {clips}", file=sys.stderr)


if __name__ == "__main__":
    main()

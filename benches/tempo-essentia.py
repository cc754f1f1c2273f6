#!/usr/bin/env python3
"""Sonica's tempo against Essentia's on a real corpus.

    benches/tempo-essentia.py CORPUS [--bin target/release/sonica] [--jobs N] [--verbose]

CORPUS is a folder with manifest.tsv (columns path source duration_s), as
../shared/corpus/fetch-corpus.sh writes it. The reference is Essentia's
RhythmExtractor2013(method="multifeature") on each track (`pip install
essentia`), cached in ~/.cache/sonica-essentia-tempo.tsv (override with
$SONICA_ESSENTIA_CACHE), keyed by absolute path and file size, so only new or
changed files are analysed again. Sonica's figure is `tempo_bpm` from
`$BIN analyze --json FILE...`, several processes at once.

Prints a markdown table:

- Accuracy1: Sonica within 4 % of Essentia;
- Accuracy2: within 4 % of Essentia × 1, 2, ½, 3 or ⅓;
- every track outside Accuracy1 in exactly one class, first match wins:
  no tempo (Sonica reports none), half/double (×2, ×½), 3:2 or 2:3,
  other octave (×3, ×⅓, ×4, ×¼), drifting tempo (Essentia's own beats do not
  keep one tempo, see DRIFT_CV and LOW_CONFIDENCE), other.
  The ratio classes are checked against the same 4 % tolerance.
  Last row: Accuracy2 on the tracks that are not drifting by that test.

`--verbose` prints one line per track (Essentia's BPM, confidence and the
spread of its beat intervals, Sonica's BPM, the class) to stderr.

Standard library and essentia only.
"""
import concurrent.futures
import json
import math
import os
import statistics
import subprocess
import sys

TOL = 0.04
# "Drifting tempo": Essentia's inter-beat intervals have a coefficient of
# variation above this (a steady track, even played live, stays well under
# 0.05; rubato, tempo changes and beat trackers losing the pulse go above 0.1) ...
DRIFT_CV = 0.10
# ... or Essentia's multifeature confidence is under this (its documentation:
# [0, 1) very low, [1, 1.5] low, [1.5, 3.5] good, above 3.5 excellent).
LOW_CONFIDENCE = 1.0
CACHE = os.environ.get("SONICA_ESSENTIA_CACHE", os.path.expanduser("~/.cache/sonica-essentia-tempo.tsv"))
CACHE_COLUMNS = ["path", "size", "bpm", "confidence", "beats", "ibi_median", "ibi_cv"]

CLASSES = [
    ("half/double (×2, ×½)", [2, 0.5]),
    ("3:2 or 2:3", [1.5, 2 / 3]),
    ("other octave (×3, ×⅓, ×4, ×¼)", [3, 1 / 3, 4, 0.25]),
]


def within(est, ref, factors):
    return bool(est) and bool(ref) and any(abs(est - ref * f) <= TOL * ref * f for f in factors)


def essentia_tempo(path):
    """Essentia's tempo and the spread of its beat intervals for one file."""
    import essentia
    import essentia.standard as es

    essentia.log.warningActive = False
    audio = es.MonoLoader(filename=path, sampleRate=44100)()
    bpm, beats, confidence, _estimates, _intervals = es.RhythmExtractor2013(method="multifeature")(audio)
    ibis = [b - a for a, b in zip(beats, beats[1:])]
    if len(ibis) >= 2:
        med = statistics.median(ibis)
        mean = statistics.fmean(ibis)
        cv = statistics.pstdev(ibis) / mean if mean > 0 else float("nan")
    else:
        med = cv = float("nan")
    return {"bpm": float(bpm), "confidence": float(confidence), "beats": len(beats),
            "ibi_median": float(med), "ibi_cv": float(cv)}


def read_cache():
    out = {}
    if not os.path.exists(CACHE):
        return out
    with open(CACHE) as f:
        head = f.readline().rstrip("\n").split("\t")
        if head != CACHE_COLUMNS:
            return out
        for line in f:
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            if len(row) != len(head):
                continue
            try:
                out[(row["path"], int(row["size"]))] = {
                    "bpm": float(row["bpm"]), "confidence": float(row["confidence"]), "beats": int(row["beats"]),
                    "ibi_median": float(row["ibi_median"]), "ibi_cv": float(row["ibi_cv"])}
            except ValueError:
                continue
    return out


def append_cache(path, size, r):
    new = not os.path.exists(CACHE)
    os.makedirs(os.path.dirname(CACHE) or ".", exist_ok=True)
    with open(CACHE, "a") as f:
        if new:
            f.write("\t".join(CACHE_COLUMNS) + "\n")
        f.write("\t".join([path, str(size), f"{r['bpm']:.4f}", f"{r['confidence']:.4f}", str(r["beats"]),
                           f"{r['ibi_median']:.5f}", f"{r['ibi_cv']:.5f}"]) + "\n")


def references(files, jobs):
    cache = read_cache()
    keys = {f: (os.path.realpath(f), os.path.getsize(f)) for f in files}
    todo = [f for f in files if keys[f] not in cache]
    if todo:
        print(f"essentia: analysing {len(todo)} of {len(files)} tracks ({jobs} at once)", file=sys.stderr)
        with concurrent.futures.ProcessPoolExecutor(jobs) as ex:
            futs = {ex.submit(essentia_tempo, f): f for f in todo}
            for i, fut in enumerate(concurrent.futures.as_completed(futs), 1):
                f = futs[fut]
                try:
                    r = fut.result()
                except Exception as e:  # a file Essentia cannot read: no reference
                    print(f"essentia failed on {f}: {e}", file=sys.stderr)
                    continue
                cache[keys[f]] = r
                append_cache(*keys[f], r)
                if i % 10 == 0:
                    print(f"essentia: {i}/{len(todo)}", file=sys.stderr)
    return {f: cache.get(keys[f]) for f in files}


def run_batch(binary, files):
    out = {}
    p = subprocess.run([binary, "analyze", "--json", *files], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            j = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "file" in j:
            out[j["file"]] = j
    return out


def sonica_all(binary, files, jobs):
    chunks = [files[i::jobs] for i in range(jobs)]
    res = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for part in ex.map(lambda c: run_batch(binary, c) if c else {}, chunks):
            res.update(part)
    return res


def drifting(ref):
    cv = ref["ibi_cv"]
    return not math.isfinite(cv) or cv > DRIFT_CV or ref["confidence"] < LOW_CONFIDENCE


def classify(est, ref):
    if within(est, ref["bpm"], [1]):
        return "agree"
    if not est:
        return "no tempo"
    for name, factors in CLASSES:
        if within(est, ref["bpm"], factors):
            return name
    if drifting(ref):
        return "drifting tempo"
    return "other"


def read_tsv(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def main():
    argv = sys.argv[1:]
    binary = os.environ.get("SONICA_BIN", "target/release/sonica")
    jobs = os.cpu_count() or 2
    verbose = False
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--bin":
            binary, i = argv[i + 1], i + 1
        elif a == "--jobs":
            jobs, i = int(argv[i + 1]), i + 1
        elif a in ("--verbose", "-v"):
            verbose = True
        elif a.startswith("-"):
            print(__doc__, file=sys.stderr)
            sys.exit(2)
        else:
            pos.append(a)
        i += 1
    if len(pos) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    corpus = pos[0]
    man = read_tsv(os.path.join(corpus, "manifest.tsv"))
    files = [os.path.join(corpus, r["path"]) for r in man]
    refs = references(files, jobs)
    est = sonica_all(binary, files, jobs)

    counts = {}
    n = acc1 = acc2 = drift_all = steady_acc2 = 0
    lines = []
    for f in files:
        ref = refs.get(f)
        j = est.get(f)
        if ref is None or ref["bpm"] <= 0 or j is None:
            if verbose:
                print(f"skipped (no {'reference' if ref is None or ref['bpm'] <= 0 else 'analysis'}): {f}",
                      file=sys.stderr)
            continue
        bpm = j.get("tempo_bpm") or 0.0
        n += 1
        acc1 += within(bpm, ref["bpm"], [1])
        acc2 += within(bpm, ref["bpm"], [1, 2, 0.5, 3, 1 / 3])
        drift_all += drifting(ref)
        steady_acc2 += not drifting(ref) and within(bpm, ref["bpm"], [1, 2, 0.5, 3, 1 / 3])
        c = classify(bpm, ref)
        counts[c] = counts.get(c, 0) + 1
        lines.append((c, ref, bpm, f))
    if verbose:
        for c, ref, bpm, f in sorted(lines, key=lambda x: (x[0], x[3])):
            print(f"{c:30} essentia {ref['bpm']:6.1f} (conf {ref['confidence']:4.2f}, ibi cv {ref['ibi_cv']:.3f})"
                  f"  sonica {bpm:6.1f}  ratio {bpm / ref['bpm']:.3f}  {os.path.relpath(f, corpus)}",
                  file=sys.stderr)

    def pct(k):
        return f"{k} ({100 * k / n:.1f} %)" if n else "n/a"

    print(f"| Sonica vs Essentia RhythmExtractor2013 multifeature, {os.path.basename(os.path.normpath(corpus))} | tracks |")
    print("|---|---|")
    print(f"| tracks compared | {n} of {len(files)} |")
    print(f"| Accuracy1 (within 4 %) | {pct(acc1)} |")
    print(f"| Accuracy2 (within 4 % of ×1 ×2 ×½ ×3 ×⅓) | {pct(acc2)} |")
    for name in ["half/double (×2, ×½)", "3:2 or 2:3", "other octave (×3, ×⅓, ×4, ×¼)", "drifting tempo", "no tempo",
                 "other"]:
        print(f"| disagree: {name} | {counts.get(name, 0)} |")
    print(f"| (Essentia drifting, all tracks: ibi CV > {DRIFT_CV} or confidence < {LOW_CONFIDENCE}) | {drift_all} |")
    steady = n - drift_all
    print(f"| Accuracy2 on the {steady} tracks where Essentia keeps one tempo | {steady_acc2}"
          f"{f' ({100 * steady_acc2 / steady:.1f} %)' if steady else ''} |")


if __name__ == "__main__":
    main()

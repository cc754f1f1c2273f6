#!/usr/bin/env python3
"""Measures Sonica's music analysis against labelled songs (and a real corpus).

    benches/analysis-eval.py DEST_LABELLED [CORPUS] [--verbose]

DEST_LABELLED is what tools' make-labelled.py wrote (tracks/ and labels.tsv with
columns path title artist album genre tempo_bpm key duration_s). CORPUS, when
given, is a folder with manifest.tsv (columns path source duration_s).

Runs `$SONICA_BIN analyze --json --vectors FILE...` (default
target/release/sonica), several processes at once ($SONICA_EVAL_JOBS, default
the CPU count), and prints a markdown table:

- tempo Accuracy1 (within 4% of the label) and Accuracy2 (also at x2, x1/2,
  x3, x1/3);
- key: MIREX weighted score (1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel)
  and the share of exact keys;
- genre by k-NN (k=5, leave-one-out, cosine) on the timbre, rhythm and mixed
  vectors;
- with CORPUS: the same k-NN with the `source` column as the label, and
  integrated loudness and true peak against ffmpeg's ebur128 filter.

Standard library only (plus ffmpeg for the loudness reference).
"""
import concurrent.futures
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

PITCHES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MIXED_TIMBRE_WEIGHT = 0.5  # the Rust constant; used only if the binary prints no "mixed_vector"


def parse_key(s):
    m = re.match(r"^\s*([A-Ga-g])([#b]?)\s*(major|minor)\s*$", s or "")
    if not m:
        return None
    pc = (PITCHES[m.group(1).upper()] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    return pc, m.group(3)


def mirex(est, ref):
    if est is None or ref is None:
        return 0.0
    (e, em), (r, rm) = est, ref
    if est == ref:
        return 1.0
    if em == rm and (e - r) % 12 == 7:  # the estimate a fifth above, as mir_eval counts it
        return 0.5
    if em != rm:
        # relative: C major ~ A minor
        if rm == "major" and (r - e) % 12 == 3:
            return 0.3
        if rm == "minor" and (e - r) % 12 == 3:
            return 0.3
        if e == r:
            return 0.2
    return 0.0


def tempo_ok(est, ref, factors):
    if not est or not ref:
        return False
    return any(abs(est - ref * f) <= 0.04 * ref * f for f in factors)


def run_batch(binary, files):
    """Runs the analyser on files; returns {file: summary}."""
    out = {}
    p = subprocess.run([binary, "analyze", "--json", "--vectors", *files], capture_output=True, text=True)
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


def analyse_all(binary, files, jobs):
    chunks = [files[i::jobs] for i in range(jobs)]
    res = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for part in ex.map(lambda c: run_batch(binary, c) if c else {}, chunks):
            res.update(part)
    return res


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else v


def mixed(j):
    if "mixed_vector" in j:
        return j["mixed_vector"]
    wt, wr = math.sqrt(MIXED_TIMBRE_WEIGHT), math.sqrt(1 - MIXED_TIMBRE_WEIGHT)
    return unit([x * wt for x in unit(j["timbre"])] + [x * wr for x in unit(j["rhythm_vector"])])


def knn_accuracy(vectors, labels, k=5):
    """Leave-one-out k-NN with cosine similarity; ties go to the larger similarity sum."""
    vs = [unit(v) for v in vectors]
    n = len(vs)
    if n < 2:
        return float("nan")
    right = 0
    for i in range(n):
        sims = sorted(((sum(a * b for a, b in zip(vs[i], vs[j])), j) for j in range(n) if j != i), reverse=True)[:k]
        votes, weight = Counter(), defaultdict(float)
        for s, j in sims:
            votes[labels[j]] += 1
            weight[labels[j]] += s
        best = max(votes, key=lambda g: (votes[g], weight[g]))
        right += best == labels[i]
    return right / n


def ffmpeg_loudness(path):
    p = subprocess.run(["ffmpeg", "-nostats", "-nostdin", "-i", path, "-af", "ebur128=peak=true", "-f", "null", "-"],
                       capture_output=True, text=True)
    tail = p.stderr[p.stderr.rfind("Summary:"):]
    i = re.search(r"I:\s+(-?[\d.]+|-inf)\s+LUFS", tail)
    tp = re.search(r"Peak:\s+(-?[\d.]+|-inf)\s+dBFS", tail)
    if not i or not tp:
        return None
    return float(i.group(1)), float(tp.group(1))


def read_tsv(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def pct(x):
    return "n/a" if x != x else f"{100 * x:.1f}%"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "--verbose" in sys.argv or "-v" in sys.argv
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary = os.environ.get("SONICA_BIN", "target/release/sonica")
    jobs = int(os.environ.get("SONICA_EVAL_JOBS", os.cpu_count() or 2))
    rows = []

    labelled = args[0]
    labels = read_tsv(os.path.join(labelled, "labels.tsv"))
    files = [os.path.join(labelled, r["path"]) for r in labels]
    res = analyse_all(binary, files, jobs)
    acc1 = acc2 = score = exact = 0
    vecs, genres, missing = [], [], 0
    for r, f in zip(labels, files):
        j = res.get(f)
        if j is None or "timbre" not in j:
            missing += 1
            if verbose:
                print(f"no analysis: {f}", file=sys.stderr)
            continue
        ref_bpm, est_bpm = float(r["tempo_bpm"]), j.get("tempo_bpm") or 0.0
        a1 = tempo_ok(est_bpm, ref_bpm, [1])
        acc1 += a1
        acc2 += tempo_ok(est_bpm, ref_bpm, [1, 2, 0.5, 3, 1 / 3])
        s = mirex(parse_key(j.get("key")), parse_key(r["key"]))
        score += s
        exact += s == 1.0
        vecs.append(j)
        genres.append(r["genre"])
        if verbose and (not a1 or s < 1):
            print(f"{r['genre']:10} tempo {ref_bpm:6.1f} → {est_bpm:7.2f}{'' if a1 else ' ✗'}   "
                  f"key {r['key']:9} → {j.get('key'):9}{'' if s == 1 else f' ({s})'}   {os.path.basename(f)}",
                  file=sys.stderr)
    n = len(vecs)
    rows.append(("Labelled songs analysed", f"{n} of {len(labels)}"))
    rows.append(("Tempo Accuracy1 (±4%)", pct(acc1 / n if n else float("nan"))))
    rows.append(("Tempo Accuracy2 (±4%, ×2 ×½ ×3 ×⅓)", pct(acc2 / n if n else float("nan"))))
    rows.append(("Key MIREX score", f"{score / n:.3f}" if n else "n/a"))
    rows.append(("Key exact", pct(exact / n if n else float("nan"))))
    rows.append(("Genre k-NN (k=5, LOO), timbre", pct(knn_accuracy([j["timbre"] for j in vecs], genres))))
    rows.append(("Genre k-NN (k=5, LOO), rhythm", pct(knn_accuracy([j["rhythm_vector"] for j in vecs], genres))))
    rows.append(("Genre k-NN (k=5, LOO), mixed", pct(knn_accuracy([mixed(j) for j in vecs], genres))))
    if verbose:
        for w in (0.3, 0.4, 0.5, 0.6, 0.7):
            m = [unit([x * math.sqrt(w) for x in unit(j["timbre"])] +
                      [x * math.sqrt(1 - w) for x in unit(j["rhythm_vector"])]) for j in vecs]
            print(f"mixed weight {w}: genre k-NN {pct(knn_accuracy(m, genres))}", file=sys.stderr)

    if len(args) > 1:
        corpus = args[1]
        man = read_tsv(os.path.join(corpus, "manifest.tsv"))
        cfiles = [os.path.join(corpus, r["path"]) for r in man]
        cres = analyse_all(binary, cfiles, jobs)
        cv, cl = [], []
        for r, f in zip(man, cfiles):
            j = cres.get(f)
            if j and "timbre" in j:
                cv.append(j)
                cl.append(r["source"])
        rows.append(("Corpus tracks analysed", f"{len(cv)} of {len(man)}"))
        rows.append(("Corpus source k-NN, timbre", pct(knn_accuracy([j["timbre"] for j in cv], cl))))
        rows.append(("Corpus source k-NN, rhythm", pct(knn_accuracy([j["rhythm_vector"] for j in cv], cl))))
        rows.append(("Corpus source k-NN, mixed", pct(knn_accuracy([mixed(j) for j in cv], cl))))
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            refs = dict(zip(cfiles, ex.map(ffmpeg_loudness, cfiles)))
        dl, dp = [], []
        for j in cv:
            ref = refs.get(j["file"])
            if ref is None or j.get("loudness_lufs") is None or not math.isfinite(ref[0]):
                continue
            dl.append(abs(j["loudness_lufs"] - ref[0]))
            dp.append(abs(j["true_peak_dbtp"] - ref[1]))
        if dl:
            rows.append(("Loudness vs ffmpeg: tracks", str(len(dl))))
            rows.append(("Integrated LUFS abs. error, mean / max (LU)", f"{sum(dl) / len(dl):.3f} / {max(dl):.3f}"))
            rows.append(("Integrated LUFS within 0.5 LU", f"{sum(d <= 0.5 for d in dl)} of {len(dl)}"))
            rows.append(("True peak abs. error, mean / max (dB)", f"{sum(dp) / len(dp):.3f} / {max(dp):.3f}"))
            rows.append(("True peak within 0.5 dB", f"{sum(d <= 0.5 for d in dp)} of {len(dp)}"))

    print("| Measure | Value |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()

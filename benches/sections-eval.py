#!/usr/bin/env python3
"""Scores Sonica's song sections, repeat labels, section functions and drum
hits against songs with known structure (issue 15), and optionally its
drum-pattern search.

    benches/make-structured.py /tmp/structured            # 24 songs, ~1 min
    benches/sections-eval.py /tmp/structured [--bin target/release/sonica]
        [--jobs J] [--verbose] [--no-before] [--save PREFIX]
    benches/make-structured.py /tmp/patterns --patterns   # 16 bases + 64 queries
    benches/sections-eval.py /tmp/structured --patterns /tmp/patterns
    benches/sections-eval.py /tmp/structured --self-test  # the scorer on fake answers

DEST is what make-structured.py wrote (truth.jsonl and songs/). For every
song it runs `$BIN analyze --json --hits FILE` (one process per file, J at
once, default the CPU count; $SONICA_BIN also names the binary), and again
with `--hpss` (the separation on) and again with `--no-hpss` (off, the shipped default: the "before HPSS" column; --no-before skips it, and a
binary that rejects the flag gets "n/a"). --save PREFIX keeps the answers in
PREFIX.hpss.jsonl and PREFIX.no-hpss.jsonl; --from PREFIX scores saved
answers without running anything.

The analyzer's JSON (one object a line):
    {"file", "duration_s", "tempo_bpm", "key",
     "hits": [[t_s, "kick"|"snare"|"hihat"], ...],
     "sections": [{"start_s", "end_s", "label", "function", "function_confidence",
                   "pattern": {"steps_per_bar": 16, "grid": {"kick": [16 floats], ...}, ...}}]}

Measures (the mir_eval definitions, reimplemented with the standard library;
--self-test compares them with mir_eval itself when it is importable):
- boundaries: hit rate F at +-3 s and +-0.5 s (mir_eval.segment.detection
  with trim=True: the first and last boundary are ignored; one-to-one
  matching), after mir_eval's interval adjustment (the estimate is cropped
  or padded to the truth's span). Mean over songs and pooled over all
  boundaries. Targets: F@3 >= 0.85, F@0.5 >= 0.5.
- repeat labels: pairwise frame F (mir_eval.segment.pairwise, 0.1 s frames).
  Target >= 0.8.
- function accuracy: the share of true sections whose most-overlapping
  estimated section has the same function (intro, verse, prechorus, chorus,
  bridge, outro; spelling variants such as "pre-chorus", "refrain", "coda"
  are mapped), and the share of time with the same function.
- drum hits: onset F per voice at +-50 ms (mir_eval.onset.f_measure,
  one-to-one), pooled over all songs (and the mean per song in --verbose),
  with and without HPSS. Targets: kick >= 0.90, snare >= 0.80, hi-hat >= 0.80.
  Voice names kick/bd, snare/sd, hihat/hi-hat/hat/hh are accepted.
- pattern grids: per true section with drums, the 16-step grid of the
  most-overlapping estimated section (cells >= 0.5 are hits) against the
  true grid, step F per voice (a diagnostic; no phase search).
- tempo within 4 % and exact key, for orientation.

Pattern search (--patterns DIR, DIR from make-structured.py --patterns):
ingests DIR/base/* into a temporary library (`$BIN --data-dir D ingest
--json`), starts `$BIN --data-dir D serve --bind 127.0.0.1:0`, POSTs every
query clip to /search/patterns as multipart (`file`, `limit=5`), and counts
a query as found when one of the first 1 / 5 result groups is its base
clip's track. Target top-5 >= 0.9. A 404 from the route stops with a
message saying the build has no pattern search.

Exit status: 0 when scored (targets are reported, not enforced), 1 when the
self-test fails, 2 on usage or setup errors. Standard library only.
"""
import argparse
import bisect
import concurrent.futures
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

VOICES = ("kick", "snare", "hihat")
VOICE_ALIASES = {"kick": "kick", "bd": "kick", "bassdrum": "kick", "bass_drum": "kick",
                 "snare": "snare", "sd": "snare", "hihat": "hihat", "hi-hat": "hihat", "hi_hat": "hihat",
                 "hat": "hihat", "hh": "hihat", "hats": "hihat"}
FUNCTION_ALIASES = {"prechorus": "prechorus", "pre-chorus": "prechorus", "pre_chorus": "prechorus",
                    "pre chorus": "prechorus", "build": "prechorus", "refrain": "chorus", "coda": "outro",
                    "ending": "outro", "end": "outro", "start": "intro"}
TARGETS = {"f3": 0.85, "f05": 0.5, "pairwise": 0.8, "kick": 0.90, "snare": 0.80, "hihat": 0.80, "top5": 0.9}
FRAME = 0.1


# ---------------------------------------------------------------- measures (mir_eval's definitions)

def adjust(intervals, labels, t_min=0.0, t_max=None, start_label="__T_MIN", end_label="__T_MAX"):
    """mir_eval.util.adjust_intervals: crop/pad intervals to [t_min, t_max]."""
    iv = [list(x) for x in intervals]
    labels = list(labels)
    if not iv:
        return ([[t_min, t_max]], [start_label]) if t_max is not None else ([], [])
    if t_min is not None:
        first = next((i for i, x in enumerate(iv) if x[1] >= t_min), None)
        if first is not None:
            iv, labels = iv[first:], labels[first:]
        iv = [[max(t_min, a), max(t_min, b)] for a, b in iv]
        lo = min(min(x) for x in iv)
        if lo > t_min:
            iv.insert(0, [t_min, lo])
            labels.insert(0, start_label)
    if t_max is not None:
        last = next((i for i, x in enumerate(iv) if x[0] > t_max), None)
        if last is not None:
            iv, labels = iv[:last], labels[:last]
        iv = [[min(t_max, a), min(t_max, b)] for a, b in iv]
        hi = max(max(x) for x in iv)
        if hi < t_max:
            iv.append([hi, t_max])
            labels.append(end_label)
    return iv, labels


def boundaries(intervals):
    return sorted({round(t, 5) for x in intervals for t in x})


def match(ref, est, window):
    """Size of the maximum one-to-one matching with |r - e| <= window (two
    pointers over sorted lists; optimal for events on a line)."""
    ref, est = sorted(ref), sorted(est)
    i = j = m = 0
    while i < len(ref) and j < len(est):
        if abs(ref[i] - est[j]) <= window:
            m, i, j = m + 1, i + 1, j + 1
        elif ref[i] < est[j]:
            i += 1
        else:
            j += 1
    return m


def prf(m, n_ref, n_est):
    if n_ref == 0 or n_est == 0:
        return 0.0, 0.0, 0.0
    p, r = m / n_est, m / n_ref
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def detection(ref_iv, est_iv, window):
    """(matches, n_ref, n_est) as mir_eval.segment.detection(trim=True) counts them."""
    rb, eb = boundaries(ref_iv)[1:-1], boundaries(est_iv)[1:-1]
    return match(rb, eb, window), len(rb), len(eb)


def samples(intervals, labels, frame=FRAME):
    """mir_eval.util.intervals_to_samples: the label at t = k * frame, with
    t computed in float32 as mir_eval does (so frames on a boundary agree)."""
    n = int((max(max(x) for x in intervals) / frame) // 1)
    f = _f32(frame)
    times = [_f32(k * f) for k in range(n)]
    out = [None] * n
    for (a, b), lab in zip(intervals, labels):
        lo, hi = bisect.bisect_left(times, a), bisect.bisect_right(times, b)
        out[lo:hi] = [lab] * (hi - lo)
    return out


def _f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def pairs(counts):
    return sum(c * (c - 1) // 2 for c in counts)


def pairwise_counts(ref_iv, ref_lab, est_iv, est_lab):
    """(agreeing pairs in both, in the truth, in the estimate) over 0.1 s frames."""
    y_ref, y_est = samples(ref_iv, ref_lab), samples(est_iv, est_lab)
    n = min(len(y_ref), len(y_est))
    cr, ce, cb = {}, {}, {}
    for k in range(n):
        cr[y_ref[k]] = cr.get(y_ref[k], 0) + 1
        ce[y_est[k]] = ce.get(y_est[k], 0) + 1
        cb[(y_ref[k], y_est[k])] = cb.get((y_ref[k], y_est[k]), 0) + 1
    return pairs(cb.values()), pairs(cr.values()), pairs(ce.values())


def norm_function(f):
    f = (f or "").strip().lower()
    return FUNCTION_ALIASES.get(f, f.replace("-", "").replace("_", "").replace(" ", ""))


def norm_voice(v):
    return VOICE_ALIASES.get(str(v).strip().lower())


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


def best_overlap(sec, est):
    best, arg = 0.0, None
    for e in est:
        o = overlap(sec["start_s"], sec["end_s"], e["start_s"], e["end_s"])
        if o > best:
            best, arg = o, e
    return arg


def parse_key(s):
    m = re.match(r"^\s*([A-Ga-g])([#b]?)\s*(major|minor)\s*$", s or "")
    if not m:
        return None
    pc = ({"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1).upper()]
          + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    return pc, m.group(3)


def score_song(truth, est):
    """Raw counts for one song; est is the analyzer's JSON object (or None)."""
    est = est or {}
    ts = truth["sections"]
    ref_iv = [[s["start_s"], s["end_s"]] for s in ts]
    ref_lab = [s["label"] for s in ts]
    es = sorted([s for s in est.get("sections") or [] if s.get("end_s", 0) > s.get("start_s", 0)],
                key=lambda s: s["start_s"])
    ref_iv, ref_lab = adjust(ref_iv, ref_lab, t_min=0.0)
    t_max = max(max(x) for x in ref_iv)
    est_iv, est_lab = adjust([[s["start_s"], s["end_s"]] for s in es], [str(s.get("label")) for s in es],
                             t_min=0.0, t_max=t_max)
    out = {"file": truth["file"], "missing": not est, "n_sections": len(es)}
    out["b3"] = detection(ref_iv, est_iv, 3.0)
    out["b05"] = detection(ref_iv, est_iv, 0.5)
    out["pw"] = pairwise_counts(ref_iv, ref_lab, est_iv, est_lab)
    # functions: per true section, and per frame
    ok = 0
    for s in ts:
        e = best_overlap(s, es)
        ok += e is not None and norm_function(e.get("function")) == norm_function(s["function"])
    y_ref = samples(ref_iv, _function_labels(ts, ref_iv))
    y_est = samples(est_iv, _function_labels(es, est_iv))
    n = min(len(y_ref), len(y_est))
    out["fn"] = (ok, len(ts), sum(y_ref[k] == y_est[k] for k in range(n)), n)
    # drums
    hits = {v: [] for v in VOICES}
    for h in est.get("hits") or []:
        v = norm_voice(h[1]) if isinstance(h, (list, tuple)) and len(h) >= 2 else \
            norm_voice(h.get("drum") or h.get("voice")) if isinstance(h, dict) else None
        t = h[0] if isinstance(h, (list, tuple)) else h.get("t_s") if isinstance(h, dict) else None
        if v and isinstance(t, (int, float)):
            hits[v].append(float(t))
    ref_hits = {v: [d["t_s"] for d in truth["drums"] if d["drum"] == v] for v in VOICES}
    out["drums"] = {v: (match(ref_hits[v], hits[v], 0.05), len(ref_hits[v]), len(hits[v])) for v in VOICES}
    # pattern grids
    grid = {v: [0, 0, 0] for v in VOICES}
    for s in ts:
        if not s.get("pattern"):
            continue
        e = best_overlap(s, es)
        pat = (e or {}).get("pattern") or {}
        g = pat.get("grid") or {}
        for v in VOICES:
            want = {i for i, x in enumerate(s["grid"][v]) if x}
            cells = g.get(v) or []
            have = {i for i, x in enumerate(cells) if isinstance(x, (int, float)) and x >= 0.5} \
                if pat.get("steps_per_bar", 16) == 16 else set()
            grid[v][0] += len(want & have)
            grid[v][1] += len(want)
            grid[v][2] += len(have)
    out["grid"] = {v: tuple(grid[v]) for v in VOICES}
    tempo = est.get("tempo_bpm")
    out["tempo_ok"] = isinstance(tempo, (int, float)) and abs(tempo - truth["tempo_bpm"]) <= 0.04 * truth["tempo_bpm"]
    out["key_ok"] = parse_key(est.get("key")) == parse_key(truth["key"]) and parse_key(truth["key"]) is not None
    out["est_labels"] = "".join(str(s.get("label"))[:1] for s in es)
    out["ref_labels"] = "".join(s["label"] for s in ts)
    return out


def _function_labels(es, est_iv):
    """Function labels for the adjusted estimate intervals (padding gets None-like labels)."""
    labels = []
    for a, b in est_iv:
        e = next((s for s in es if s["start_s"] <= a + 1e-9 and b <= s["end_s"] + 1e-9 and b > a), None)
        labels.append(norm_function(e.get("function")) if e else "__pad")
    return labels


# ---------------------------------------------------------------- running the analyzer

def analyse(binary, path, extra):
    p = subprocess.run([binary, "analyze", "--json", "--hits", *extra, path], capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line), None
            except json.JSONDecodeError as e:
                return None, f"bad JSON: {e}"
    return None, "no JSON line"


def analyse_all(binary, files, jobs, extra):
    res, errs = {}, {}
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        futs = {ex.submit(analyse, binary, f, extra): f for f in files}
        for fut in concurrent.futures.as_completed(futs):
            obj, err = fut.result()
            if obj is not None:
                res[futs[fut]] = obj
            else:
                errs[futs[fut]] = err
    return res, errs, time.time() - t0


# ---------------------------------------------------------------- reporting

def f3(x):
    return f"{x:.3f}"


def summary(scores):
    """Aggregates over songs: dict of (mean per song, pooled) and details."""
    n = len(scores)
    agg = {}
    for key in ("b3", "b05"):
        per = [prf(*s[key])[2] for s in scores]
        pm, pr, pe = (sum(s[key][i] for s in scores) for i in range(3))
        agg[key] = (sum(per) / n, prf(pm, pr, pe), per)
    pw = []
    for s in scores:
        b, r, e = s["pw"]
        p, rr = (b / e if e else 0.0), (b / r if r else 0.0)
        pw.append((p, rr, 2 * p * rr / (p + rr) if p + rr else 0.0))
    agg["pw"] = tuple(sum(x[i] for x in pw) / n for i in range(3))
    agg["pw_per"] = [x[2] for x in pw]
    agg["fn"] = (sum(s["fn"][0] for s in scores) / max(1, sum(s["fn"][1] for s in scores)),
                 sum(s["fn"][2] for s in scores) / max(1, sum(s["fn"][3] for s in scores)))
    for key in ("drums", "grid"):
        agg[key] = {}
        for v in VOICES:
            m, r, e = (sum(s[key][v][i] for s in scores) for i in range(3))
            per = [prf(*s[key][v])[2] for s in scores if s[key][v][1]]
            agg[key][v] = (prf(m, r, e), sum(per) / len(per) if per else 0.0, (m, r, e))
    agg["tempo"] = sum(s["tempo_ok"] for s in scores) / n
    agg["key"] = sum(s["key_ok"] for s in scores) / n
    agg["missing"] = sum(s["missing"] for s in scores)
    return agg


def print_report(truths, after, before, verbose, timing):
    a = summary(after)
    print(f"### Sections and drums on {len(truths)} generated songs\n")
    if a["missing"]:
        print(f"{a['missing']} songs without an answer (scored as empty)\n")
    print("| measure | mean per song | pooled | target |")
    print("|---|---|---|---|")
    print(f"| boundaries F@3 s | {f3(a['b3'][0])} | {f3(a['b3'][1][2])} (P {f3(a['b3'][1][0])}, R {f3(a['b3'][1][1])}) | >= {TARGETS['f3']} |")
    print(f"| boundaries F@0.5 s | {f3(a['b05'][0])} | {f3(a['b05'][1][2])} (P {f3(a['b05'][1][0])}, R {f3(a['b05'][1][1])}) | >= {TARGETS['f05']} |")
    print(f"| repeat labels pairwise F (P, R) | {f3(a['pw'][2])} (P {f3(a['pw'][0])}, R {f3(a['pw'][1])}) | | >= {TARGETS['pairwise']} |")
    print(f"| function accuracy: sections / time | {f3(a['fn'][0])} / {f3(a['fn'][1])} | | |")
    print(f"| tempo within 4 % / exact key | {f3(a['tempo'])} / {f3(a['key'])} | | |")
    print()
    b = summary(before) if before is not None else None
    print("| drum onsets +-50 ms | with HPSS (--hpss) F (P, R) | without (--no-hpss, the default) F (P, R) | target |")
    print("|---|---|---|---|")
    for v in VOICES:
        (p, r, f), _, (m, nr, ne) = a["drums"][v]
        cell_b = "n/a"
        if b is not None:
            (pb, rb, fb), _, _ = b["drums"][v]
            cell_b = f"{f3(fb)} ({f3(pb)}, {f3(rb)})"
        print(f"| {v} ({nr} true hits) | {f3(f)} ({f3(p)}, {f3(r)}) | {cell_b} | >= {TARGETS[v]} |")
    print()
    print("| pattern grid steps (diagnostic) | F (P, R) |")
    print("|---|---|")
    for v in VOICES:
        (p, r, f), _, _ = a["grid"][v]
        print(f"| {v} | {f3(f)} ({f3(p)}, {f3(r)}) |")
    if timing:
        print(f"\n{timing}")
    if verbose:
        print("\n| song | tempo true/est | labels true / est | F@3 | F@0.5 | pairwise F | functions | kick F | snare F | hihat F |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for t, s in zip(truths, after):
            b_ = s["pw"]
            p, r = (b_[0] / b_[2] if b_[2] else 0), (b_[0] / b_[1] if b_[1] else 0)
            pwf = 2 * p * r / (p + r) if p + r else 0
            d = " | ".join(f3(prf(*s["drums"][v])[2]) for v in VOICES)
            print(f"| {t['file']} | {t['tempo_bpm']:.0f}/{(s.get('tempo') or 0):.0f} | {s['ref_labels']} / {s['est_labels']} | "
                  f"{f3(prf(*s['b3'])[2])} | {f3(prf(*s['b05'])[2])} | {f3(pwf)} | {s['fn'][0]}/{s['fn'][1]} | {d} |")


# ---------------------------------------------------------------- self-test

def fake_answer(truth, sections=None, hits=None, tempo=None, key=None):
    secs = sections if sections is not None else [
        {"index": i, "start_s": s["start_s"], "end_s": s["end_s"], "label": s["label"], "function": s["function"],
         "function_confidence": 1.0,
         "pattern": {"id": None, "tempo_bpm": truth["tempo_bpm"], "time_signature": "4/4", "steps_per_bar": 16,
                     "grid": {v: [float(x) for x in s["grid"][v]] for v in VOICES}, "quality": 1.0}}
        for i, s in enumerate(truth["sections"])]
    return {"file": truth["file"], "duration_s": truth["duration_s"], "tempo_bpm": tempo or truth["tempo_bpm"],
            "key": key or truth["key"], "sections": secs,
            "hits": hits if hits is not None else [[d["t_s"], d["drum"]] for d in truth["drums"]]}


def self_test(truths):
    """Scores fake answers built from the truth; checks the expected numbers."""
    fails = []

    def check(name, got, want, tol=1e-9):
        ok = abs(got - want) <= tol
        print(f"| {name} | {got:.4f} | {want:.4f} | {'ok' if ok else 'FAIL'} |")
        if not ok:
            fails.append(name)

    def run(fn):
        sc = [score_song(t, fn(t)) for t in truths]
        return sc, summary(sc)

    print(f"### Scorer self-test on {len(truths)} songs' truth\n")
    print("| case | got | expected | |")
    print("|---|---|---|---|")
    _, s = run(lambda t: fake_answer(t))
    for name, got in (("exact: F@3", s["b3"][1][2]), ("exact: F@0.5", s["b05"][1][2]), ("exact: pairwise F", s["pw"][2]),
                      ("exact: function accuracy", s["fn"][0]), ("exact: function time share", s["fn"][1]),
                      ("exact: tempo", s["tempo"]), ("exact: key", s["key"]),
                      *((f"exact: {v} F", s["drums"][v][0][2]) for v in VOICES),
                      *((f"exact: {v} grid F", s["grid"][v][0][2]) for v in VOICES)):
        check(name, got, 1.0)

    def relabel(t):
        a = fake_answer(t)
        for x in a["sections"]:
            x["label"] = "x" + chr(ord("Z") - (ord(x["label"]) - ord("A")))
        return a
    _, s = run(relabel)
    check("labels renamed: pairwise F", s["pw"][2], 1.0)

    def shifted(dt):
        def f(t):
            a = fake_answer(t)
            for i, x in enumerate(a["sections"]):
                if i > 0:
                    x["start_s"] += dt
                if i < len(a["sections"]) - 1:
                    x["end_s"] += dt
            return a
        return f
    _, s = run(shifted(1.0))
    check("boundaries +1 s: F@3", s["b3"][1][2], 1.0)
    check("boundaries +1 s: F@0.5", s["b05"][1][2], 0.0)
    check("boundaries +1 s: hits within +-1 s", s["drums"]["kick"][0][2], 1.0)
    sc, s = run(shifted(0.4))
    check("boundaries +0.4 s: F@0.5", s["b05"][1][2], 1.0)
    # +0.4 s moves 4 frames per boundary from each section to its predecessor: expected pairwise by hand
    want = []
    for t in truths:
        ref = [(s_["start_s"], s_["end_s"], s_["label"]) for s_ in t["sections"]]
        fr = [None] * int(ref[-1][1] / FRAME)
        fe = list(fr)
        for k in range(len(fr)):
            tt = _f32(k * _f32(FRAME))  # mir_eval's float32 frame times
            fr[k] = next(l for (a, b, l) in reversed(ref) if a <= tt)
            fe[k] = next(l for i, (a, b, l) in reversed(list(enumerate(ref))) if (a + 0.4 if i else a) <= tt)
        both = ref_pairs = est_pairs = 0
        from collections import Counter
        cb, cr, ce = Counter(zip(fr, fe)), Counter(fr), Counter(fe)
        both, ref_pairs, est_pairs = pairs(cb.values()), pairs(cr.values()), pairs(ce.values())
        p, r = both / est_pairs, both / ref_pairs
        want.append(2 * p * r / (p + r))
    check("boundaries +0.4 s: pairwise F vs a brute-force frame count", s["pw"][2], sum(want) / len(want), 1e-9)

    def one_label(t):
        return fake_answer(t, sections=[{"start_s": 0.0, "end_s": t["duration_s"], "label": "A", "function": "verse"}])
    sc, s = run(one_label)
    want_p = []
    for t in truths:
        n = int(t["sections"][-1]["end_s"] / FRAME)
        lab = samples([[x["start_s"], x["end_s"]] for x in t["sections"]], [x["label"] for x in t["sections"]])
        counts = {}
        for l in lab:
            counts[l] = counts.get(l, 0) + 1
        want_p.append(pairs(counts.values()) / (n * (n - 1) // 2))
    check("one section: pairwise recall", s["pw"][1], 1.0)
    check("one section: pairwise precision = sum C(n_label,2) / C(n,2)", s["pw"][0], sum(want_p) / len(want_p))
    check("one section: F@3 (no inner boundary)", s["b3"][1][2], 0.0)
    verse = sum(x["function"] == "verse" for t in truths for x in t["sections"]) / sum(len(t["sections"]) for t in truths)
    check("one 'verse' section: function accuracy = share of verses", s["fn"][0], verse)

    def merged(t):  # drop every second inner boundary
        secs = fake_answer(t)["sections"]
        out = []
        for i, x in enumerate(secs):
            if i % 2 == 1 and out:
                out[-1]["end_s"] = x["end_s"]
            else:
                out.append(dict(x))
        return fake_answer(t, sections=out)
    _, s = run(merged)
    kept = sum(len(range(0, len(t["sections"]), 2)) - 1 for t in truths)
    inner = sum(len(t["sections"]) - 1 for t in truths)
    check("every 2nd boundary dropped: pooled precision", s["b3"][1][0], 1.0)
    check("every 2nd boundary dropped: pooled recall", s["b3"][1][1], kept / inner)

    def hits_shift(dt, voice_names=None, double=False, every=1):
        def f(t):
            h = [[d["t_s"] + dt, (voice_names or {}).get(d["drum"], d["drum"])] for i, d in enumerate(t["drums"])
                 if i % every == 0]
            if double:
                h += [[x + 0.02, v] for x, v in h]
            return fake_answer(t, hits=h)
        return f
    for dt in (0.04, -0.049):
        _, s = run(hits_shift(dt))
        for v in VOICES:
            check(f"hits {dt * 1000:+.0f} ms: {v} F", s["drums"][v][0][2], 1.0)
    # +-60 ms and random jitter: the two-pointer count against augmenting-path maximum matching
    import random
    rng = random.Random(3)
    worst = 0
    for t in truths[:6]:
        for dt in (0.06, -0.06, None):
            for v in VOICES:
                ref = [d["t_s"] for d in t["drums"] if d["drum"] == v]
                est = [x + (dt if dt is not None else rng.gauss(0, 0.05)) for x in ref if rng.random() < 0.9]
                est += [rng.uniform(0, t["duration_s"]) for _ in range(20)]
                worst = max(worst, abs(match(ref, est, 0.05) - kuhn(ref, est, 0.05)))
    check("hits +-60 ms / jittered: one-to-one count minus augmenting-path maximum (6 songs)", worst, 0.0)
    # hits 16th notes apart (>= 100 ms at 150 BPM) keep one-to-one matches distinct at +-40 ms
    _, s = run(hits_shift(0.0, double=True))
    for v in VOICES:
        check(f"every hit doubled 20 ms later: {v} P (one-to-one)", s["drums"][v][0][0], 0.5)
        check(f"every hit doubled 20 ms later: {v} F", s["drums"][v][0][2], 2 / 3)
    _, s = run(hits_shift(0.0, voice_names={"kick": "BD", "snare": "sd", "hihat": "hi-hat"}))
    check("voice aliases BD/sd/hi-hat: hihat F", s["drums"]["hihat"][0][2], 1.0)
    _, s = run(hits_shift(0.0, every=2))
    sub = {v: sum(1 for t in truths for i, d in enumerate(t["drums"]) if i % 2 == 0 and d["drum"] == v) for v in VOICES}
    tot = {v: sum(1 for t in truths for d in t["drums"] if d["drum"] == v) for v in VOICES}
    check("every 2nd hit dropped: snare P", s["drums"]["snare"][0][0], 1.0)
    check("every 2nd hit dropped: snare R", s["drums"]["snare"][0][1], sub["snare"] / tot["snare"])
    _, s = run(lambda t: fake_answer(t, hits=[[d["t_s"], d["drum"]] for d in t["drums"] if d["drum"] != "hihat"]
                                        + [[1.0, "tom"], [2.0, "crash"]]))
    check("no hi-hats, unknown voices ignored: hihat F", s["drums"]["hihat"][0][2], 0.0)
    check("no hi-hats, unknown voices ignored: kick F", s["drums"]["kick"][0][2], 1.0)
    # a tiny song worked by hand: truth A/B/A 10 s each, estimate X 0-15, Y 15-30
    tiny = {"file": "tiny", "tempo_bpm": 120, "key": "C major", "duration_s": 30.0, "drums": [],
            "sections": [{"start_s": a_, "end_s": b_, "label": l, "function": f, "grid": {v: [0] * 16 for v in VOICES}}
                         for a_, b_, l, f in ((0, 10, "A", "verse"), (10, 20, "B", "chorus"), (20, 30, "A", "verse"))]}
    s = score_song(tiny, {"sections": [{"start_s": 0, "end_s": 15, "label": "X", "function": "verse"},
                                       {"start_s": 15, "end_s": 30, "label": "Y", "function": "chorus"}]})
    b, r, e = s["pw"]
    check("hand example: pairwise P = 12350/22350", b / e, 12350 / 22350)
    check("hand example: pairwise R = 12350/24850", b / r, 12350 / 24850)
    check("hand example: F@3 (10,20 vs 15: none)", prf(*s["b3"])[2], 0.0)
    check("hand example: functions by overlap (B ties X/Y: the earlier, X, wins) 1/3", s["fn"][0] / s["fn"][1], 1 / 3)
    check("hand example: function time share 150/300", s["fn"][2] / s["fn"][3], 0.5)
    s = score_song(tiny, {"sections": [{"start_s": 0, "end_s": 12, "label": "X", "function": "verse"},
                                       {"start_s": 12, "end_s": 30, "label": "Y", "function": "chorus"}]})
    check("hand example: functions by overlap 2/3 (est X 0-12 verse, Y 12-30 chorus)", s["fn"][0] / s["fn"][1], 2 / 3)
    check("hand example: F@3 (10, 20 vs 12: P 1, R 1/2)", prf(*s["b3"])[2], 2 / 3)
    s = score_song(tiny, {"sections": [{"start_s": 0, "end_s": 11, "label": "X"}, {"start_s": 11, "end_s": 18, "label": "Y"},
                                       {"start_s": 18, "end_s": 25, "label": "X"}]})  # stops early: padded
    check("hand example 2: F@3 (11,18 matched; 25 extra)", prf(*s["b3"])[2], 2 * (2 / 3) * 1 / (2 / 3 + 1))
    check("hand example 2: F@0.5", prf(*s["b05"])[2], 0.0)
    mir_eval_crosscheck(truths, check)
    print(f"\n{'all checks passed' if not fails else str(len(fails)) + ' checks FAILED: ' + ', '.join(fails)}")
    return 1 if fails else 0


def kuhn(ref, est, window):
    """Maximum bipartite matching by augmenting paths (a slow reference for match())."""
    ref, est = sorted(ref), sorted(est)
    adj = []
    for r in ref:
        lo = bisect.bisect_left(est, r - window - 1e-9)
        adj.append([j for j in range(lo, len(est)) if est[j] <= r + window + 1e-9 and abs(est[j] - r) <= window])
    owner = [-1] * len(est)
    sys.setrecursionlimit(max(10000, 4 * len(ref)))

    def augment(i, seen):
        for j in adj[i]:
            if j not in seen:
                seen.add(j)
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False
    return sum(augment(i, set()) for i in range(len(ref)))


def mir_eval_crosscheck(truths, check):
    """When mir_eval (and numpy) can be imported, compares with it on perturbed estimates."""
    try:
        import mir_eval
        import numpy as np
    except ImportError:
        print("| mir_eval cross-check | skipped | (mir_eval not importable) | |")
        return
    import random
    rng = random.Random(1)
    worst = {"detection": 0.0, "pairwise": 0.0, "onset": 0.0}
    for t in truths:
        for trial in range(4):
            # a random estimate: jittered, merged, split, relabelled, possibly stopping early
            bounds = [s["start_s"] for s in t["sections"][1:]]
            est_b = sorted({round(b + rng.uniform(-2, 2), 3) for b in bounds if rng.random() < 0.8} |
                           {round(rng.uniform(1, t["duration_s"] - 1), 3) for _ in range(rng.randint(0, 3))})
            end = t["duration_s"] if trial % 2 == 0 else t["duration_s"] - rng.uniform(1, 10)
            est_b = [b for b in est_b if 0 < b < end]
            edges = [0.0] + est_b + [end]
            iv = [[edges[i], edges[i + 1]] for i in range(len(edges) - 1)]
            lab = [rng.choice("ABCD") for _ in iv]
            fake = {"sections": [{"start_s": a, "end_s": b, "label": l, "function": "verse"} for (a, b), l in zip(iv, lab)],
                    "hits": [[d["t_s"] + rng.gauss(0, 0.04), d["drum"]] for d in t["drums"] if rng.random() < 0.9] +
                            [[rng.uniform(0, t["duration_s"]), rng.choice(VOICES)] for _ in range(50)]}
            s = score_song(t, fake)
            ref_iv = np.array([[x["start_s"], x["end_s"]] for x in t["sections"]])
            ref_lab = [x["label"] for x in t["sections"]]
            r_iv, r_lab = mir_eval.util.adjust_intervals(ref_iv, list(ref_lab), t_min=0.0)
            e_iv, e_lab = mir_eval.util.adjust_intervals(np.array(iv), list(lab), t_min=0.0, t_max=r_iv.max())
            for w, key in ((3.0, "b3"), (0.5, "b05")):
                me = mir_eval.segment.detection(r_iv, e_iv, window=w, trim=True)[2]
                worst["detection"] = max(worst["detection"], abs(me - prf(*s[key])[2]))
            me = mir_eval.segment.pairwise(r_iv, r_lab, e_iv, e_lab, frame_size=FRAME)[2]
            b, r, e = s["pw"]
            p, rr = b / e, b / r
            worst["pairwise"] = max(worst["pairwise"], abs(me - (2 * p * rr / (p + rr) if p + rr else 0)))
            for v in VOICES:
                ref_on = np.array(sorted(d["t_s"] for d in t["drums"] if d["drum"] == v))
                est_on = np.array(sorted(h[0] for h in fake["hits"] if h[1] == v))
                if len(ref_on) and len(est_on):
                    me = mir_eval.onset.f_measure(ref_on, est_on, window=0.05)[0]
                    worst["onset"] = max(worst["onset"], abs(me - prf(*s["drums"][v])[2]))
    for k, v in worst.items():
        check(f"mir_eval {k}: max |difference| over {4 * len(truths)} random estimates", v, 0.0, 1e-6)


# ---------------------------------------------------------------- pattern search

def multipart(fields, boundary="sonica-sections-eval"):
    body = b""
    for name, value, filename in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        ctype = "Content-Type: application/octet-stream\r\n" if filename else ""
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n{ctype}\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def result_tracks(obj):
    """Track ids and paths of the result groups, in order (tolerant of the response's shape)."""
    items = obj if isinstance(obj, list) else next(
        (obj[k] for k in ("results", "groups", "matches", "tracks", "hits") if isinstance(obj.get(k), list)), [])
    out = []
    for it in items:
        if not isinstance(it, dict):
            continue
        tr = it.get("track")
        tid = it.get("track_id", tr.get("id") if isinstance(tr, dict) else tr if isinstance(tr, int) else it.get("id"))
        path = it.get("path") or (tr.get("path") if isinstance(tr, dict) else None)
        key = (tid, path)
        if key not in out:
            out.append(key)
    return out


def pattern_search(binary, pdir, verbose):
    clips = [json.loads(l) for l in open(os.path.join(pdir, "patterns.jsonl"))]
    bases = [c for c in clips if c["role"] == "base"]
    queries = [c for c in clips if c["role"] == "query"]
    tmp = tempfile.mkdtemp(prefix="sonica-patterns-")
    srv = None
    try:
        data = os.path.join(tmp, "data")
        t0 = time.time()
        p = subprocess.run([binary, "--data-dir", data, "ingest", "--json",
                            *[os.path.abspath(os.path.join(pdir, c["file"])) for c in bases]],
                           capture_output=True, text=True)
        by_id, by_path = {}, {}
        base_of = {os.path.abspath(os.path.join(pdir, c["file"])): c["pattern_id"] for c in bases}
        for line in p.stdout.splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            path = r.get("path") or ""
            pid = base_of.get(os.path.abspath(path)) or next(
                (v for k, v in base_of.items() if os.path.basename(k) == os.path.basename(path)), None)
            if pid and r.get("id") is not None:
                by_id[r["id"]] = pid
                by_path[os.path.basename(path)] = pid
        if len(by_id) < len(bases):
            print(f"ingest stored {len(by_id)} of {len(bases)} base clips (exit {p.returncode}): "
                  f"{p.stderr.strip()[-300:]}", file=sys.stderr)
            if not by_id:
                return 2
        ingest_s = time.time() - t0
        srv = subprocess.Popen([binary, "--data-dir", data, "serve", "--bind", "127.0.0.1:0",
                                "--songs-dir", os.path.join(tmp, "songs")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        got = []
        reader = threading.Thread(target=lambda: got.append(srv.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        m = re.search(r"(http://[^\s]+)", got[0] if got else "")
        if not m:
            print("sonica serve printed no 'listening on' line within 60 s", file=sys.stderr)
            return 2
        base = m.group(1).rstrip("/")
        deadline = time.time() + 300
        while time.time() < deadline:  # let queued analyses finish
            try:
                h = json.loads(urllib.request.urlopen(f"{base}/health", timeout=5).read())
                if not h.get("queued"):
                    break
            except (urllib.error.URLError, ValueError):
                pass
            time.sleep(0.3)
        # does the route exist? a small body (no file) gets 400/422 from it, 404/405 without it
        body, ctype = multipart([("limit", b"5", None)])
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/search/patterns", data=body, method="POST",
                                                          headers={"Content-Type": ctype}), timeout=30).read()
        except urllib.error.HTTPError as e:
            if e.code in (404, 405):
                print(f"POST /search/patterns answered {e.code}: this build of sonica has no pattern search "
                      f"route yet; nothing to score", file=sys.stderr)
                return 2
        except (urllib.error.URLError, OSError) as e:  # the route may drop a file-less body: go on
            print(f"(probe of POST /search/patterns without a file: {e})", file=sys.stderr)
        top1 = top5 = 0
        by_variant = {}
        lat = []
        for q in queries:
            with open(os.path.join(pdir, q["file"]), "rb") as f:
                body, ctype = multipart([("file", f.read(), os.path.basename(q["file"])), ("limit", b"5", None)])
            req = urllib.request.Request(f"{base}/search/patterns", data=body, method="POST",
                                         headers={"Content-Type": ctype})
            t1 = time.time()
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    obj = json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code in (404, 405):
                    print(f"POST /search/patterns answered {e.code}: this build of sonica has no pattern search "
                          f"route yet; nothing to score", file=sys.stderr)
                    return 2
                print(f"{q['file']}: HTTP {e.code} {e.read()[:200]!r}", file=sys.stderr)
                obj = {}
            except (urllib.error.URLError, OSError, ValueError) as e:
                print(f"{q['file']}: {e}", file=sys.stderr)
                obj = {}
            lat.append(time.time() - t1)
            found = [by_id.get(tid) or by_path.get(os.path.basename(path or "")) for tid, path in result_tracks(obj)]
            hit1 = bool(found) and found[0] == q["pattern_id"]
            hit5 = q["pattern_id"] in found[:5]
            top1 += hit1
            top5 += hit5
            kind = "same tempo, other kit" if q["variant"].startswith("tempo x1.00") else \
                "slower" if float(q["variant"].split("x")[1].split(",")[0]) < 1 else "faster"
            v = by_variant.setdefault(kind, [0, 0, 0])
            v[0] += 1
            v[1] += hit1
            v[2] += hit5
            if verbose:
                print(f"  {q['file']} ({q['pattern']}, {q['variant']}): top-1 {'yes' if hit1 else 'no'}, "
                      f"top-5 {'yes' if hit5 else 'no'}; results {found[:5]}")
        n = len(queries)
        print(f"\n### Pattern search: {n} queries against {len(bases)} base clips\n")
        print("| queries | n | top-1 | top-5 | target top-5 |")
        print("|---|---|---|---|---|")
        print(f"| all | {n} | {f3(top1 / n)} | {f3(top5 / n)} | >= {TARGETS['top5']} |")
        for kind, (k, h1, h5) in sorted(by_variant.items()):
            print(f"| {kind} | {k} | {f3(h1 / k)} | {f3(h5 / k)} | |")
        lat.sort()
        print(f"\ningest of {len(bases)} clips {ingest_s:.1f} s; query latency median "
              f"{lat[len(lat) // 2] * 1000:.0f} ms, worst {lat[-1] * 1000:.0f} ms")
        return 0
    finally:
        if srv is not None:
            srv.terminate()
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dest")
    ap.add_argument("--bin", default=os.environ.get("SONICA_BIN", "target/release/sonica"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("SONICA_EVAL_JOBS", os.cpu_count() or 2)))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-before", action="store_true", help="skip the --no-hpss run")
    ap.add_argument("--save", metavar="PREFIX", help="keep the answers in PREFIX.hpss.jsonl / PREFIX.no-hpss.jsonl")
    ap.add_argument("--from", dest="from_", metavar="PREFIX", help="score answers saved with --save")
    ap.add_argument("--patterns", metavar="DIR", help="also score pattern search on make-structured.py --patterns DIR")
    ap.add_argument("--self-test", action="store_true", help="score fake answers built from the truth and check them")
    a = ap.parse_args()
    truth_path = os.path.join(a.dest, "truth.jsonl")
    if not os.path.exists(truth_path):
        print(f"no {truth_path}: run benches/make-structured.py {a.dest} first", file=sys.stderr)
        return 2
    truths = [json.loads(l) for l in open(truth_path)]
    if a.self_test:
        return self_test(truths)
    files = [os.path.join(a.dest, t["file"]) for t in truths]
    runs = {}
    timing = ""
    if a.from_:
        for tag in ("hpss", "no-hpss"):
            p = f"{a.from_}.{tag}.jsonl"
            if os.path.exists(p):
                runs[tag] = {os.path.join(a.dest, o["_song"]): o for o in map(json.loads, open(p))}
    else:
        if not (os.path.exists(a.bin) or shutil.which(a.bin)):
            print(f"no binary {a.bin}: build it (cargo build --release) or pass --bin", file=sys.stderr)
            return 2
        for tag, extra in (("hpss", ["--hpss"]), ("no-hpss", ["--no-hpss"])):
            if tag == "no-hpss" and a.no_before:
                continue
            res, errs, el = analyse_all(a.bin, files, a.jobs, extra)
            audio = sum(t["duration_s"] for t in truths)
            if errs:
                first = next(iter(errs.items()))
                print(f"{tag}: {len(errs)} of {len(files)} files failed, e.g. {first[0]}: {first[1]}", file=sys.stderr)
            if tag == "hpss" and not res:
                print(f"{a.bin} analyze --json --hits answered for no song: nothing to score", file=sys.stderr)
                return 2
            if tag == "no-hpss" and not res:
                print("the --no-hpss run gave no answers: 'before HPSS' is n/a", file=sys.stderr)
                continue
            if tag == "hpss":
                timing = (f"analyze --hits: {el:.1f} s for {len(files)} songs ({audio / 60:.1f} min of audio) "
                          f"with {a.jobs} processes, {audio / max(el, 1e-9):.0f}x real time")
            runs[tag] = res
            if a.save:
                with open(f"{a.save}.{tag}.jsonl", "w") as f:
                    for path, obj in res.items():
                        f.write(json.dumps({**obj, "_song": os.path.relpath(path, a.dest)}) + "\n")
    if "hpss" not in runs:
        print("no answers to score", file=sys.stderr)
        return 2
    after = [score_song(t, runs["hpss"].get(f)) for t, f in zip(truths, files)]
    for s, t, f in zip(after, truths, files):
        s["tempo"] = (runs["hpss"].get(f) or {}).get("tempo_bpm") or 0
    before = [score_song(t, runs["no-hpss"].get(f)) for t, f in zip(truths, files)] if "no-hpss" in runs else None
    print_report(truths, after, before, a.verbose, timing)
    if a.patterns:
        return pattern_search(a.bin, a.patterns, a.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Scores a radio-monitor play log against a generated show's true log (issue 17).

    benches/score-plays.py TRUTH.jsonl PLAYS.jsonl [--min-play 20] [--tol 2] [--quiet]

TRUTH.jsonl is written by make-radio-show.py (one segment per line; the
plays are the "track" segments). PLAYS.jsonl is one reported play per line
with at least "path" (any path; its basename names the corpus file),
"start_s" and "end_s" in show time; "offset_in_track_s" is used when
present. `sonica monitor --json` prints that shape, olaf-plays.py converts
Olaf's output to it. The same numbers then compare any two engines.

Matching: a report belongs to the truth play of the same file (by
basename) that it overlaps most. Per truth play of at least --min-play
seconds:
  found      at least one report belongs to it;
  start/end  the earliest start / latest end of its reports, against the
             truth's start_s / end_s (signed error = reported - true);
             "within tol" is |error| <= --tol seconds;
  split      two or more reports belong to it.
Reports that overlap no truth play of their file are "invented"; each is
charged to the truth segment it overlaps most (another library track,
unknown music, a jingle, speech, silence). Reports that belong to a truth
play shorter than --min-play are neither required nor invented: they count
as bonus finds of short plays.

Prints a markdown table, the problems one per line (unless --quiet), and a
final line with a JSON summary for scripts. Exit status is 0 whatever the
score (2 on unreadable input).
"""
import argparse
import json
import os
import signal
import statistics
import sys


def load(path, what):
    rows = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    print(f"score-plays: {path}:{n}: not JSON ({e}); line skipped", file=sys.stderr)
    except OSError as e:
        print(f"score-plays: cannot read {what} {path}: {e}", file=sys.stderr)
        sys.exit(2)
    return rows


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


def fmt_s(x):
    return "-" if x is None else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("truth")
    ap.add_argument("plays")
    ap.add_argument("--min-play", type=float, default=20.0, help="truth plays shorter than this are bonus (s)")
    ap.add_argument("--tol", type=float, default=2.0, help="start/end tolerance (s)")
    ap.add_argument("--label", default=None, help="engine name for the table header")
    ap.add_argument("--quiet", action="store_true", help="table and JSON only, no per-play problems")
    a = ap.parse_args()

    truth = load(a.truth, "truth")
    reports = []
    for r in load(a.plays, "plays"):
        try:
            start, end = float(r["start_s"]), float(r["end_s"])
            reports.append({
                "base": os.path.basename(str(r.get("path") or "")),
                # a zero-length report (one matched instant) still sits somewhere
                "start": start, "end": max(end, start + 0.01),
                "offset": float(r["offset_in_track_s"]) if r.get("offset_in_track_s") is not None else None,
                "raw": r,
            })
        except (KeyError, TypeError, ValueError):
            print(f"score-plays: report without start_s/end_s skipped: {r}", file=sys.stderr)
    reports.sort(key=lambda r: r["start"])

    plays = [dict(t, base=os.path.basename(t["path"]), reports=[])
             for t in truth if t.get("kind") == "track"]
    segments = [t for t in truth if "start_s" in t and "end_s" in t]

    invented = []
    for r in reports:
        best, best_ov = None, 0.0
        for t in plays:
            if t["base"] != r["base"]:
                continue
            ov = overlap(r["start"], r["end"], t["start_s"], t["end_s"])
            if ov > best_ov:
                best, best_ov = t, ov
        if best is not None:
            best["reports"].append(r)
            continue
        # charge it to the segment it overlaps most
        seg, seg_ov = None, 0.0
        for t in segments:
            ov = overlap(r["start"], r["end"], t["start_s"], t["end_s"])
            if ov > seg_ov:
                seg, seg_ov = t, ov
        if seg is None:
            on = "outside"
        elif seg["kind"] == "track":
            on = "other_track"
        else:
            on = seg["kind"]
        r["on"] = on
        r["seg"] = seg
        invented.append(r)

    long_ = [t for t in plays if t["end_s"] - t["start_s"] >= a.min_play]
    short = [t for t in plays if t["end_s"] - t["start_s"] < a.min_play]
    found = [t for t in long_ if t["reports"]]
    start_err, end_err, align_err = [], [], []
    problems = []
    for t in long_:
        if not t["reports"]:
            problems.append(f"missed    {t['start_s']:8.1f}-{t['end_s']:8.1f}  {t['path']}"
                            f"  ({t['end_s'] - t['start_s']:.0f} s, in: {t.get('transition_in')}"
                            f"{', talk-over' if 'talkover' in t else ''})")
            continue
        rs = t["reports"]
        t["start_err"] = min(r["start"] for r in rs) - t["start_s"]
        t["end_err"] = max(r["end"] for r in rs) - t["end_s"]
        start_err.append(t["start_err"])
        end_err.append(t["end_err"])
        first = min(rs, key=lambda r: r["start"])
        if first["offset"] is not None and t.get("offset_in_track_s") is not None:
            # where track time 0 falls in show time, reported vs true
            align_err.append((first["start"] - first["offset"]) - (t["start_s"] - t["offset_in_track_s"]))
        bad = []
        if abs(t["start_err"]) > a.tol:
            bad.append(f"start {t['start_err']:+.1f} s (in: {t.get('transition_in')}"
                       f"{', talk-over' if 'talkover' in t else ''})")
        if abs(t["end_err"]) > a.tol:
            bad.append(f"end {t['end_err']:+.1f} s (out: {t.get('transition_out')})")
        if len(rs) > 1:
            bad.append("split into " + ", ".join(f"{r['start']:.1f}-{r['end']:.1f}" for r in rs))
        if bad:
            problems.append(f"off       {t['start_s']:8.1f}-{t['end_s']:8.1f}  {t['path']}: " + "; ".join(bad))
    for r in invented:
        seg = r["seg"]
        where = (f"{seg['kind']} {os.path.basename(seg.get('path', ''))}".strip() if seg else "nothing")
        problems.append(f"invented  {r['start']:8.1f}-{r['end']:8.1f}  {r['base']} over {where}")

    n = len(long_)
    within_start = sum(1 for e in start_err if abs(e) <= a.tol)
    within_end = sum(1 for e in end_err if abs(e) <= a.tol)
    split = sum(1 for t in long_ if len(t["reports"]) > 1)
    short_found = sum(1 for t in short if t["reports"])
    inv_by = {}
    for r in invented:
        inv_by[r["on"]] = inv_by.get(r["on"], 0) + 1

    def med_max(v):
        v = [abs(x) for x in v]
        return (statistics.median(v), max(v)) if v else (None, None)

    sm, sx = med_max(start_err)
    em, ex = med_max(end_err)
    am, ax = med_max(align_err)

    def pct(k):
        return f"{k} / {n} ({100.0 * k / n:.0f} %)" if n else f"{k} / 0"

    label = a.label or os.path.basename(a.plays)
    order = ["other_track", "unknown_music", "jingle", "speech", "silence", "outside"]
    inv_txt = ", ".join(f"{k.replace('_', ' ')} {inv_by[k]}" for k in order if inv_by.get(k))
    print(f"| {label} | |")
    print("|---|---|")
    print(f"| truth plays >= {a.min_play:g} s | {n} |")
    print(f"| reported plays | {len(reports)} |")
    print(f"| found | {pct(len(found))} |")
    print(f"| start within ±{a.tol:g} s | {pct(within_start)} |")
    print(f"| end within ±{a.tol:g} s | {pct(within_end)} |")
    print(f"| start error median / max (s) | {fmt_s(sm)} / {fmt_s(sx)} |")
    print(f"| end error median / max (s) | {fmt_s(em)} / {fmt_s(ex)} |")
    if align_err:
        print(f"| alignment error median / max (s) | {am:.2f} / {ax:.2f} |")
    print(f"| split plays | {split} |")
    print(f"| invented plays | {len(invented)}{' (' + inv_txt + ')' if inv_txt else ''} |")
    print(f"| short plays (< {a.min_play:g} s) found, bonus | {short_found} / {len(short)} |")
    if problems and not a.quiet:
        print()
        for p in problems:
            print(p)
    summary = {
        "label": label, "truth_plays": n, "reported": len(reports), "found": len(found),
        "start_within_tol": within_start, "end_within_tol": within_end, "tol_s": a.tol,
        "start_err_median_s": sm, "start_err_max_s": sx, "end_err_median_s": em, "end_err_max_s": ex,
        "align_err_median_s": am, "align_err_max_s": ax,
        "split": split, "invented": len(invented), "invented_by": inv_by,
        "short_plays": len(short), "short_found": short_found, "min_play_s": a.min_play,
    }
    print()
    print(json.dumps(summary))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` is fine
    main()

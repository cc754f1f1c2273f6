#!/usr/bin/env python3
"""Ingest speed against the cost of decoding alone, old vs new in one run.

Why: ingest time on this project is mostly "decode + fingerprint + commit",
and the machine it is measured on is shared and noisy. A bare, single-thread
`ffmpeg` decode of the same files is the yardstick: it says what decoding
alone costs here and now, so "wall ÷ ffmpeg wall" and "CPU ÷ ffmpeg CPU" can
be compared across days and machines. Running every variant in the same
session, interleaved round by round (the starting variant rotates each
round), spreads background load over all of them instead of penalising
whichever ran last.

How:

    benches/ingest-speed.py --cmd old=/tmp/oldbin/sonica ingest \\
                            --cmd "new=target/release/sonica ingest" [--rounds 3]
    benches/ingest-speed.py --files-from my-list.txt --cmd "new=target/release/sonica ingest --jobs 1"

Files: by default the reference set of the query set, i.e. CORPUS/<line> for
each line of QUERIES/reference.txt (CORPUS = --corpus, $SONICA_CORPUS or
~/.cache/sonica-corpus; QUERIES = --queries, $SONICA_QUERIES or
~/.cache/sonica-queries; see ../shared/README.md to make them). With
--files-from LIST: one path a line (blank lines and lines starting with #
skipped, relative paths relative to the current directory).

Each round runs, in rotating order:
  * ffmpeg: `ffmpeg -nostdin -v error -threads 1 -i FILE -f null -` for every
    file, one after another;
  * each --cmd LABEL=COMMAND: COMMAND (split like a shell would) with
    `--data-dir DIR` and then all the files appended, DIR a fresh, empty
    temporary folder (under --tmp, default the system's) removed afterwards.
Wall seconds by the clock, CPU seconds as user+sys of the child and its
reaped descendants (os.wait4). Prints a markdown table of medians, with the
date, load average (before and after) and the exact command line. Exits 1 as
soon as any command fails (its stderr tail is shown), 2 on bad arguments.
Standard library only; needs ffmpeg and ffprobe on PATH.
"""
import argparse
import datetime
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def run_measured(argv, stdout, stderr):
    """Runs argv to completion; returns (exit status, wall s, CPU s)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, wall, ru.ru_utime + ru.ru_stime


def fail(msg, stderr_path=None):
    print(f"ingest-speed: {msg}", file=sys.stderr)
    if stderr_path and os.path.exists(stderr_path):
        with open(stderr_path, "rb") as f:
            tail = f.read()[-4000:].decode(errors="replace")
        if tail.strip():
            print("--- stderr tail ---\n" + tail.rstrip(), file=sys.stderr)
    sys.exit(1)


def duration_s(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                        "-of", "csv=p=0", path], capture_output=True, text=True)
    try:
        return float(r.stdout.strip())
    except ValueError:
        fail(f"ffprobe cannot read the duration of {path}: {r.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmd", action="append", default=[], metavar="LABEL=COMMAND",
                    help="a labelled ingest command; repeatable")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files-from", metavar="LIST", help="one audio path a line")
    ap.add_argument("--corpus", default=os.environ.get("SONICA_CORPUS",
                                                       os.path.expanduser("~/.cache/sonica-corpus")))
    ap.add_argument("--queries", default=os.environ.get("SONICA_QUERIES",
                                                        os.path.expanduser("~/.cache/sonica-queries")))
    ap.add_argument("--tmp", default=None, help="where the temporary data dirs go")
    a = ap.parse_args()

    cmds = []
    for c in a.cmd:
        label, sep, command = c.partition("=")
        argv = shlex.split(command)
        if not sep or not label or not argv:
            ap.error(f"--cmd wants LABEL=COMMAND, got {c!r}")
        if label == "ffmpeg" or label in [l for l, _ in cmds]:
            ap.error(f"--cmd label {label!r} is taken")
        cmds.append((label, argv))
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            ap.error(f"{tool} not found on PATH")

    if a.files_from:
        with open(a.files_from) as f:
            files = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        source = a.files_from
    else:
        ref = os.path.join(a.queries, "reference.txt")
        if not os.path.exists(ref):
            ap.error(f"{ref} missing: make the query set (../shared/README.md) or use --files-from")
        with open(ref) as f:
            files = [os.path.join(a.corpus, l.strip()) for l in f if l.strip()]
        source = f"{ref} (under {a.corpus})"
    if not files:
        ap.error("no files")
    missing = [p for p in files if not os.path.isfile(p)]
    if missing:
        ap.error(f"{len(missing)} files missing, first: {missing[0]}")

    load_before = os.getloadavg()
    started = datetime.datetime.now().astimezone()
    audio_s = sum(duration_s(p) for p in files)
    # Warm the page cache so the first variant does not pay for the disk.
    size = 0
    for p in files:
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                size += len(chunk)

    tmp_root = tempfile.mkdtemp(prefix="ingest-speed-", dir=a.tmp)
    errlog = os.path.join(tmp_root, "stderr.log")
    variants = ["ffmpeg"] + [l for l, _ in cmds]
    argv_of = dict(cmds)
    results = {v: [] for v in variants}  # label -> [(wall, cpu)]
    try:
        for r in range(a.rounds):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for v in order:
                with open(errlog, "wb") as err:
                    if v == "ffmpeg":
                        wall = cpu = 0.0
                        for p in files:
                            rc, w, c = run_measured(["ffmpeg", "-nostdin", "-v", "error", "-threads", "1",
                                                     "-i", p, "-f", "null", "-"],
                                                    subprocess.DEVNULL, err)
                            if rc != 0:
                                fail(f"round {r + 1}: ffmpeg failed (exit {rc}) on {p}", errlog)
                            wall += w
                            cpu += c
                    else:
                        data = tempfile.mkdtemp(prefix=f"{v}-", dir=tmp_root)
                        argv = argv_of[v] + ["--data-dir", data] + files
                        rc, wall, cpu = run_measured(argv, subprocess.DEVNULL, err)
                        shutil.rmtree(data, ignore_errors=True)
                        if rc != 0:
                            fail(f"round {r + 1}: {v} failed (exit {rc}): "
                                 f"{shlex.join(argv_of[v])} --data-dir DIR FILES...", errlog)
                results[v].append((wall, cpu))
                print(f"round {r + 1}/{a.rounds} {v}: wall {wall:.2f} s, CPU {cpu:.2f} s",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    load_after = os.getloadavg()

    med = {v: (statistics.median(w for w, _ in results[v]), statistics.median(c for _, c in results[v]))
           for v in variants}
    fw, fc = med["ffmpeg"]
    hours = audio_s / 3600
    print(f"# ingest speed vs single-thread ffmpeg decode")
    print()
    print(f"- date: {started.isoformat(timespec='seconds')}, host {socket.gethostname()}, "
          f"{os.cpu_count()} cores")
    print(f"- load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in load_after)}")
    print(f"- command: {shlex.join([sys.executable] + sys.argv)}")
    print(f"- cwd: {os.getcwd()}")
    print(f"- files: {len(files)} from {source}, {size / 1e6:.0f} MB, {hours:.2f} h of audio")
    print(f"- rounds: {a.rounds}, interleaved, starting variant rotating; medians shown")
    print(f"- ffmpeg = `ffmpeg -nostdin -v error -threads 1 -i FILE -f null -` per file, one after another")
    for label, argv in cmds:
        print(f"- {label} = `{shlex.join(argv)} --data-dir DIR FILES...` (fresh empty DIR each run)")
    print()
    print("| label | median wall s | median CPU s | wall ÷ ffmpeg wall | CPU ÷ ffmpeg CPU | audio h | x realtime |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        w, c = med[v]
        print(f"| {v} | {w:.2f} | {c:.2f} | {w / fw:.2f} | {c / fc:.2f} | {hours:.2f} | {audio_s / w:.0f} |")
    print()
    print("all runs (wall s / CPU s): " + "; ".join(
        f"{v}: " + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in results[v]) for v in variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())

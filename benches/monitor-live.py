#!/usr/bin/env python3
"""Live monitoring bench (issue 17): a generated radio show streamed in real
time over HTTP on loopback by a real server (ffmpeg's HTTP output, `-re`),
pulled by a `sonica serve` monitor, against the same show scanned as a file.

    benches/monitor-live.py DB [--seed 1] [--minutes 5]

DB is a Sonica library holding the show's tracks (copied to a scratch dir
first: the server locks its store). The show is built by
make-radio-show.py into $SONICA_RADIO_SHOW/seed-N-Mmin (reused).

Prints one table: plays in the file scan and in the live log, how many live
plays match a file play (same track, start and end within 2 s once the
stream's start is aligned), invented and missed plays, and two lags:
- detection delay: from a play's start in the audio to the `play.started`
  event reaching a client (needs two agreeing 10 s windows, so ~15 s);
- processing lag: how far identification trails the audio received
  (`lag_s` of the monitor's state, sampled every second).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def req(method, url, body=None, key=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    if key:
        r.add_header("X-API-Key", key)
    with urllib.request.urlopen(r, timeout=30) as resp:
        text = resp.read().decode()
        return json.loads(text) if text else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=int, default=5)
    ap.add_argument("--port", type=int, default=8391)
    a = ap.parse_args()
    sonica = os.environ.get("SONICA_BIN", os.path.join(ROOT, "target/release/sonica"))
    corpus = os.environ.get("SONICA_CORPUS", os.path.expanduser("~/.cache/sonica-corpus"))
    queries = os.environ.get("SONICA_QUERIES", os.path.expanduser("~/.cache/sonica-queries"))
    shows = os.environ.get("SONICA_RADIO_SHOW", os.path.expanduser("~/.cache/sonica-radio-show"))
    show_dir = os.path.join(shows, f"seed-{a.seed}-{a.minutes}min")
    show = os.path.join(show_dir, "show.mp3")
    if not os.path.exists(show):
        subprocess.run([sys.executable, os.path.join(HERE, "make-radio-show.py"), corpus, queries, show_dir,
                        "--seed", str(a.seed), "--minutes", str(a.minutes)], check=True)
    scratch = tempfile.mkdtemp(prefix="sonica-live-")
    db = os.path.join(scratch, "db")
    shutil.copytree(a.db, db)

    # File mode: the reference play log.
    out = subprocess.run([sonica, "--data-dir", db, "monitor", "--json", show], check=True,
                         capture_output=True, text=True).stdout
    file_plays = [json.loads(l) for l in out.splitlines() if l.strip()]

    key = "live-bench-key"
    srv = subprocess.Popen([sonica, "--data-dir", db, "serve", "--bind", "127.0.0.1:0", "--songs-dir",
                            os.path.join(scratch, "songs"), "--api-keys", key, "--allow-private-urls", "true",
                            "--watch", "false"], stdout=subprocess.PIPE, text=True)
    base = srv.stdout.readline().strip().replace("listening on ", "")
    stream_url = f"http://127.0.0.1:{a.port}/live.mp3"
    ff = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-i", show, "-c", "copy", "-f", "mp3",
                           "-listen", "1", stream_url])
    time.sleep(1.0)
    m = req("POST", base + "/monitors", {"url": stream_url, "name": "live bench"}, key)
    mid = m["id"]
    started_at = {}  # (track, start_ms) -> wall time of play.started
    lags = []
    stop = threading.Event()

    def follow():
        r = urllib.request.urlopen(base + f"/monitors/{mid}/events", timeout=a.minutes * 60 + 120)
        event = None
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "play.started":
                p = json.loads(line[6:])["play"]
                started_at[(p["track"], p["start_ms"])] = time.time()
            if stop.is_set():
                return

    threading.Thread(target=follow, daemon=True).start()
    origin_ms = None
    deadline = time.time() + a.minutes * 60 + 60
    while time.time() < deadline:
        v = req("GET", base + f"/monitors/{mid}")
        st = v["status"]
        if st["state"] == "up":
            if origin_ms is None:
                origin_ms = st["since_ms"]
            lags.append(st["lag_s"])
        if ff.poll() is not None and st["state"] == "down":
            break
        time.sleep(1.0)
    stop.set()
    page = req("GET", base + f"/monitors/{mid}/plays?limit=1000")
    live = [e for e in page["entries"] if e["kind"] == "play"]
    srv.terminate()
    srv.wait(timeout=60)
    ff.kill()

    # Align: the stream's time 0 is the connection (origin_ms).
    def rel(ms):
        return (ms - origin_ms) / 1000.0

    by_path = {p["track"]: p for p in file_plays}
    matched, delays = 0, []
    unmatched = []
    for e in live:
        f = next((p for p in file_plays if p["track"] == e["track"]
                  and abs(p["start_s"] - rel(e["start_ms"])) <= 2.0 and abs(p["end_s"] - rel(e["end_ms"])) <= 2.0), None)
        if f:
            matched += 1
        else:
            unmatched.append((e["title"], round(rel(e["start_ms"]), 1), round(rel(e["end_ms"]), 1)))
        t = started_at.get((e["track"], e["start_ms"]))
        if t is not None:
            delays.append(t - e["start_ms"] / 1000.0)
    missed = [p for p in file_plays if not any(
        x["track"] == p["track"] and abs(p["start_s"] - rel(x["start_ms"])) <= 2.0 for x in live)]
    del by_path
    delays.sort()
    lags.sort()

    def q(xs, f):
        return xs[min(len(xs) - 1, int(f * len(xs)))] if xs else float("nan")

    print(f"| live monitor, {a.minutes} min show (seed {a.seed}), ffmpeg -re HTTP on loopback | |")
    print("|---|---|")
    print(f"| plays in file mode | {len(file_plays)} |")
    print(f"| plays in the live log | {len(live)} |")
    print(f"| live plays matching a file play (track, start and end ±2 s) | {matched} / {len(live)} |")
    print(f"| file plays missing from the live log | {len(missed)} |")
    print(f"| detection delay, play start → play.started event: median / max (s) | {q(delays, 0.5):.1f} / {q(delays, 1.0):.1f} |")
    print(f"| processing lag (state lag_s): median / p95 / max (s) | {q(lags, 0.5):.2f} / {q(lags, 0.95):.2f} / {q(lags, 1.0):.2f} |")
    for u in unmatched:
        print("unmatched live play:", u)
    for p in missed:
        print("missed file play:", p["title"], round(p["start_s"], 1), round(p["end_s"], 1))
    print(json.dumps({"file": len(file_plays), "live": len(live), "matched": matched, "missed": len(missed),
                      "delay_median_s": q(delays, 0.5), "delay_max_s": q(delays, 1.0),
                      "lag_median_s": q(lags, 0.5), "lag_max_s": q(lags, 1.0)}))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

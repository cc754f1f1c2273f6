#!/usr/bin/env python3
"""Upload → recognisable → analysed: starts a fresh `sonica serve` (default
settings, empty library), uploads one audio file several times over
loopback and polls GET /tracks/{id} every 5 ms. READY is the moment the
track is recognisable (its fingerprint is stored); its music analysis
follows (`"analysis": "DONE"`; a build without that field analysed before
READY, so both times are the same). Prints a table.

    benches/upload-ready.py song.mp3 [--runs 5] [--bin target/release/sonica]

Each upload is stored as its own track (same audio, new file name), so every
run does the full work: receive, check, store, queue, decode, fingerprint,
commit.
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time
import urllib.request


def post_file(url, path):
    boundary = "sonica-bench-boundary"
    with open(path, "rb") as f:
        data = f.read()
    name = os.path.basename(path)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read())


def get(url):
    with urllib.request.urlopen(url) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default="target/release/sonica")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    srv = subprocess.Popen([a.bin, "--data-dir", f"{tmp}/data", "serve", "--bind", "127.0.0.1:0",
                            "--songs-dir", f"{tmp}/songs"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    try:
        line = srv.stdout.readline()
        base = re.sub(r"^listening on ", "", line.strip())
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration,bit_rate",
                                "-of", "json", a.file], capture_output=True, text=True) if shutil.which("ffprobe") else None
        desc = json.loads(probe.stdout)["format"] if probe and probe.returncode == 0 else {}
        print(f"file: {os.path.basename(a.file)}, {os.path.getsize(a.file)/1e6:.1f} MB, "
              f"{float(desc.get('duration', 'nan')):.0f} s, {int(desc.get('bit_rate', 0))//1000} kbps; server {base}")
        print("| run | 201 after ms | READY (recognisable) after ms | analysis stored after ms |")
        print("|---|---|---|---|")
        ready, analysed = [], []
        for i in range(a.runs):
            copy = os.path.join(tmp, f"run{i}-" + os.path.basename(a.file))
            shutil.copy(a.file, copy)
            t0 = time.perf_counter()
            status, body = post_file(f"{base}/tracks", copy)
            t201 = time.perf_counter() - t0
            assert status == 201, body
            t = None
            while True:
                rec = get(f"{base}/tracks/{body['id']}")
                if rec["status"] == "FAILED":
                    break
                if rec["status"] == "READY" and t is None:
                    t = time.perf_counter() - t0
                if rec["status"] == "READY" and rec.get("analysis", "DONE") != "PENDING":
                    break
                time.sleep(0.005)
            ta = time.perf_counter() - t0
            assert rec["status"] == "READY", rec
            ready.append(t)
            analysed.append(ta)
            print(f"| {i + 1} | {t201 * 1e3:.0f} | {t * 1e3:.0f} | {ta * 1e3:.0f} |")
        print(f"median READY after {statistics.median(ready) * 1e3:.0f} ms, worst {max(ready) * 1e3:.0f} ms; "
              f"analysis stored after {statistics.median(analysed) * 1e3:.0f} ms (median)")
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The web app's loads, measured over loopback against a real `sonica serve`:

1. page weight: every file the first load fetches (`/` and each `/app/*`
   the page references, found by following its imports), gzipped as served
   and plain;
2. a track page for a long track: the requests the page makes, each timed
   alone (median of --runs) and all together in parallel as the browser
   sends them (wall time, median);
3. the library list with --tracks tiny tracks: one page of 50 (by id, by
   title, filtered, last page), median of --runs.

    benches/webapp-load.py long.mp3 [--tracks 10000] [--runs 15] [--bin target/release/sonica]

The tiny tracks are 1.5 s of distinct noise at 8 kHz, ingested with
`sonica ingest --fingerprint-only`; the long track is uploaded and waited
for until its analysis is stored. Prints markdown tables.
"""
import argparse, concurrent.futures, gzip, json, os, random, re, statistics, struct, subprocess, tempfile, time
import urllib.request


def fetch(url, gz=False):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gz else {})
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()


def timed(url):
    t = time.perf_counter()
    fetch(url)
    return (time.perf_counter() - t) * 1e3


def post_file(url, path):
    boundary = "sonica-bench-boundary"
    with open(path, "rb") as f:
        data = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{os.path.basename(path)}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def tiny_wav(path, seed):
    rnd = random.Random(seed)
    n = 12000
    frames = b"".join(struct.pack("<h", max(-32768, min(32767, int(rnd.gauss(0, 6000))))) for _ in range(n))
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) \
        + b"data" + struct.pack("<I", len(frames))
    with open(path, "wb") as f:
        f.write(header + frames)


def start(bin_, data, songs):
    srv = subprocess.Popen([bin_, "--data-dir", data, "serve", "--bind", "127.0.0.1:0", "--songs-dir", songs, "--watch", "false"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = re.sub(r"^listening on ", "", srv.stdout.readline().strip())
    return srv, base


def median_ms(f, runs):
    return statistics.median(f() for _ in range(runs))


def page_weight(base):
    seen, todo = {}, ["/"]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        _, plain = fetch(base + p)
        _, zipped = fetch(base + p, gz=True)
        seen[p] = (len(plain), len(zipped))
        text = plain.decode("utf-8", "replace")
        for m in re.findall(r"""(?:src\s*=|href\s*=|from|import\s*\(?|addModule\s*\()\s*["'](?:\./|/app/)([a-z0-9._-]+\.(?:js|css|json|svg))["']""", text):
            todo.append("/app/" + m)
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("long")
    ap.add_argument("--tracks", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bin", default="target/release/sonica")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    data, songs, tiny = f"{tmp}/data", f"{tmp}/songs", f"{tmp}/tiny"
    os.makedirs(tiny)
    t = time.time()
    for i in range(a.tracks):
        tiny_wav(f"{tiny}/t{i:05d}.wav", i)
    if a.tracks:
        subprocess.run([a.bin, "--data-dir", data, "ingest", tiny, "--fingerprint-only"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"library: {a.tracks} tiny tracks ingested in {time.time() - t:.0f} s")
    srv, base = start(a.bin, data, songs)
    try:
        w = page_weight(base)
        print("\n| file | bytes | gzipped |\n|---|---|---|")
        for p, (plain, z) in sorted(w.items()):
            print(f"| {p} | {plain} | {z} |")
        print(f"| **first load, all files** | **{sum(v[0] for v in w.values())}** | **{sum(v[1] for v in w.values())}** |")

        up = post_file(base + "/tracks", a.long)
        tid = up["id"]
        deadline = time.time() + 600
        while True:
            _, b = fetch(f"{base}/tracks/{tid}")
            v = json.loads(b)
            if v["status"] in ("FAILED", "REJECTED"):
                raise SystemExit(f"the long track failed: {v}")
            if v["status"] == "READY" and v.get("analysis") == "DONE":
                break
            if time.time() > deadline:
                raise SystemExit("the long track never finished")
            time.sleep(0.2)
        print(f"\nlong track: id {tid}, {v['duration_s']:.0f} s")
        urls = {
            "GET /tracks/{id}": f"/tracks/{tid}",
            "GET /tracks/{id}/analysis": f"/tracks/{tid}/analysis",
            "GET /tracks/{id}/waveform?bins=1200": f"/tracks/{tid}/waveform?bins=1200",
            "GET /tracks/{id}/spectrogram (0–10 s)": f"/tracks/{tid}/spectrogram?start_s=0&duration_s=10",
            "GET /tracks/{id}/spectrogram (300–310 s)": f"/tracks/{tid}/spectrogram?start_s=300&duration_s=10",
            "GET /tracks/{id}/similar": f"/tracks/{tid}/similar",
            "GET /duplicates": "/duplicates",
        }
        print("\n| request | median ms | bytes |\n|---|---|---|")
        for name, u in urls.items():
            ms = median_ms(lambda: timed(base + u), a.runs)
            print(f"| {name} | {ms:.1f} | {len(fetch(base + u)[1])} |")
        first = [u for n, u in urls.items() if "300–310" not in n]

        def page_load():
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(len(first)) as ex:
                list(ex.map(lambda u: fetch(base + u), first))
            return (time.perf_counter() - t0) * 1e3
        print(f"| **track page, all its requests in parallel (wall)** | **{median_ms(page_load, a.runs):.1f}** | |")

        print(f"\n| library of {a.tracks + 1} tracks: one page | median ms |\n|---|---|")
        for name, q in [("by id", "limit=50"), ("by title", "limit=50&sort=title"),
                        ("filtered (q=t012)", "limit=50&q=t012"), ("last page", f"limit=50&offset={max(0, a.tracks - 49)}"),
                        ("READY only, by duration, descending", "limit=50&status=READY&sort=duration_s&desc=true")]:
            print(f"| {name} | {median_ms(lambda: timed(f'{base}/songs?{q}'), a.runs):.1f} |")
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()

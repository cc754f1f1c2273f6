#!/usr/bin/env python3
"""Abuse under load: 64 connections for 60 s against one `sonica serve`,
mixing well-formed recognitions and uploads with hostile files, oversized
multipart bodies, slow PCM WebSockets and idle WebSockets.

    benches/soak.py [--seconds 60] [--conns 64] [--bin target/release/sonica]

Reports, per kind of client: requests, answers by status, and errors (a
well-formed request answered with anything but success, or a dropped
connection, is an error; a hostile one answered 5xx or dropped is one
too). Then the server's peak RSS (VmHWM, target <= 1 GB) and whether
/health answers within 50 ms once the load stops. Exits 1 when a target is
missed. Audio is generated here; nothing needs the corpus.
"""
import argparse, base64, collections, json, math, os, random, re, shutil, socket, struct, subprocess, sys
import tempfile, threading, time, urllib.error, urllib.request

RATE = 16000


def wav(samples, rate=RATE, channels=1):
    data = b"".join(struct.pack("<h", int(max(-1, min(1, v)) * 30000)) for v in samples)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
            + b"data" + struct.pack("<I", len(data)) + data)


def tone_song(seed, secs):
    rnd = random.Random(seed)
    notes = [rnd.uniform(200, 1800) for _ in range(16)]
    return [0.5 * math.sin(2 * math.pi * notes[int(i / RATE * 2) % 16] * i / RATE) + rnd.uniform(-0.05, 0.05)
            for i in range(int(secs * RATE))]


def hostile_files():
    def header(rate, ch, declared, payload):
        block = max(ch * 2, 1)
        return (b"RIFF" + struct.pack("<I", min(declared + 36, 0xFFFFFFFF)) + b"WAVEfmt "
                + struct.pack("<IHHIIHH", 16, 1, ch, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, 16)
                + b"data" + struct.pack("<I", declared) + bytes((i * 7) % 61 for i in range(payload)))
    return [header(2147483647, 1, 8000, 8000), header(1, 1, 8000, 8000), header(44100, 1000, 8000, 8000),
            header(8000, 1, 0x7FFFFFF0, 16000), b"", b"R", b"#EXTM3U\nhttp://127.0.0.1:9/a.ts\n",
            os.urandom(4096)]


def multipart(field, name, data, boundary="soak-boundary"):
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def request(url, body=None, ctype=None, method="GET", timeout=60):
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype} if ctype else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


class Ws:
    """Just enough of a WebSocket client (RFC 6455) for the soak."""

    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /ws/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.split(b"\r\n")[0].decode(errors="replace"))
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def recv(self):
        """(opcode, payload) of the next frame."""
        self._need(2)
        op, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        at = 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(at + n)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return op, payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--bin", default="target/release/sonica")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sonica-soak-")
    srv = subprocess.Popen([a.bin, "--data-dir", f"{tmp}/data", "serve", "--bind", "127.0.0.1:0",
                            "--songs-dir", f"{tmp}/songs", "--rate-limit", "0", "--max-upload-mb", "8",
                            "--ws-idle-s", "5"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = srv.stdout.readline()
    base = line.strip().removeprefix("listening on ")
    host, port = re.match(r"http://([^:]+):(\d+)", base).groups()
    port = int(port)
    songs = [tone_song(s, 20) for s in range(6)]
    for i, s in enumerate(songs):
        body, ct = multipart("file", f"ref{i}.wav", wav(s))
        assert request(f"{base}/tracks", body, ct, "POST") == 201
    while json.loads(urllib.request.urlopen(f"{base}/health").read())["queued"] > 0:
        time.sleep(0.2)
    clips = [wav(s[RATE * 5:RATE * 10]) for s in songs]
    hostile = hostile_files()
    big = os.urandom(9 * 1024 * 1024)
    stats = collections.defaultdict(collections.Counter)
    errors = collections.Counter()
    lock = threading.Lock()
    deadline = time.time() + a.seconds

    def note(kind, status, bad):
        with lock:
            stats[kind][status] += 1
            if bad:
                errors[kind] += 1

    def client(n):
        rnd = random.Random(n)
        kinds = ["recognize", "recognize", "upload", "hostile", "oversized", "ws_slow", "ws_idle"]
        k = 0
        while time.time() < deadline:
            kind = kinds[(n + k) % len(kinds)]
            k += 1
            try:
                if kind == "recognize":
                    body, ct = multipart("audio", "clip.wav", rnd.choice(clips))
                    s = request(f"{base}/recognize", body, ct, "POST")
                    note(kind, s, s != 200)
                elif kind == "upload":
                    song = tone_song(1000 + n * 1000 + k, 6)
                    body, ct = multipart("file", f"u{n}_{k}.wav", wav(song))
                    s = request(f"{base}/tracks", body, ct, "POST")
                    note(kind, s, s != 201)
                elif kind == "hostile":
                    body, ct = multipart("audio", "h.wav", rnd.choice(hostile))
                    s = request(f"{base}/recognize", body, ct, "POST")
                    note(kind, s, s >= 500)
                elif kind == "oversized":
                    body, ct = multipart("file", "big.wav", big)
                    try:
                        s = request(f"{base}/tracks", body, ct, "POST")
                    except (ConnectionError, urllib.error.URLError, OSError):
                        s = "reset"  # a server may stop reading a body it refused: the answer is the 413 or a reset
                    note(kind, s, s not in (413, "reset"))
                elif kind == "ws_slow":
                    ws = Ws(host, port)
                    ws.send(1, json.dumps({"format": "pcm_s16le", "sample_rate": RATE, "channels": 1}).encode())
                    pcm = b"".join(struct.pack("<h", int(v * 30000)) for v in rnd.choice(songs)[RATE * 3:RATE * 9])
                    for i in range(0, len(pcm), 3200):  # 100 ms frames, a little faster than real time
                        ws.send(2, pcm[i:i + 3200])
                        time.sleep(0.02)
                    ws.send(1, b'{"event": "end"}')
                    final = None
                    while True:
                        op, payload = ws.recv()
                        if op == 1:
                            msg = json.loads(payload)
                            if msg.get("final"):
                                final = msg
                                break
                        elif op == 8:
                            break
                    ws.s.close()
                    note(kind, "final" if final else "no_final", final is None or final.get("match") is None)
                elif kind == "ws_idle":
                    ws = Ws(host, port)
                    t0 = time.time()
                    closed = False
                    try:
                        while time.time() - t0 < 20:
                            op, _ = ws.recv()
                            if op == 8:
                                closed = True
                                break
                    except (ConnectionError, socket.timeout, OSError):
                        closed = True
                    ws.s.close()
                    note(kind, "closed" if closed else "open", not closed)
            except Exception as e:  # a dropped connection on a well-formed request is an error
                note(kind, type(e).__name__, kind != "oversized")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alive = srv.poll() is None
    health_ms = []
    for _ in range(5):
        t0 = time.perf_counter()
        ok = request(f"{base}/health") == 200 if alive else False
        health_ms.append((time.perf_counter() - t0) * 1e3 if ok else float("inf"))
        time.sleep(0.2)
    status = open(f"/proc/{srv.pid}/status").read() if alive else ""
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024 if status else -1
    srv.terminate()
    srv.wait(timeout=60)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"soak, {time.strftime('%Y-%m-%d %H:%M')}, {a.conns} connections, {a.seconds:.0f} s")
    print("| client | requests | answers | errors |")
    print("|---|---|---|---|")
    for kind in sorted(stats):
        total = sum(stats[kind].values())
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(stats[kind].items(), key=str))
        print(f"| {kind} | {total} | {answers} | {errors[kind]} |")
    well_formed_errors = sum(errors[k] for k in ("recognize", "upload", "ws_slow"))
    print(f"well-formed errors: {well_formed_errors}; server alive: {alive}; peak RSS {hwm} MB (target <= 1024); "
          f"/health after the load: {min(health_ms):.1f}-{max(health_ms):.1f} ms (target <= 50)")
    missed = well_formed_errors > 0 or not alive or hwm > 1024 or max(health_ms) > 50 or sum(errors.values()) > 0
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()

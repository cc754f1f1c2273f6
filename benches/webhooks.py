#!/usr/bin/env python3
"""Webhook delivery under failure, and what it costs recognition.

Part 1 (delivery): a fresh `sonica serve` with one subscription to a
receiver in this script (a threaded HTTP server that checks every
`Sonica-Signature` with its own HMAC). N ping events are made through
`POST /webhooks/{id}/ping`; halfway the receiver is stopped (its port
refuses), the other half is made while it is down, then Sonica is killed
with SIGKILL and started again on the same data folder, and the receiver
comes back. Reports, per event acknowledged with a 202: delivered at least
once, lost (must be 0), repeats seen (at-least-once delivery), invalid
signatures (must be 0), and the time from the receiver's return until the
last event arrived.

Part 2 (isolation): a `/recognize` loop (one client, a 5 s clip of a
stored track) for a few seconds each while pings are made in the
background at a steady rate, with the receiver up, down (refusing) and
slow (answering after 10 s, past the 5 s attempt limit), against a run
without any webhook traffic. Prints recognitions per second and the ratio.

    benches/webhooks.py --bin $CARGO_TARGET_DIR/debug/sonica [--events 1000] [--secs 8]
"""
import argparse, hashlib, hmac, http.server, json, os, re, shutil, socket, socketserver, subprocess, sys
import tempfile, threading, time, urllib.error, urllib.request

ADMIN = "bench-admin-key"
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")


class Inbox:
    def __init__(self):
        self.lock = threading.Lock()
        self.ids = {}            # event id -> times seen
        self.invalid = 0
        self.hits = 0
        self.last_new = None     # perf_counter of the last first-seen event
        self.secret = None
        self.mode = "ok"         # ok | slow


class Receiver:
    """A threaded HTTP server on a fixed port that can be stopped and restarted."""

    def __init__(self, inbox, port=0):
        inbox_ref = inbox

        conns = self.conns = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Head and body go out as two writes: without this, Nagle
                # and the client's delayed ACK add 40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns.add(self.connection)

            def finish(self):
                conns.discard(self.connection)
                super().finish()

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if inbox_ref.mode == "slow":
                    time.sleep(10)
                ok = check(self.headers.get("Sonica-Signature", ""), body, inbox_ref.secret)
                eid = self.headers.get("Sonica-Event-Id")
                with inbox_ref.lock:
                    inbox_ref.hits += 1
                    if not ok:
                        inbox_ref.invalid += 1
                    elif eid is not None:
                        if eid not in inbox_ref.ids:
                            inbox_ref.last_new = time.perf_counter()
                        inbox_ref.ids[eid] = inbox_ref.ids.get(eid, 0) + 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting (the slow phase)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Stops listening and cuts the open (keep-alive) connections: the port refuses."""
        self.httpd.shutdown()
        self.httpd.server_close()
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def check(header, body, secret, tolerance=300):
    """The receiver's check: t within tolerance, v1 = HMAC-SHA256(secret, "<t>.<body>")."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance:
        return False
    want = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts.get("v1", ""))


def request(method, url, body=None, ctype="application/json", key=ADMIN, timeout=60):
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    if key:
        req.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def multipart(field, path):
    boundary = "sonica-bench-boundary"
    with open(path, "rb") as f:
        data = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{os.path.basename(path)}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


LOG = None


def start_sonica(binary, root, extra=()):
    err = open(LOG, "a") if LOG else subprocess.DEVNULL
    p = subprocess.Popen([binary, "--data-dir", f"{root}/data", "serve", "--bind", "127.0.0.1:0",
                          "--songs-dir", f"{root}/songs", "--api-keys", ADMIN, "--watch", "false",
                          "--allow-private-urls", "true", *extra],
                         stdout=subprocess.PIPE, stderr=err, text=True,
                         env={**os.environ, "SONICA_LOG": "sonica=debug" if LOG else "error"})
    line = p.stdout.readline()
    base = re.sub(r"^listening on ", "", line.strip())
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p, base


def subscribe(base, port, inbox):
    st, body = request("POST", f"{base}/webhooks",
                       json.dumps({"url": f"http://127.0.0.1:{port}/hook", "events": ["track.ready"]}).encode())
    assert st == 201, body
    sub = json.loads(body)
    inbox.secret = sub["secret"]
    return sub["id"]


def ping(base, sid):
    st, body = request("POST", f"{base}/webhooks/{sid}/ping")
    assert st == 202, (st, body)
    return str(json.loads(body)["event_id"])


def delivery(binary, events, backoff_ms):
    root = tempfile.mkdtemp(prefix="sonica-hooks-")
    inbox = Inbox()
    rx = Receiver(inbox)
    port = rx.port
    p, base = start_sonica(binary, root, ["--webhook-backoff-ms", str(backoff_ms)])
    try:
        sid = subscribe(base, port, inbox)
        acked = []
        t0 = time.perf_counter()
        for i in range(events):
            if i == events // 2:
                rx.stop()            # the receiver goes away halfway
            acked.append(ping(base, sid))
        made_s = time.perf_counter() - t0
        time.sleep(1.0)              # some deliveries fail against the closed port
        p.kill()                     # SIGKILL: no graceful anything
        p.wait()
        p, base = start_sonica(binary, root, ["--webhook-backoff-ms", str(backoff_ms)])
        back = time.perf_counter()
        rx = Receiver(inbox, port)   # the receiver returns on its port
        deadline = back + 1800
        while time.perf_counter() < deadline:
            with inbox.lock:
                if all(a in inbox.ids for a in acked):
                    break
            time.sleep(0.05)
        with inbox.lock:
            seen = set(inbox.ids)
            lost = [a for a in acked if a not in seen]
            repeats = sum(n - 1 for n in inbox.ids.values())
            drain = (inbox.last_new or back) - back
            invalid, hits = inbox.invalid, inbox.hits
        st, body = request("GET", f"{base}/webhooks/{sid}/deliveries?limit=1000")
        rows = json.loads(body)["deliveries"]
        states = {}
        for r in rows:
            states[r["state"]] = states.get(r["state"], 0) + 1
        attempts = sum(r["attempts"] for r in rows)
        print(f"## Delivery: {events} pings, receiver stopped after {events // 2}, Sonica killed (SIGKILL) and restarted once")
        print(f"(first retry {backoff_ms} ms, doubling; {made_s:.1f} s to make the events)\n")
        print("| events acked (202) | delivered at least once | lost | repeats seen | invalid signatures | POSTs received | time to drain after the receiver returned |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {len(acked)} | {len(set(acked) & seen)} | {len(lost)} | {repeats} | {invalid} | {hits} | {drain:.1f} s |")
        print(f"\ndelivery log (last 1000 rows): {states}, {attempts} attempts in all\n")
        return len(lost) == 0 and invalid == 0
    finally:
        p.kill()
        rx.stop()
        shutil.rmtree(root, ignore_errors=True)


def recognize_loop(base, clip, secs, track):
    body, ctype = multipart("audio", clip)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < secs:
        st, out = request("POST", f"{base}/recognize", body, ctype)
        assert st == 200, out
        m = json.loads(out)["match"]
        assert m and m["id"] == track, out
        n += 1
    return n / (time.perf_counter() - t0)


def isolation(binary, secs, song, clip, rate):
    root = tempfile.mkdtemp(prefix="sonica-hooks-")
    inbox = Inbox()
    rx = Receiver(inbox)
    p, base = start_sonica(binary, root)
    try:
        body, ctype = multipart("file", song)
        st, out = request("POST", f"{base}/tracks", body, ctype)
        assert st == 201, out
        tid = json.loads(out)["id"]
        while json.loads(request("GET", f"{base}/tracks/{tid}")[1])["status"] != "READY":
            time.sleep(0.05)
        sid = subscribe(base, rx.port, inbox)
        stop = threading.Event()

        def pinger():
            while not stop.is_set():
                ping(base, sid)
                time.sleep(1 / rate)

        results = []
        for phase in ["no webhook traffic", "receiver up", "receiver down", "receiver slow (10 s)"]:
            if phase == "receiver down":
                rx.stop()
            if phase == "receiver slow (10 s)":
                inbox.mode = "slow"
                rx = Receiver(inbox, rx.port)
            th = None
            if phase != "no webhook traffic":
                stop.clear()
                th = threading.Thread(target=pinger, daemon=True)
                th.start()
            r = recognize_loop(base, clip, secs, tid)
            if th:
                stop.set()
                th.join()
            st, m = request("GET", f"{base}/metrics")
            metrics = m.decode()
            pending = re.search(r"sonica_webhook_deliveries_pending (\d+)", metrics).group(1)
            results.append((phase, r, pending))
        base_rate, up_rate = results[0][1], results[1][1]
        print(f"## Recognition while webhooks are busy ({secs:.0f} s each, one client, pings at {rate}/s)\n")
        print("| phase | recognitions/s | ratio to no traffic | ratio to receiver up | pending deliveries after |")
        print("|---|---|---|---|---|")
        for phase, r, pending in results:
            up = f"{r / up_rate:.2f}" if phase != "no webhook traffic" else "–"
            print(f"| {phase} | {r:.1f} | {r / base_rate:.2f} | {up} | {pending} |")
        print()
    finally:
        p.kill()
        rx.stop()
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "sonica"))
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--backoff-ms", type=int, default=1000, help="first retry delay (the default setting)")
    ap.add_argument("--secs", type=float, default=8.0, help="seconds per recognition phase; 0 skips part 2")
    ap.add_argument("--rate", type=float, default=20.0, help="pings per second during part 2")
    ap.add_argument("--song", default=os.path.join(FIXTURES, "melody.ogg"))
    ap.add_argument("--clip", default=os.path.join(FIXTURES, "melody_5s.flac"))
    ap.add_argument("--log", help="append the servers' debug logs to this file")
    a = ap.parse_args()
    global LOG
    LOG = a.log
    ok = delivery(a.bin, a.events, a.backoff_ms)
    if a.secs > 0:
        isolation(a.bin, a.secs, a.song, a.clip, a.rate)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

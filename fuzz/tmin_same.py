#!/usr/bin/env python3
"""Minimises a crashing input while keeping the *same* crash.

    fuzz/tmin_same.py BINARY INPUT OUTPUT [PATTERN]

`cargo fuzz tmin` (libFuzzer's -minimize_crash) keeps any crash: on the
decode target every input drifted to the same 16-byte Matroska panic. This
keeps a candidate only when the fuzz BINARY, run on it, prints PATTERN (a
regular expression; by default the input's own first "panicked at FILE:LINE"
or "out-of-memory (malloc" line). Greedy: removes ever smaller chunks, then
zeroes bytes, until nothing more can go. Runs the binary with the same
limits as benches/fuzz.sh."""
import os
import re
import subprocess
import sys
import tempfile

LIMITS = ["-rss_limit_mb=2048", "-malloc_limit_mb=1024", "-timeout=10"]


def run(binary, data):
    with tempfile.NamedTemporaryFile(dir="/dev/shm", prefix="tmin-", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        # No symbolised stacks: a run then takes milliseconds, not seconds.
        env = dict(os.environ, RUST_BACKTRACE="0", ASAN_OPTIONS="symbolize=0:detect_leaks=0")
        p = subprocess.run([binary, *LIMITS, path], capture_output=True, timeout=60, env=env)
        return p.stdout.decode("latin-1") + p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    finally:
        os.unlink(path)


def signature(out):
    m = re.search(r"panicked at (\S+:\d+):\d+:\n(.*)", out)
    if m:
        return re.escape(m.group(1)) + r":\d+:\n" + re.escape(m.group(2)[:60])
    if "out-of-memory (malloc" in out:
        return r"out-of-memory \(malloc"
    if "out-of-memory (used" in out:
        return r"out-of-memory \(used"
    m = re.search(r"ERROR: (AddressSanitizer|LeakSanitizer): (\S+)", out)
    if m:
        return re.escape(m.group(0))
    if "timeout after" in out or out == "TIMEOUT":
        return r"timeout after|TIMEOUT"
    return None


def main():
    binary, src, dst = sys.argv[1:4]
    data = open(src, "rb").read()
    pat = sys.argv[4] if len(sys.argv) > 4 else signature(run(binary, data))
    if not pat:
        sys.exit(f"{src} does not crash {binary}")
    keep = re.compile(pat)
    print(f"keeping /{pat}/ from {len(data)} bytes", flush=True)
    runs = 0

    def ok(d):
        nonlocal runs
        runs += 1
        return bool(keep.search(run(binary, d)))

    chunk = max(1, len(data) // 2)
    while chunk >= 1:
        i = 0
        changed = False
        while i < len(data):
            cand = data[:i] + data[i + chunk :]
            if cand and ok(cand):
                data = cand
                changed = True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    for i in range(len(data)):
        if data[i] != 0:
            cand = data[:i] + b"\0" + data[i + 1 :]
            if ok(cand):
                data = cand
    open(dst, "wb").write(data)
    print(f"{len(data)} bytes after {runs} runs -> {dst}")


if __name__ == "__main__":
    main()

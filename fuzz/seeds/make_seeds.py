#!/usr/bin/env python3
"""Writes the hand-made seeds of the codecs, ws_stream, analysis,
search_params and multipart targets (run from fuzz/seeds/; needs the zstd
CLI for the compressed blocks). The decode seeds are tiny files made by
ffmpeg, one per container and codec symphonia reads (see fuzz/README.md).
Valid inputs give libFuzzer a start past each format's first checks; a
zstd-compressed posting block, say, is out of reach of random mutation."""
import os, struct, subprocess, math, random
random.seed(7)
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f; v >>= 7
        if v: out.append(b | 0x80)
        else: out.append(b); return bytes(out)
def postings_body(ps):
    ps = sorted(ps)
    dir_, groups = bytearray(), bytearray()
    nh = 0; prev = 0; i = 0
    while i < len(ps):
        h = ps[i][0]; j = i
        while j < len(ps) and ps[j][0] == h: j += 1
        start = len(groups); pt = pti = 0
        for k, (_, t, tm) in enumerate(ps[i:j]):
            dt = t if k == 0 else t - pt
            groups += varint(dt)
            groups += varint(tm - pti if (k > 0 and dt == 0) else tm)
            pt, pti = t, tm
        dir_ += varint(h - prev) + varint(j - i) + varint(len(groups) - start)
        prev = h; nh += 1; i = j
    return varint(nh) + bytes(dir_) + bytes(groups)
def peaks_body(pk):
    pk = sorted(pk); out = bytearray(varint(len(pk))); prev = 0
    for t, f in pk:
        out += varint(t - prev) + varint(f); prev = t
    return bytes(out)
def zstd(b):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=b, capture_output=True, check=True).stdout
def w(d, name, b):
    open(os.path.join(d, name), "wb").write(b)
small = [(5, 1, 10), (5, 1, 12), (5, 3, 7), (9, 2, 0)]
big = [(random.randrange(50), random.randrange(20), random.randrange(3000)) for _ in range(300)]
w("codecs", "postings-plain", b"\0" + postings_body(small))
w("codecs", "postings-zstd", b"\1" + zstd(postings_body(big)))
pk_small = [(0, 100), (3, 2000), (3, 65535)]
pk_big = [(random.randrange(5000), random.randrange(4096)) for _ in range(300)]
w("codecs", "peaks-plain", b"\0" + peaks_body(pk_small))
w("codecs", "peaks-zstd", b"\1" + zstd(peaks_body(pk_big)))
w("codecs", "empty-plain", b"\0\0")
# ws_stream: header \n nsizes sizes pcm
tone16 = b"".join(struct.pack("<h", int(8000 * math.sin(i / 5))) for i in range(4000))
tonef = b"".join(struct.pack("<f", 0.3 * math.sin(i / 7)) for i in range(3000))
w("ws_stream", "s16-44k-stereo", b'{"format":"pcm_s16le","sample_rate":44100,"channels":2}\n' + bytes([2, 33, 250]) + tone16)
w("ws_stream", "f32-8k-mono", b'{"format": "pcm_f32le", "sample_rate": 8000, "channels": 1}\n' + bytes([1, 255]) + tonef)
w("ws_stream", "bad-header", b'{"format":"mp3","sample_rate":0,"channels":9}\n' + bytes([3, 0, 1, 7, 0, 0, 0, 0, 1, 2]) + tone16[:2000])
# analysis: mode rate r r ch chunk len pattern
noise = bytes(random.randrange(256) for _ in range(4000))
w("analysis", "raw-f32-8k", bytes([0, 0, 0, 0, 0, 1, 0]) + tonef)
w("analysis", "i8-noise-44k-stereo", bytes([1, 5, 0, 0, 1, 2, 100]) + noise)
w("analysis", "dc", bytes([2, 0, 0, 0, 0, 1, 20]) + struct.pack("<f", 0.25))
w("analysis", "square", bytes([3, 3, 0, 0, 1, 1, 50, 20, 0]))
w("analysis", "specials", bytes([4, 1, 0, 0, 0, 0, 10]) + bytes(range(256)))
w("analysis", "click", bytes([5, 0, 0, 0, 0, 1, 0, 128]))
w("analysis", "short", bytes([1, 0, 0, 0, 0, 1, 230]) + noise[:500])
# search_params: sel + JSON or lines
w("search_params", "json", b"\0" + b'{"track_id": 7, "top_k": 5, "min_similarity": 0.5, "kind": "timbre", "filters": {"genre": "rock", "key": "F#m", "tempo_min": 90, "tempo_max": 120.5}}')
w("search_params", "json-bad", b"\1" + b'{"genre": ["a"], "top_k": "1e9", "key": "H minor"}')
w("search_params", "lines", b"\4" + b"genre=Rock\nkey=Eb major\ntempo_min=60\ntempo_max=NaN\ntop_k=1000\nkind=mixed\nmin_similarity=-1")
w("search_params", "number", b"\4" + b"  12.5e3 ")
# multipart: sel sizes*4 body
def mp(parts, boundary=b"XbOuNdArY"):
    out = b""
    for headers, body in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"
form = mp([(b'Content-Disposition: form-data; name="title"', b"A song"),
           (b'Content-Disposition: form-data; name="file"; filename="../x.wav"\r\nContent-Type: audio/wav', b"RIFF....WAVEfmt " + bytes(40)),
           (b'Content-Disposition: form-data; name="genre"', b"  rock  ")])
w("multipart", "form", bytes([0, 255, 7, 1, 64]) + form)
w("multipart", "form-small-limit", bytes([16, 3, 3, 3, 3]) + form)
w("multipart", "quoted-boundary", bytes([4, 200, 200, 200, 200]) + mp([(b'Content-Disposition: form-data; name="audio"; filename="a.mp3"', b"ID3" + bytes(20))], b"Xb OuNd;ArY"))
w("multipart", "ct-from-body", bytes([5, 50, 50, 50, 50]) + b"multipart/form-data; boundary=zz\n--zz\r\nContent-Disposition: form-data; name=\"artist\"\r\n\r\nMe\r\n--zz--\r\n")

#!/usr/bin/env python3
"""Generates a radio show whose true play log is known, for issue 17.

    benches/make-radio-show.py CORPUS QUERIES OUT [--seed N] [--minutes 60]

`sonica monitor FILE` must print one line per play of a library track in a
long recording. No public broadcast recording comes with an exact play log,
so this builds one: a seeded, deterministic programme of library tracks
(the files listed in QUERIES/reference.txt, paths relative to CORPUS),
music that is not in the library (the other corpus files), synthetic
jingles, synthetic DJ speech and short dead air, mixed and processed like
a broadcast, and written with the log of what was really played.

Output:
  OUT/show.mp3     mono, 44.1 kHz, 128 kbit/s, exactly --minutes long
  OUT/truth.jsonl  one JSON object per segment, in show order:
                     {"kind": "track"|"unknown_music"|"jingle"|"speech"|"silence",
                      "path": CORPUS-relative file (track, unknown_music),
                      "start_s", "end_s", "offset_in_track_s" (track,
                      unknown_music), ...}
                   plus extra fields: "transition_in"/"transition_out"
                   ("crossfade"|"fade"|"cut"), "fade_in_s"/"fade_out_s",
                   "crossfade_in_s"/"crossfade_out_s", "talkover" ([start,
                   end] of speech over the intro, show time), "duck_db",
                   "short" (a 10-19 s play), "repeat" (2nd play of a track).
  OUT/show.json    the parameters, counts and build time.

Content (seeded RNG; the same seed gives the same files):
  * library tracks as excerpts of 25 s to 4 min, some from the start (from
    the first audible sample), some from mid-track; plus a few short plays
    of 10-19 s, which the truth keeps but score-plays.py only reports as a
    bonus (it scores plays of 20 s and more);
  * fades in/out of 1-3 s and crossfades of 2-4 s between music items;
  * espeak-ng speech over the first 5-12 s of some intros ("talk-overs"),
    the music ducked by 6-10 dB under it, never silenced;
  * unknown music (20-60 s excerpts of corpus files not in the library),
    synthetic jingles (3-8 s of ffmpeg sine sweeps, chords, noise bursts),
    DJ speech on its own, and a little dead air;
  * one library track played twice, far apart (two separate plays);
  * the specials (unknown music, jingles, DJ speech, short plays, the
    repeat, dead air) are scheduled across the hour and each follows a
    music item; a 5-minute show has room for only some of them;
  * every music layer is levelled to -20 dBFS RMS (the playout normaliser),
    speech sits at -18 dBFS; the whole show then goes through acompressor
    (-24 dB threshold, 4:1, +6 dB make-up) and alimiter (-1 dBFS), pink
    noise is added 30 dB below programme (-52 dBFS RMS against a -22 dBFS
    mean), and LAME encodes the MP3.

Truth conventions:
  * A play starts where the track becomes audible: the start of its fade-in
    or hard start. In a crossfade the midpoint is the handover: the outgoing
    play ends there and the incoming play starts there.
  * A play ends where it stops being audible: the end of its fade-out, the
    hard cut, or the crossfade midpoint.
  * Speech over an intro does not change the play's start (the track is
    audible under it, ducked).
  * offset_in_track_s is the position in the original file at start_s (for
    a crossfade-in that is the excerpt start plus half the crossfade).
  * Excerpts never reach into a file's leading or trailing digital silence
    (edges are trimmed to the first/last sample above -50 dBFS), so an
    audible edge is where the truth says it is.
  * jingle / speech / silence segments cover their own audible span; gaps
    between items are "silence" segments.

Mixing: every item is rendered by ffmpeg to raw float (44.1 kHz mono) with
its gain, fades and ducking applied; Python then walks the breakpoints of
all layers, copying bytes where one layer plays and summing samples only
where layers overlap (crossfades, talk-overs), streaming into the final
ffmpeg (compressor, limiter, noise, MP3). A 60-minute show builds in about
a minute. Needs the ffmpeg and espeak-ng executables; Python stdlib only.
"""
import argparse
import array
import json
import math
import operator
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

# bump when the same seed would give a different show; monitor-eval.sh
# rebuilds a cached show whose show.json has another version
VERSION = 1
SR = 44100
MUSIC_RMS_DB = -20.0
SPEECH_RMS_DB = -18.0
AUDIBLE = 10 ** (-50 / 20)  # edge threshold for trimming digital silence
# anoisesrc pink noise at amplitude 1 measures -14.2 dBFS RMS (ffmpeg 5.1,
# volumedetect over 20 s); the processed programme measures -22 dBFS mean
# (volumedetect over the whole seed-1 show), so -52 dBFS noise is 30 dB below.
PINK_RMS_AT_AMP1_DB = -14.2
NOISE_RMS_DB = -52.0

VOICES = ["en-gb", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-us+f3", "en-gb+f2", "en-us+m3"]
GREETINGS = [
    "Good evening and welcome back to the late show.",
    "You are listening to Sonica FM, the home of game music.",
    "That was a real favourite of mine.",
    "Coming up next, something a little more relaxed.",
    "It is twenty past the hour and the traffic is quiet tonight.",
    "Thanks for all the messages, keep them coming.",
    "Here is one from the archives.",
    "The weather tomorrow looks bright with a light breeze from the west.",
    "Stay with us, there is plenty more music on the way.",
    "This next one goes out to everyone working the night shift.",
    "We have a competition later in the programme, so stay tuned.",
    "Let us turn the volume up a little for this one.",
    "A quick reminder that our phone lines are open now.",
    "I first heard this tune many years ago and it still sounds fresh.",
    "Right, no more talking from me, here it is.",
]


def die(msg):
    print(f"make-radio-show: {msg}", file=sys.stderr)
    sys.exit(2)


def ffmpeg(args, stdin=None):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"] + args
    p = subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        die("ffmpeg failed: " + " ".join(cmd) + "\n" + p.stderr.decode(errors="replace"))


def read_f32(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def write_f32(path, a):
    with open(path, "wb") as f:
        a.tofile(f)


def rms_db(a):
    if not a:
        return -120.0
    step = max(1, len(a) // 400000)
    sub = a[::step]
    ms = math.fsum(x * x for x in sub) / len(sub)
    return 10 * math.log10(ms) if ms > 0 else -120.0


def audible_edges(a, thr=AUDIBLE):
    """First and last sample index above the audibility threshold."""
    n = len(a)
    first = 0
    while first < n and abs(a[first]) < thr:
        first += 1
    last = n - 1
    while last > first and abs(a[last]) < thr:
        last -= 1
    return first, last + 1


class Show:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="radio-show-")
        self.n = 0
        self.target = int(round(args.minutes * 60 * SR))
        self.layers = []  # (start_sample, n_samples, raw_path)
        self.truth = []
        self.load_corpus()

    # ---------------------------------------------------------------- corpus
    def load_corpus(self):
        a = self.args
        self.dur = {}
        with open(os.path.join(a.corpus, "manifest.tsv")) as f:
            head = f.readline().rstrip("\n").split("\t")
            ip, idur = head.index("path"), head.index("duration_s")
            for line in f:
                c = line.rstrip("\n").split("\t")
                if len(c) > max(ip, idur):
                    self.dur[c[ip]] = float(c[idur])
        with open(os.path.join(a.queries, "reference.txt")) as f:
            lib = [l.strip() for l in f if l.strip()]
        self.library = [p for p in lib if p in self.dur and os.path.exists(os.path.join(a.corpus, p))]
        libset = set(lib)
        self.unknown = sorted(p for p in self.dur if p not in libset
                              and os.path.exists(os.path.join(a.corpus, p)))
        if len(self.library) < 5:
            die("fewer than 5 library tracks found")
        if not self.unknown:
            die("no corpus files outside the library (unknown music)")

    def tmpfile(self, ext):
        self.n += 1
        return os.path.join(self.tmp, f"{self.n:04d}.{ext}")

    # ------------------------------------------------------------- sources
    def extract(self, path, offset, length, trim_edges=True):
        """Pass 1: decode an excerpt to raw float; trim digital silence at the
        edges (the excerpt then starts/ends at audible content). Returns
        (raw_path, offset, length_samples)."""
        raw = self.tmpfile("f32")
        ffmpeg(["-ss", f"{offset:.3f}", "-t", f"{length:.3f}", "-i", os.path.join(self.args.corpus, path),
                "-ac", "1", "-ar", str(SR), "-f", "f32le", raw])
        a = read_f32(raw)
        lvl = rms_db(a)
        if trim_edges:
            # inaudible: below -50 dBFS and 35 dB under the excerpt's RMS
            # (the layer is levelled to -20 dBFS, the noise floor is -52)
            thr = min(AUDIBLE, 10 ** ((lvl - 35) / 20))
            first, last = audible_edges(a, thr)
            if last - first < SR:  # nothing audible: keep as is
                first, last = 0, len(a)
            if first > 0 or last < len(a):
                a = a[first:last]
                write_f32(raw, a)
                offset += first / SR
        return raw, offset, len(a), rms_db(a)

    def jingle_source(self, length):
        rng = self.rng
        raw = self.tmpfile("f32")
        style = rng.choice(["sweep", "chord", "burst", "sweep+chord", "chord+burst"])
        f0 = rng.choice([110, 130.8, 146.8, 164.8, 196, 220])
        parts = []
        if "sweep" in style:
            fa, fb = rng.uniform(200, 600), rng.uniform(1500, 5000)
            if rng.random() < 0.5:
                fa, fb = fb, fa
            parts.append(f"0.5*sin(2*PI*({fa:.1f}*t+({fb:.1f}-{fa:.1f})/(2*{length:.3f})*t*t))")
        if "chord" in style:
            ratios = rng.choice([(1, 1.25, 1.5, 2), (1, 1.2, 1.5, 1.8), (1, 1.335, 1.5, 2.0)])
            step = rng.uniform(0.15, 0.4)
            notes = "+".join(f"gte(t,{i * step:.3f})*sin(2*PI*{f0 * r * 2:.2f}*t)" for i, r in enumerate(ratios))
            parts.append(f"0.25*({notes})*(0.6+0.4*cos(2*PI*{rng.uniform(3, 7):.2f}*t))")
        expr = "+".join(parts) if parts else "0"
        if "burst" in style:
            # noise bursts: white noise gated by a pulse train, band-limited
            rate = rng.uniform(2, 6)
            ffmpeg(["-f", "lavfi", "-i", f"aevalsrc='{expr}':s={SR}:d={length:.3f}",
                    "-f", "lavfi", "-i", f"anoisesrc=color=white:amplitude=0.6:sample_rate={SR}:duration={length:.3f}:seed={rng.randrange(1 << 30)}",
                    "-filter_complex",
                    f"[1:a]bandpass=f={rng.uniform(800, 4000):.0f}:width_type=o:w=1.5,"
                    f"volume='lt(mod(t*{rate:.2f},1),0.3)':eval=frame[nb];"
                    f"[0:a][nb]amix=inputs=2:normalize=0[o]",
                    "-map", "[o]", "-ac", "1", "-ar", str(SR), "-f", "f32le", raw])
        else:
            ffmpeg(["-f", "lavfi", "-i", f"aevalsrc='{expr}':s={SR}:d={length:.3f}",
                    "-ac", "1", "-f", "f32le", raw])
        a = read_f32(raw)
        return raw, len(a), rms_db(a), style

    def speech_source(self, lo, hi):
        """espeak-ng DJ talk lasting lo..hi seconds (trimmed to its audible span)."""
        rng = self.rng
        voice = rng.choice(VOICES)
        speed = rng.randint(150, 180)
        sentences = rng.sample(GREETINGS, len(GREETINGS))
        k = 2
        best = None
        for _ in range(6):
            text = " ".join(sentences[:k])
            wav = self.tmpfile("wav")
            p = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", wav, text],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if p.returncode != 0:
                die("espeak-ng failed: " + p.stderr.decode(errors="replace"))
            raw = self.tmpfile("f32")
            ffmpeg(["-i", wav, "-ac", "1", "-ar", str(SR), "-f", "f32le", raw])
            a = read_f32(raw)
            first, last = audible_edges(a)
            a = a[first:last]
            d = len(a) / SR
            best = (a, raw, text)
            if d < lo:
                k += 1
            elif d > hi:
                if k == 1:
                    break
                k -= 1
            else:
                break
        a, raw, text = best
        if len(a) > int(hi * SR):
            a = a[: int(hi * SR)]  # cut mid-word; shaped with a short fade-out
        write_f32(raw, a)
        return raw, len(a), rms_db(a), voice, text

    def shape(self, raw, n, gain_db, fade_in=0.0, fade_out=0.0, duck=None):
        """Pass 2: gain, fades (seconds) and ducking (t0, t1, db, ramp; layer
        time) into a new raw file."""
        out = self.tmpfile("f32")
        length = n / SR
        f = [f"volume={gain_db:.2f}dB"]
        if fade_in > 0:
            f.append(f"afade=t=in:st=0:d={fade_in:.3f}:curve=qsin")
        if fade_out > 0:
            f.append(f"afade=t=out:st={length - fade_out:.3f}:d={fade_out:.3f}:curve=qsin")
        if duck:
            t0, t1, db, r = duck
            g = 10 ** (-db / 20)
            e = (f"if(lt(t,{t0:.3f}),1,if(lt(t,{t0 + r:.3f}),1-(1-{g:.4f})*(t-{t0:.3f})/{r:.3f},"
                 f"if(lt(t,{t1:.3f}),{g:.4f},if(lt(t,{t1 + r:.3f}),{g:.4f}+(1-{g:.4f})*(t-{t1:.3f})/{r:.3f},1))))")
            f.append(f"volume='{e}':eval=frame")
        ffmpeg(["-f", "f32le", "-ar", str(SR), "-ac", "1", "-i", raw, "-af", ",".join(f),
                "-f", "f32le", out])
        return out

    # ---------------------------------------------------------------- plan
    def run(self):
        a, rng = self.args, self.rng
        T = self.target / SR
        m = a.minutes
        lib = list(self.library)
        rng.shuffle(lib)
        unknown = list(self.unknown)
        rng.shuffle(unknown)
        # scheduled specials: (show time, kind); each is the next item once
        # the show has passed its time
        events = []

        def spread(count, kind, lo=0.08, hi=0.92):
            for i in range(count):
                events.append((T * (lo + (hi - lo) * (i + rng.uniform(0.2, 0.8)) / count), kind))

        spread(max(1, round(m / 12)), "unknown_music")
        spread(max(1, round(m / 8)), "jingle")
        spread(max(1, round(m / 20)), "speech")
        spread(max(1, round(m / 20)), "short", 0.1, 0.85)
        spread(round(m / 30), "silence", 0.15, 0.85)
        events.append((T * rng.uniform(0.55, 0.7), "repeat"))
        events.sort()
        max_play = min(240.0, max(45.0, T / 4))  # short shows get more, shorter plays
        repeat_src = None  # track chosen for the repeat: the 2nd library play

        t = 0.0  # current end of the programme (samples / SR)
        prev = None  # last placed music-ish item (dict) for transitions
        lib_i = 0
        while True:
            remaining = T - t
            if remaining <= 0.05:
                break
            kind = "track"
            if events and t >= events[0][0] and (prev is None or prev["kind"] in ("track", "unknown_music")):
                kind = events.pop(0)[1]
            item = {"kind": kind}
            if kind in ("track", "short", "repeat"):
                short = kind == "short"
                if kind == "repeat" and repeat_src:
                    path = repeat_src
                    item["repeat"] = True
                else:
                    path = lib[lib_i % len(lib)]
                    lib_i += 1
                    if kind == "track" and repeat_src is None and lib_i >= 2:
                        repeat_src = path
                dur = self.dur[path]
                if short:
                    length = rng.uniform(10, 19)
                else:
                    length = min(rng.uniform(25, max_play), dur - 3)
                from_start = rng.random() < 0.45 and not item.get("repeat")
                if from_start:
                    offset = 0.0
                else:
                    offset = rng.uniform(5, max(5, dur - length - 3))
                    if offset + length > dur - 1:
                        offset, from_start = 0.0, True
                item.update(kind="track", path=path, short=short, from_start=from_start)
                src_kind = "music"
            elif kind == "unknown_music":
                path = unknown.pop() if unknown else rng.choice(self.unknown)
                dur = self.dur[path]
                length = min(rng.uniform(20, 60), dur - 3)
                offset = rng.uniform(0, max(0, dur - length - 3))
                item.update(path=path)
                src_kind = "music"
            elif kind == "jingle":
                length = rng.uniform(3, 8)
                src_kind = "jingle"
            elif kind == "speech":
                src_kind = "speech"
            else:  # silence
                length = rng.uniform(1.5, 3.0)
                src_kind = "silence"

            # ---- transition from prev
            music = src_kind == "music"
            xf = 0.0
            gap = 0.0
            if prev is not None:
                if (music and prev["src"] == "music" and rng.random() < 0.5
                        and not item.get("short") and length > 12):
                    xf = rng.uniform(2, 4)
                elif src_kind == "silence" or prev["src"] == "silence":
                    gap = 0.0
                elif src_kind == "jingle" or prev["src"] == "jingle":
                    gap = 0.0 if rng.random() < 0.6 else rng.uniform(0.2, 0.6)
                else:
                    gap = rng.uniform(0.2, 0.9)
            # the last item is cut to end exactly at T
            room = remaining - gap + xf
            if src_kind in ("music", "jingle") and length > room:
                length = room
                if length - xf < 3:
                    src_kind, item["kind"], xf, gap = "silence", "silence", 0.0, 0.0
                    length = remaining
                    music = False
            if xf > 0:
                prev["fade_out"] = xf
                prev["transition_out"] = "crossfade"
            elif prev is not None and prev["src"] == "music":
                if src_kind == "jingle" and rng.random() < 0.5:
                    prev["transition_out"] = "cut"
                    prev["fade_out"] = 0.05
                else:
                    prev["transition_out"] = "fade"
                    prev["fade_out"] = rng.uniform(1, 3)

            # ---- sources
            if src_kind == "music":
                raw, offset, n, lvl = self.extract(path, offset, length + 0.0)
                item.update(raw=raw, n=n, offset=offset, gain=MUSIC_RMS_DB - lvl)
            elif src_kind == "jingle":
                raw, n, lvl, style = self.jingle_source(length)
                item.update(raw=raw, n=n, gain=MUSIC_RMS_DB - lvl, style=style)
            elif src_kind == "speech":
                raw, n, lvl, voice, text = self.speech_source(5, 15)
                item.update(raw=raw, n=n, gain=SPEECH_RMS_DB - lvl, voice=voice, text=text)
            else:
                n = int(round(min(length, remaining - gap) * SR))
                item.update(raw=None, n=n)
            item["src"] = src_kind
            room_n = int(round((remaining - gap) * SR)) + int(round(xf * SR))
            if src_kind != "silence" and item["n"] >= room_n - int(0.05 * SR):
                item["n"] = min(item["n"], room_n)
                item["cut_at_end"] = True

            if prev is not None and gap > 0:
                g = int(round(gap * SR))
                self.truth.append({"kind": "silence", "start_s": round(t, 3), "end_s": round(t + g / SR, 3)})
                t += g / SR
            start = int(round(t * SR)) - int(round(xf * SR))
            item["start"] = start
            item["xf_in"] = xf
            item["transition_in"] = ("crossfade" if xf > 0 else
                                     "start" if prev is None else
                                     "fade" if music and not item.get("from_start") else "cut")
            if music and xf == 0 and not item.get("from_start"):
                item["fade_in"] = rng.uniform(1, 3)
            elif src_kind in ("jingle", "speech"):
                item["fade_in"] = 0.02
            else:
                item["fade_in"] = xf
            if xf > 0:
                item["fade_in"] = xf
            item["fade_out"] = 0.02 if src_kind in ("jingle", "speech") else 0.0
            item["transition_out"] = "end"

            # talk-over on some intros
            if (music and item["kind"] == "track" and not item.get("short")
                    and item["n"] / SR > 40 and rng.random() < 0.3):
                sraw, sn, slvl, voice, text = self.speech_source(5, 12)
                lead = rng.uniform(0.3, 1.5) + xf / 2
                s0 = start + int(round(lead * SR))
                duck_db = rng.uniform(6, 10)
                item["talkover"] = {"start": s0, "n": sn, "raw": sraw, "gain": SPEECH_RMS_DB - slvl,
                                    "duck_db": duck_db, "voice": voice, "text": text, "lead": lead}
            prev = item
            self.items_append(item)
            t = (start + item["n"]) / SR
            if item.get("cut_at_end") or t >= T - 0.05:
                item["fade_out"] = min(3.0, item["n"] / SR / 4) if src_kind == "music" else 0.02
                item["transition_out"] = "end of show"
                break
        if T - t > 0.01:
            # pad the tail with silence so the show is exactly T long
            self.truth.append({"kind": "silence", "start_s": round(t, 3), "end_s": round(T, 3)})
        return self.finish()

    def items_append(self, item):
        if not hasattr(self, "items"):
            self.items = []
        self.items.append(item)

    # ------------------------------------------------------------- render
    def finish(self):
        t_render = time.time()
        for it in self.items:
            if it["src"] == "silence":
                self.truth.append({"kind": "silence", "start_s": round(it["start"] / SR, 3),
                                   "end_s": round((it["start"] + it["n"]) / SR, 3)})
                continue
            n = it["n"]
            duck = None
            if "talkover" in it:
                to = it["talkover"]
                t0 = (to["start"] - it["start"]) / SR
                duck = (t0 - 0.3, t0 + to["n"] / SR + 0.2, to["duck_db"], 0.4)
            raw = it["raw"]
            full = read_f32(raw)
            if n < len(full):
                full = full[:n]
                write_f32(raw, full)
            it["n"] = n = len(full)
            shaped = self.shape(raw, n, it["gain"], it.get("fade_in", 0), it.get("fade_out", 0), duck)
            self.layers.append((it["start"], n, shaped))
            if "talkover" in it:
                to = it["talkover"]
                sh = self.shape(to["raw"], to["n"], to["gain"], 0.02, 0.1)
                self.layers.append((to["start"], to["n"], sh))
            self.truth.append(self.truth_entry(it))
        self.truth.sort(key=lambda e: (e["start_s"], e["end_s"]))
        self.mix()
        return time.time() - t_render

    def truth_entry(self, it):
        s = it["start"] / SR
        e = (it["start"] + it["n"]) / SR
        xin = it.get("xf_in", 0.0)
        xout = it.get("fade_out", 0.0) if it.get("transition_out") == "crossfade" else 0.0
        start = s + xin / 2
        end = e - xout / 2
        kind = it["kind"] if it["src"] != "music" else ("track" if it["kind"] == "track" else "unknown_music")
        d = {"kind": kind}
        if it["src"] == "music":
            d["path"] = it["path"]
        d["start_s"] = round(start, 3)
        d["end_s"] = round(end, 3)
        if it["src"] == "music":
            d["offset_in_track_s"] = round(it["offset"] + xin / 2, 3)
            d["transition_in"] = it["transition_in"]
            d["transition_out"] = it["transition_out"]
            if xin:
                d["crossfade_in_s"] = round(xin, 3)
            elif it.get("fade_in"):
                d["fade_in_s"] = round(it["fade_in"], 3)
            if xout:
                d["crossfade_out_s"] = round(xout, 3)
            elif it.get("fade_out"):
                d["fade_out_s"] = round(it["fade_out"], 3)
            if kind == "track":
                d["short"] = bool(it.get("short"))
                if it.get("repeat"):
                    d["repeat"] = True
                d["from_start"] = bool(it.get("from_start"))
        if "talkover" in it:
            to = it["talkover"]
            d["talkover"] = [round(to["start"] / SR, 3), round((to["start"] + to["n"]) / SR, 3)]
            d["duck_db"] = round(to["duck_db"], 1)
            d["voice"] = to["voice"]
        if it["src"] == "jingle":
            d["style"] = it["style"]
        if it["src"] == "speech":
            d["voice"] = it["voice"]
            d["text"] = it["text"]
        return d

    def mix(self):
        a = self.args
        out_mp3 = os.path.join(a.out, "show.mp3")
        tmp_mp3 = out_mp3 + ".part.mp3"
        noise_amp = 10 ** ((NOISE_RMS_DB - PINK_RMS_AT_AMP1_DB) / 20)
        graph = (f"[0:a]acompressor=threshold={10 ** (-24 / 20):.5f}:ratio=4:attack=5:release=200:makeup=2,"
                 f"alimiter=limit={10 ** (-1 / 20):.4f}:level=0[p];"
                 f"anoisesrc=color=pink:amplitude={noise_amp:.5f}:sample_rate={SR}:seed={a.seed & 0x7fffffff}[n];"
                 f"[p][n]amix=inputs=2:normalize=0:duration=first[o]")
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "f32le", "-ar", str(SR), "-ac", "1", "-i", "pipe:0",
               "-filter_complex", graph, "-map", "[o]",
               "-c:a", "libmp3lame", "-b:a", "128k", "-ar", str(SR), "-ac", "1", tmp_mp3]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        pts = {0, self.target}
        for s, n, _ in self.layers:
            pts.add(max(0, min(self.target, s)))
            pts.add(max(0, min(self.target, s + n)))
        pts = sorted(pts)
        loaded = {}
        order = sorted(range(len(self.layers)), key=lambda i: self.layers[i][0])
        k = 0
        active = []
        try:
            for x0, x1 in zip(pts, pts[1:]):
                while k < len(order) and self.layers[order[k]][0] <= x0:
                    active.append(order[k])
                    k += 1
                active = [i for i in active if self.layers[i][0] + self.layers[i][1] > x0]
                for i in list(loaded):
                    if i not in active:
                        del loaded[i]
                live = [i for i in active if self.layers[i][0] <= x0 < self.layers[i][0] + self.layers[i][1]]
                for i in live:
                    if i not in loaded:
                        with open(self.layers[i][2], "rb") as f:
                            loaded[i] = f.read()
                if not live:
                    p.stdin.write(bytes(4 * (x1 - x0)))
                elif len(live) == 1:
                    s = self.layers[live[0]][0]
                    p.stdin.write(loaded[live[0]][4 * (x0 - s):4 * (x1 - s)])
                else:
                    acc = None
                    for i in live:
                        s = self.layers[i][0]
                        v = array.array("f")
                        v.frombytes(loaded[i][4 * (x0 - s):4 * (x1 - s)])
                        acc = v if acc is None else array.array("f", map(operator.add, acc, v))
                    p.stdin.write(acc.tobytes())
            p.stdin.close()
        except BrokenPipeError:
            pass
        err = p.stderr.read()
        if p.wait() != 0:
            die("final ffmpeg failed:\n" + err.decode(errors="replace"))
        os.replace(tmp_mp3, out_mp3)


def summarize(truth, minutes, min_play=20.0):
    tr = [e for e in truth if e["kind"] == "track"]
    plays = len(tr)
    long_ = [e for e in tr if e["end_s"] - e["start_s"] >= min_play]
    by_path = {}
    for e in tr:
        by_path.setdefault(e["path"], []).append(e)
    return {
        "minutes": minutes,
        "plays": plays,
        "plays_ge_20s": len(long_),
        "short_plays": plays - len(long_),
        "plays_from_start": sum(1 for e in tr if e.get("from_start")),
        "crossfades": sum(1 for e in truth if e.get("transition_in") == "crossfade"),
        "talkovers": sum(1 for e in truth if "talkover" in e),
        "unknown_music": sum(1 for e in truth if e["kind"] == "unknown_music"),
        "jingles": sum(1 for e in truth if e["kind"] == "jingle"),
        "speech": sum(1 for e in truth if e["kind"] == "speech"),
        "silences": sum(1 for e in truth if e["kind"] == "silence"),
        "repeated_tracks": sorted(p for p, v in by_path.items() if len(v) > 1),
        "distinct_tracks": len(by_path),
        "track_seconds": round(sum(e["end_s"] - e["start_s"] for e in tr), 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("queries")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--keep-temp", action="store_true", help="keep the rendered layers (debugging)")
    args = ap.parse_args()
    for exe in ("ffmpeg", "espeak-ng"):
        if not shutil.which(exe):
            die(f"{exe} not found on PATH")
    if args.minutes < 1:
        die("--minutes must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    show = Show(args)
    try:
        show.run()
    finally:
        if not args.keep_temp:
            shutil.rmtree(show.tmp, ignore_errors=True)
    truth = show.truth
    with open(os.path.join(args.out, "truth.jsonl"), "w") as f:
        for e in truth:
            f.write(json.dumps(e) + "\n")
    summary = summarize(truth, args.minutes)
    summary.update(version=VERSION, seed=args.seed, build_s=round(time.time() - t0, 1),
                   corpus=os.path.abspath(args.corpus), queries=os.path.abspath(args.queries))
    with open(os.path.join(args.out, "show.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

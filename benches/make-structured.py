#!/usr/bin/env python3
"""Renders songs with known structure and known drum hits, for measuring
section segmentation, repeat labels, function guesses and per-section drum
transcription (issue 15); and, with --patterns, drum-pattern query clips for
measuring pattern search.

    benches/make-structured.py DEST [--count N] [--seed S] [--jobs J] [--ogg]
    benches/make-structured.py DEST --patterns [--count M] [--seed S] [--jobs J] [--ogg]
    benches/make-structured.py DEST --check      # listen-free checks of DEST's songs

Songs (default mode, N = 24): each song has a random tempo (80-150 BPM), key
(major or minor), 4/4, a drum kit (GM Standard, Room, Power, Electronic or
TR-808) and one of six structure templates (song n takes template n mod 6,
major for n mod 12 < 6, else minor): pop intro/verse/chorus/verse/chorus/
bridge/chorus/outro; double-verse intro/verse/verse/chorus/bridge/chorus/
outro; prechorus intro/verse/prechorus/chorus/verse/prechorus/chorus/outro;
no-intro verse/chorus/verse/chorus/bridge/chorus/chorus; short intro/verse/
chorus/verse/chorus/outro; bridge-late intro/chorus/verse/chorus/verse/
bridge/chorus/outro. Each part is 4-16 bars.
Every distinct part gets a label (A, B, C... in order of first appearance;
repeated parts share the label, the length and the music) and its own chord
progression, instrumentation (GM programs for bass, chords and lead, and a
bass and chord playing style), energy (velocities, which instruments play)
and drum pattern (kick/snare/hi-hat 16-step grids from a pool of common
patterns: rock, four-on-the-floor, half-time, breakbeat, boom-bap, ...;
intros and outros are often sparse or drumless). Some parts end with a
snare fill, loud parts start with a crash cymbal (not in the drum truth: it
is neither kick, snare nor hi-hat). Notes are humanised by a few ms; the
truth holds the times actually written to the MIDI file.

Each song is written as a standard MIDI file (own SMF writer), rendered by
FluidSynth with the FluidR3 General MIDI soundfont at 44.1 kHz, trimmed to
the end of the last bar (0.15 s fade), peak-normalised to -1 dBFS, and
encoded as 16-bit WAV (default) or OGG Vorbis (--ogg). Files:

    DEST/songs/sNNN.wav   audio (s000, s001, ...)
    DEST/songs/sNNN.mid   the MIDI file that was rendered
    DEST/songs/sNNN.json  the truth (below)
    DEST/truth.jsonl      every song's truth, one JSON object a line

Truth object:

    {"file": "songs/s000.wav", "duration_s": 131.2, "tempo_bpm": 117.0,
     "key": "Eb major", "time_signature": "4/4", "template": "pop",
     "drum_kit": 16, "downbeats_s": [0.0, 2.05, ...],
     "sections": [{"index": 0, "start_s": 0.0, "end_s": 8.2, "start_bar": 0,
                   "bars": 4, "label": "A", "function": "intro",
                   "energy": 0.45, "pattern": "hats-only", "fill": false,
                   "grid": {"kick": [16 x 0/1], "snare": [...], "hihat": [...]},
                   "programs": {"bass": 33, "chords": 89, "lead": null},
                   "bass_style": "whole", "chord_style": "pad",
                   "progression": [0, 5, 3, 4]}, ...],
     "drums": [{"t_s": 0.0021, "drum": "kick", "note": 36, "velocity": 112}, ...]}

Functions are intro, verse, prechorus, chorus, bridge, outro. Drum voices
are kick (GM notes 35/36), snare (38/40) and hihat (42 closed, 44 pedal,
46 open). `file` is relative to DEST; duration_s is the audio's length and
equals the last section's end_s.

Pattern clips (--patterns, M = --count base patterns, default 16): for each
base pattern (distinct kick/snare/hi-hat grids), one base clip (~16 s, its
own tempo, key, kit and instruments) and 4 queries: the same pattern at 3
other tempos (x0.7-0.9 and x1.1-1.3, each in another key with other
instruments) and one at the base tempo in another key with other
instruments and another drum kit. Files:

    DEST/base/pNN.wav         the clips to put in the library
    DEST/queries/pNN_qK.wav   the query clips
    DEST/patterns.jsonl       one line per clip: {"file", "role": "base"|"query",
                              "pattern_id": "pNN", "pattern", "grid", "tempo_bpm",
                              "key", "drum_kit", "programs", "variant",
                              "duration_s", "drums": [...]}

Needs root on first use (installs fluidsynth, fluid-soundfont-gm and ffmpeg
from Debian when missing). Standard library only. Existing outputs in DEST
are overwritten. Score with benches/sections-eval.py.
"""
import argparse
import concurrent.futures
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

NOTE_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TPQ = 480
STEP = TPQ // 4  # one 16th note
BAR = 4 * TPQ
RATE = 44100

# Drum patterns, 16 steps a bar. kick: x = 36, y = 35; snare: x = 38, r = 40;
# hat: x = 42 closed, o = 46 open, p = 44 pedal.
PATTERNS = {
    # main grooves
    "rock":        ("x.......x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x."),
    "rock-push":   ("x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x."),
    "rock-16":     ("x.......x.x...x.", "....x.......x...", "xxxxxxxxxxxxxxxx"),
    "four":        ("x...x...x...x...", "....x.......x...", "..o...o...o...o."),
    "disco":       ("x...x...x...x...", "....r.......r...", "xxoxxxoxxxoxxxox"),
    "half-time":   ("x.........x.....", "........x.......", "x.x.x.x.x.x.x.x."),
    "half-time-16": ("x......x..x.....", "........x.......", "xxxxxxxxxxxxxxxx"),
    "breakbeat":   ("x.x.......xx....", "....x..x.x..x..x", "x.x.x.x.x.x.x.x."),
    "breakbeat-2": ("x.........x..x..", "....x.......x...", "x.x.x.x.x.x.x.x."),
    "boom-bap":    ("x......x.x......", "....x.......x...", "x.x.x.x.x.x.x.x."),
    "hiphop":      ("x..x......x.....", "....x.......x...", "x.x.x.xox.x.x.x."),
    "funk":        ("x.x.......x..x..", "....x..x.x..x...", "xxxxxxxxxxxxxxxx"),
    "pop-16":      ("x.....x...x.....", "....x.......x...", "xxxxxxxxxxxxxxxx"),
    "dembow":      ("x...x...x...x...", "...x..x....x..x.", "x.x.x.x.x.x.x.x."),
    "offbeat-snare": ("x...x...x...x...", "..x...x...x...x.", "x.x.x.x.x.x.x.x."),
    "two-step":    ("x.........x.....", "....x.......x...", "x.xxx.x.x.xxx.x."),
    "motown":      ("x.x.x.x.x.x.x.x.", "....x.......x...", "x.x.x.x.x.x.x.x."),
    "shuffle-free": ("x..x..x...x.....", "....x.......x...", "x.xxx.xxx.xxx.xx"),
    # sparse (intros, outros, breakdowns)
    "hats-only":   ("................", "................", "x.x.x.x.x.x.x.x."),
    "hats-quarter": ("................", "................", "x...x...x...x..."),
    "kick-hat":    ("x.......x.......", "................", "..x...x...x...x."),
    "kick-pedal":  ("x.......x.......", "................", "p...p...p...p..."),
    "rim-sparse":  ("x...............", "............x...", "x...x...x...x..."),
}
SPARSE = ["hats-only", "hats-quarter", "kick-hat", "kick-pedal", "rim-sparse"]
MAIN = [p for p in PATTERNS if p not in SPARSE]
KICK = {"x": 36, "y": 35}
SNARE = {"x": 38, "r": 40}
HAT = {"x": 42, "o": 46, "p": 44}
VOICE_OF = {35: "kick", 36: "kick", 38: "snare", 40: "snare", 42: "hihat", 44: "hihat", 46: "hihat"}
KITS = [0, 8, 16, 24, 25]  # Standard, Room, Power, Electronic, TR-808 (bank 128 in FluidR3_GM)

TEMPLATES = {  # song n uses sorted(TEMPLATES)[n % 6]
    "pop": ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"],
    "double-verse": ["intro", "verse", "verse", "chorus", "bridge", "chorus", "outro"],
    "prechorus": ["intro", "verse", "prechorus", "chorus", "verse", "prechorus", "chorus", "outro"],
    "no-intro": ["verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus"],
    "short": ["intro", "verse", "chorus", "verse", "chorus", "outro"],
    "bridge-late": ["intro", "chorus", "verse", "chorus", "verse", "bridge", "chorus", "outro"],
}
BARS = {"intro": [4, 4, 8], "verse": [8, 8, 12, 16], "prechorus": [4, 4, 8], "chorus": [8, 8, 16],
        "bridge": [4, 8, 8], "outro": [4, 4, 8]}
ENERGY = {"intro": 0.4, "verse": 0.65, "prechorus": 0.75, "chorus": 1.0, "bridge": 0.55, "outro": 0.45}

BASS_PROGRAMS = [32, 33, 34, 35, 36, 38, 39]
CHORD_PROGRAMS = [0, 2, 4, 5, 16, 18, 24, 25, 27, 29, 48, 49, 50, 61, 88, 89, 90, 92, 95]
LEAD_PROGRAMS = [11, 12, 22, 26, 30, 40, 56, 64, 65, 66, 68, 71, 73, 80, 81, 82, 85]
SUSTAINED = {16, 18, 19, 48, 49, 50, 52, 61, 88, 89, 90, 92, 95}  # organs, strings, brass, pads
BASS_STYLES = ["whole", "quarters", "eighths", "root-fifth", "syncopated"]
CHORD_STYLES = ["pad", "half", "stabs", "arp", "quarters"]
PROG_MAJOR = [[0, 4, 5, 3], [0, 3, 4, 0], [5, 3, 0, 4], [0, 5, 3, 4], [3, 4, 0, 5], [1, 4, 0, 0], [3, 0, 4, 4],
              [0, 2, 3, 4], [3, 3, 0, 0], [5, 4, 3, 4]]
PROG_MINOR = [[0, 5, 3, 4], [0, 3, 4, 0], [0, 6, 5, 4], [5, 6, 0, 0], [3, 4, 0, 5], [0, 2, 5, 6], [0, 3, 6, 2],
              [3, 0, 6, 4], [5, 3, 0, 6], [0, 0, 3, 4]]


# ---------------------------------------------------------------- MIDI writer

def var_len(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(tracks, tpq=TPQ):
    """A type-1 SMF from lists of (tick, message bytes)."""
    data = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), tpq)
    for events in tracks:
        # at one tick: meta and program changes first, then note-offs, then note-ons
        events.sort(key=lambda e: (e[0], 2 if (e[1][0] & 0xF0) == 0x90 and e[1][2] > 0 else
                                   1 if (e[1][0] & 0xF0) in (0x80, 0x90) else 0))
        body, last = bytearray(), 0
        for t, msg in events:
            body += var_len(t - last) + msg
            last = t
        body += var_len(0) + b"\xff\x2f\x00"
        data += b"MTrk" + struct.pack(">I", len(body)) + bytes(body)
    return data


class Song:
    """Collects MIDI events per channel and the drum truth."""

    def __init__(self, bpm):
        self.us_per_q = round(60_000_000 / bpm)
        self.bpm = 60_000_000 / self.us_per_q  # the tempo the file really has
        self.tracks = {}
        self.drums = []

    def sec(self, tick):
        return tick * self.us_per_q / 1e6 / TPQ

    def ev(self, ch, t, msg):
        self.tracks.setdefault(ch, []).append((max(0, t), bytes(msg)))

    def program(self, ch, t, prog):
        self.ev(ch, t, [0xC0 | ch, prog])

    def cc(self, ch, t, ctl, val):
        self.ev(ch, t, [0xB0 | ch, ctl, val])

    def note(self, ch, t, dur, pitch, vel):
        t = max(0, t)
        vel = max(1, min(127, int(round(vel))))
        self.ev(ch, t, [0x90 | ch, pitch, vel])
        self.ev(ch, t + max(10, dur), [0x80 | ch, pitch, 0])
        if ch == 9 and pitch in VOICE_OF:
            self.drums.append({"t_s": round(self.sec(t), 4), "drum": VOICE_OF[pitch], "note": pitch, "velocity": vel})

    def smf(self, end_tick):
        meta = [(0, b"\xff\x51\x03" + struct.pack(">I", self.us_per_q)[1:]), (0, b"\xff\x58\x04\x04\x02\x18\x08"),
                (end_tick, b"\xff\x01\x03end")]
        tracks = [meta] + [self.tracks[ch] for ch in sorted(self.tracks)]
        return midi_file(tracks)


# ---------------------------------------------------------------- music

def grid_of(name):
    k, s, h = PATTERNS[name]
    return {"kick": [int(c != ".") for c in k], "snare": [int(c != ".") for c in s], "hihat": [int(c != ".") for c in h]}


def humanise(rng, song, ms=4.0):
    return int(round(rng.uniform(-ms, ms) / 1000 / song.sec(1)))


def play_drums(rng, song, t0, pattern, energy, fill=False, crash=False, last_bar=False):
    k, s, h = PATTERNS[pattern] if isinstance(pattern, str) else pattern
    e = 0.75 + 0.25 * energy
    if fill and last_bar:  # snare fill over the last beat, no hats there
        s = s[:12] + "xxxx"
        h = h[:12] + "...."
    for i in range(16):
        pos = t0 + i * STEP
        if crash and i == 0:
            song.note(9, pos + humanise(rng, song), 200, 49, 100 * e)
        if k[i] != ".":
            song.note(9, pos + humanise(rng, song), 60, KICK[k[i]], rng.randint(104, 122) * e)
        if s[i] != ".":
            song.note(9, pos + humanise(rng, song), 60, SNARE[s[i]], rng.randint(96, 116) * e * (0.9 if i >= 12 and fill and last_bar else 1))
        if h[i] != ".":
            accent = 1.0 if i % 4 == 0 else 0.88 if i % 2 == 0 else 0.78
            song.note(9, pos + humanise(rng, song), 50, HAT[h[i]], rng.randint(80, 96) * accent * e)


def pitch_fn(tonic, minor):
    scale = MINOR if minor else MAJOR

    def pitch_of(d, octave, deg=None):
        d_oct, d_idx = divmod(d, 7)
        semis = scale[d_idx] + 12 * d_oct
        if minor and d_idx == 6 and deg == 4:
            semis += 1  # leading tone over the dominant
        return 12 * octave + tonic + semis
    return pitch_of


def triad(pitch_of, deg, minor, octave=4):
    t = [pitch_of(deg, octave, deg), pitch_of(deg + 2, octave, deg), pitch_of(deg + 4, octave, deg)]
    if minor and deg % 7 == 4:
        t[1] += 1  # major V in minor
    return t


def make_part(rng, function, tonic, minor, used_progs, used_patterns, main_pool=None):
    """The music of one labelled part: everything a repeat must share."""
    pool = PROG_MINOR if minor else PROG_MAJOR
    free = [p for p in pool if tuple(p) not in used_progs] or pool
    prog = rng.choice(free)
    used_progs.add(tuple(prog))
    energy = round(min(1.0, max(0.2, ENERGY[function] + rng.uniform(-0.08, 0.08))), 2)
    if function in ("intro", "outro"):
        pattern = rng.choice([None, None] + SPARSE) if rng.random() < 0.8 else rng.choice(MAIN)
    elif function == "bridge" and rng.random() < 0.4:
        pattern = rng.choice(SPARSE)
    else:
        free = [p for p in (main_pool or MAIN) if p not in used_patterns] or MAIN
        pattern = rng.choice(free)
    if pattern:
        used_patterns.add(pattern)
    sparse = function in ("intro", "outro") or energy < 0.6
    part = {
        "function": function,
        "progression": prog,
        "energy": energy,
        "pattern": pattern,
        "fill": function not in ("outro",) and pattern in MAIN and rng.random() < 0.5,
        "programs": {"bass": None if function == "intro" and rng.random() < 0.5 else rng.choice(BASS_PROGRAMS),
                     "chords": rng.choice(CHORD_PROGRAMS),
                     "lead": None if sparse and rng.random() < 0.6 else rng.choice(LEAD_PROGRAMS)},
        "bass_style": rng.choice(BASS_STYLES[:2] if sparse else BASS_STYLES),
        "chord_style": rng.choice(["pad", "half", "arp"] if sparse else CHORD_STYLES),
        "octave_lead": 5 if function != "chorus" else rng.choice([5, 6]),
    }
    # a two-bar melody (rhythm and chord-relative degrees), reused for every repeat
    motif = []
    for b in range(2):
        t, bar = 0, []
        while t < BAR:
            dur = min(rng.choice([TPQ // 2, TPQ // 2, TPQ, TPQ, TPQ * 3 // 2, TPQ * 2]), BAR - t)
            bar.append((t, dur, rng.choice([0, 2, 4, 0, 2, 4, 1, 3, 5, 7]) if rng.random() < 0.85 else None,
                        rng.randint(80, 104)))
            t += dur
        motif.append(bar)
    part["motif"] = motif
    if part["chord_style"] == "pad" and part["programs"]["chords"] not in SUSTAINED:
        part["programs"]["chords"] = rng.choice(sorted(SUSTAINED))  # a held chord needs an instrument that holds
    if part["programs"]["bass"] is None and part["programs"]["lead"] is None:
        part["programs"]["lead"] = rng.choice(LEAD_PROGRAMS)  # at least two instruments, even in an intro
    return part


def play_part(rng, song, part, t0, bars, tonic, minor, channels, crash_ok=True):
    pitch_of = pitch_fn(tonic, minor)
    e = part["energy"]
    ch_bass, ch_chord, ch_lead = channels
    for role, ch in (("bass", ch_bass), ("chords", ch_chord), ("lead", ch_lead)):
        if part["programs"][role] is not None:
            song.program(ch, t0, part["programs"][role])
    for b in range(bars):
        tb = t0 + b * BAR
        deg = part["progression"][b % len(part["progression"])]
        chord = triad(pitch_of, deg, minor)
        vel = 0.55 + 0.45 * e
        if part["programs"]["chords"] is not None:
            style = part["chord_style"]
            if style == "pad":
                for p in chord:
                    song.note(ch_chord, tb, BAR - 20, p, 72 * vel)
            elif style == "half":
                for beat in (0, 2):
                    for p in chord:
                        song.note(ch_chord, tb + beat * TPQ, 2 * TPQ - 30, p, 74 * vel)
            elif style == "quarters":
                for beat in range(4):
                    for p in chord:
                        song.note(ch_chord, tb + beat * TPQ + humanise(rng, song), TPQ - 40, p, 72 * vel)
            elif style == "stabs":
                for beat in (0.5, 1.5, 2.5, 3.5):
                    for p in chord:
                        song.note(ch_chord, tb + int(beat * TPQ) + humanise(rng, song), TPQ // 3, p, 80 * vel)
            elif style == "arp":
                seq = chord + [chord[0] + 12, chord[2], chord[1]] + chord[:2]
                for i in range(8):
                    song.note(ch_chord, tb + i * TPQ // 2 + humanise(rng, song), TPQ // 2 - 20, seq[i], 76 * vel)
        if part["programs"]["bass"] is not None:
            root = pitch_of(deg, 2, deg)
            style = part["bass_style"]
            notes = {"whole": [(0, 4, 0)], "quarters": [(b_, 1, 0) for b_ in range(4)],
                     "eighths": [(b_ / 2, 0.5, 0) for b_ in range(8)],
                     "root-fifth": [(0, 1.5, 0), (1.5, 0.5, 0), (2, 1.5, 7), (3.5, 0.5, 0)],
                     "syncopated": [(0, 0.75, 0), (0.75, 0.75, 0), (1.5, 1, 12), (2.5, 0.5, 7), (3, 1, 0)]}[style]
            for beat, dur, off in notes:
                song.note(ch_bass, tb + int(beat * TPQ) + humanise(rng, song), int(dur * TPQ) - 30, root + off,
                          rng.randint(88, 102) * vel)
        if part["programs"]["lead"] is not None:
            for (t, dur, d, v) in part["motif"][b % 2]:
                if d is None:
                    continue
                song.note(ch_lead, tb + t + humanise(rng, song), max(60, dur - 40),
                          pitch_of(deg + d, part["octave_lead"], deg), v * vel)
        if part["pattern"]:
            play_drums(rng, song, tb, part["pattern"], e, fill=part["fill"],
                       crash=crash_ok and b == 0 and e >= 0.7, last_bar=b == bars - 1)


def setup_channels(song, kit):
    song.program(9, 0, kit)
    for ch, vol in ((0, 100), (1, 82), (2, 88), (9, 112)):
        song.cc(ch, 0, 7, vol)
        song.cc(ch, 0, 10, 64 if ch in (0, 9) else 40 if ch == 1 else 88)


# ---------------------------------------------------------------- rendering

def ensure_tools():
    missing = [p for p, path in (("fluidsynth", shutil.which("fluidsynth")), ("ffmpeg", shutil.which("ffmpeg")),
                                 ("fluid-soundfont-gm", os.path.exists(SOUNDFONT) or None)) if not path]
    if missing:
        print(f"installing {' '.join(missing)}...", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env,
                       stdout=subprocess.DEVNULL)


def render(mid_bytes, mid_path, out_path, end_s, ogg):
    """MIDI -> FluidSynth WAV -> trimmed to end_s, faded, peak-normalised to -1 dBFS."""
    with open(mid_path, "wb") as f:
        f.write(mid_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RATE), "-F", raw, SOUNDFONT, mid_path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trim = f"atrim=end={end_s:.6f},apad=whole_dur={end_s:.6f},afade=t=out:st={max(0, end_s - 0.15):.6f}:d=0.15"
        p = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-i", raw, "-af", trim + ",volumedetect",
                            "-f", "null", "-"], capture_output=True, text=True, check=True)
        m = re.search(r"max_volume:\s*(-?[\d.]+) dB", p.stderr)
        gain = -1.0 - float(m.group(1)) if m else 0.0
        codec = ["-c:a", "libvorbis", "-q:a", "6"] if ogg else ["-c:a", "pcm_s16le"]
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", raw, "-af", f"{trim},volume={gain:.2f}dB",
                        "-ar", str(RATE), *codec, out_path], check=True)
    dur = float(subprocess.run(["ffprobe", "-v", "quiet", "-show_entries", "format=duration", "-of", "csv=p=0",
                                out_path], capture_output=True, text=True).stdout.strip() or 0)
    return dur


def key_name(tonic, minor):
    return f"{NOTE_NAMES[tonic]} {'minor' if minor else 'major'}"


def compose_song(seed, n=None):
    """Song n cycles through the templates, then major/minor, so a run covers them evenly."""
    rng = random.Random(seed)
    bpm = rng.randint(80, 150)
    tonic, minor = rng.randrange(12), rng.random() < 0.5
    template = rng.choice(sorted(TEMPLATES))
    if n is not None:
        template, minor = sorted(TEMPLATES)[n % len(TEMPLATES)], (n // len(TEMPLATES)) % 2 == 1
    kit = rng.choice(KITS)
    song = Song(bpm)
    setup_channels(song, kit)
    parts, labels, used_progs, used_patterns = {}, {}, set(), set()
    sections, t, bar_no = [], 0, 0
    for function in TEMPLATES[template]:
        if function not in parts:
            parts[function] = make_part(rng, function, tonic, minor, used_progs, used_patterns)
            parts[function]["bars"] = rng.choice(BARS[function])
            labels[function] = chr(ord("A") + len(labels))
        part = parts[function]
        bars = part["bars"]
        play_part(rng, song, part, t, bars, tonic, minor, (0, 1, 2))
        sections.append({"index": len(sections), "start_s": round(song.sec(t), 4),
                         "end_s": round(song.sec(t + bars * BAR), 4), "start_bar": bar_no, "bars": bars,
                         "label": labels[function], "function": function, "energy": part["energy"],
                         "pattern": part["pattern"], "fill": part["fill"],
                         "grid": grid_of(part["pattern"]) if part["pattern"] else
                         {v: [0] * 16 for v in ("kick", "snare", "hihat")},
                         "programs": part["programs"], "bass_style": part["bass_style"],
                         "chord_style": part["chord_style"], "progression": part["progression"]})
        t += bars * BAR
        bar_no += bars
    song.drums.sort(key=lambda d: d["t_s"])
    truth = {"tempo_bpm": round(song.bpm, 3), "key": key_name(tonic, minor), "time_signature": "4/4",
             "template": template, "drum_kit": kit,
             "downbeats_s": [round(song.sec(b * BAR), 4) for b in range(bar_no)],
             "sections": sections, "drums": song.drums}
    return song.smf(t), song.sec(t), truth


def pattern_clip(seed, pattern, bpm, tonic, minor, kit, programs, target_s=16.0):
    """One clip: the drum pattern in every bar under bass, chords and lead."""
    rng = random.Random(seed)
    song = Song(bpm)
    setup_channels(song, kit)
    bars = max(4, min(int(20 * song.bpm / 240), round(target_s * song.bpm / 240)))
    part = make_part(rng, "verse", tonic, minor, set(), set())
    part.update(pattern=pattern, fill=False, energy=0.8, programs=programs)
    play_part(rng, song, part, 0, bars, tonic, minor, (0, 1, 2), crash_ok=False)
    song.drums.sort(key=lambda d: d["t_s"])
    return song.smf(bars * BAR), song.sec(bars * BAR), {"tempo_bpm": round(song.bpm, 3), "key": key_name(tonic, minor),
                                                        "drum_kit": kit, "programs": part["programs"],
                                                        "drums": song.drums}


def base_patterns(rng, m):
    """m distinct (kick, snare, hat) grids: the pool first, then mutations of it."""
    names = list(MAIN)
    rng.shuffle(names)
    out, seen = [], set()
    for n in names[:m]:
        out.append((n, PATTERNS[n]))
        seen.add(PATTERNS[n])
    i = 0
    while len(out) < m:
        n = names[i % len(names)]
        k, s, h = (list(x) for x in PATTERNS[n])
        for _ in range(2):  # move or add a kick, add or drop a snare ghost
            j = rng.randrange(16)
            if rng.random() < 0.6:
                k[j] = "." if k[j] != "." and j != 0 else "x"
            elif j not in (4, 12):
                s[j] = "." if s[j] != "." else "x"
        cand = ("".join(k), "".join(s), "".join(h))
        if cand not in seen:
            seen.add(cand)
            out.append((f"{n}-var{len(out)}", cand))
        i += 1
    return out


# ---------------------------------------------------------------- main

def run_jobs(jobs, fn, items):
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        futs = [ex.submit(fn, *it) for it in items]
        done = 0
        for f in concurrent.futures.as_completed(futs):
            f.result()
            done += 1
            if done % 8 == 0 or done == len(futs):
                print(f"{done}/{len(futs)} rendered", file=sys.stderr)
        return [f.result() for f in futs]


def make_songs(a):
    os.makedirs(os.path.join(a.dest, "songs"), exist_ok=True)
    ext = "ogg" if a.ogg else "wav"

    def one(n):
        smf, end_s, truth = compose_song(a.seed * 100003 + n, n)
        rel = f"songs/s{n:03d}.{ext}"
        dur = render(smf, os.path.join(a.dest, f"songs/s{n:03d}.mid"), os.path.join(a.dest, rel), end_s, a.ogg)
        truth = {"file": rel, "duration_s": round(dur, 4), **truth}
        if abs(dur - end_s) > 0.05:
            print(f"warning: {rel} lasts {dur:.3f} s, the music {end_s:.3f} s", file=sys.stderr)
        with open(os.path.join(a.dest, f"songs/s{n:03d}.json"), "w") as f:
            json.dump(truth, f, indent=1)
        return truth, end_s

    t0 = time.time()
    res = run_jobs(a.jobs, one, [(n,) for n in range(a.count)])
    with open(os.path.join(a.dest, "truth.jsonl"), "w") as f:
        for truth, _ in res:
            f.write(json.dumps(truth) + "\n")
    audio = sum(e for _, e in res)
    el = time.time() - t0
    print(f"wrote {len(res)} songs ({audio / 60:.1f} min of audio) to {a.dest} in {el:.1f} s "
          f"({el / max(1, len(res)):.2f} s a song, {audio / el:.0f}x real time with {a.jobs} jobs)", file=sys.stderr)


def make_patterns(a):
    for d in ("base", "queries"):
        os.makedirs(os.path.join(a.dest, d), exist_ok=True)
    ext = "ogg" if a.ogg else "wav"
    rng = random.Random(a.seed)
    items = []
    for i, (name, pat) in enumerate(base_patterns(rng, a.count)):
        pid = f"p{i:02d}"
        bpm = rng.randint(85, 135)
        tonic, minor = rng.randrange(12), rng.random() < 0.5
        kit = rng.choice([0, 8, 16])
        progs = {"bass": rng.choice(BASS_PROGRAMS), "chords": rng.choice(CHORD_PROGRAMS),
                 "lead": rng.choice(LEAD_PROGRAMS)}
        items.append((f"base/{pid}.{ext}", "base", pid, name, pat, bpm, tonic, minor, kit, progs, "base"))
        factors = [rng.uniform(0.7, 0.9), rng.uniform(1.1, 1.3), rng.choice([rng.uniform(0.7, 0.9), rng.uniform(1.1, 1.3)])]
        for q, f in enumerate(factors + [1.0]):
            shift = rng.randint(1, 11)
            qkit = rng.choice([k for k in (0, 8, 16) if k != kit]) if f == 1.0 else kit
            variant = f"tempo x{f:.2f}, key +{shift}, other instruments" + (f", kit {qkit}" if qkit != kit else "")
            qprogs = {role: rng.choice([p for p in pool if p != progs[role]])
                      for role, pool in (("bass", BASS_PROGRAMS), ("chords", CHORD_PROGRAMS), ("lead", LEAD_PROGRAMS))}
            items.append((f"queries/{pid}_q{q}.{ext}", "query", pid, name, pat, round(bpm * f), (tonic + shift) % 12,
                          rng.random() < 0.5, qkit, qprogs, variant))

    def one(k, rel, role, pid, name, pat, bpm, tonic, minor, kit, progs, variant):
        smf, end_s, info = pattern_clip(a.seed * 100003 + k, pat, bpm, tonic, minor, kit, progs)
        mid = os.path.join(a.dest, rel.rsplit(".", 1)[0] + ".mid")
        dur = render(smf, mid, os.path.join(a.dest, rel), end_s, a.ogg)
        grid = {"kick": [int(c != ".") for c in pat[0]], "snare": [int(c != ".") for c in pat[1]],
                "hihat": [int(c != ".") for c in pat[2]]}
        return {"file": rel, "role": role, "pattern_id": pid, "pattern": name, "grid": grid, "variant": variant,
                "duration_s": round(dur, 4), **info}

    t0 = time.time()
    res = run_jobs(a.jobs, one, [(k, *it) for k, it in enumerate(items)])
    with open(os.path.join(a.dest, "patterns.jsonl"), "w") as f:
        for r in res:
            f.write(json.dumps(r) + "\n")
    audio = sum(r["duration_s"] for r in res)
    el = time.time() - t0
    print(f"wrote {a.count} base clips and {len(res) - a.count} queries ({audio / 60:.1f} min) to {a.dest} "
          f"in {el:.1f} s ({audio / el:.0f}x real time)", file=sys.stderr)


def check(a):
    """Listen-free checks of DEST's songs: durations, loudness per section,
    drum hits per section, and FluidSynth's onset latency per kit."""
    songs = [json.loads(l) for l in open(os.path.join(a.dest, "truth.jsonl"))]
    bad = 0
    print("| song | duration file/truth s | sections | quietest section (mean momentary LUFS) | drums k/s/h | problems |")
    print("|---|---|---|---|---|---|")
    for t in songs:
        path = os.path.join(a.dest, t["file"])
        dur = float(subprocess.run(["ffprobe", "-v", "quiet", "-show_entries", "format=duration", "-of", "csv=p=0",
                                    path], capture_output=True, text=True).stdout.strip() or 0)
        err = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128",
                              "-f", "null", "-"], capture_output=True, text=True).stderr
        mom = [(float(m.group(1)), float(m.group(2))) for m in re.finditer(r"t:\s*([\d.]+).*?M:\s*(-?[\d.]+|-inf)", err)
               if m.group(2) != "-inf"]
        problems, quiet = [], (None, 1e9)
        if abs(dur - t["sections"][-1]["end_s"]) > 0.05 or abs(dur - t["duration_s"]) > 0.05:
            problems.append("duration")
        for s in t["sections"]:
            vals = [m for (tt, m) in mom if s["start_s"] + 0.4 <= tt <= s["end_s"]]
            mean = sum(vals) / len(vals) if vals else -120
            if mean < quiet[1]:
                quiet = (f'{s["index"]}:{s["function"]}', mean)
            if mean < -40:
                problems.append(f'section {s["index"]} silent ({mean:.0f} LUFS)')
            # humanised hits may start a few ms before their section
            hits = [d for d in t["drums"] if s["start_s"] - 0.01 <= d["t_s"] < s["end_s"] - 0.01]
            for v in ("kick", "snare", "hihat"):
                want = sum(s["grid"][v]) > 0
                have = any(d["drum"] == v for d in hits)
                if want and not have or have and not want and not (v == "snare" and s["fill"]):
                    problems.append(f'section {s["index"]} {v}: grid {want}, hits {have}')
        counts = "/".join(str(sum(d["drum"] == v for d in t["drums"])) for v in ("kick", "snare", "hihat"))
        bad += bool(problems)
        print(f'| {t["file"]} | {dur:.2f}/{t["sections"][-1]["end_s"]:.2f} | {len(t["sections"])} | '
              f'{quiet[0]} {quiet[1]:.1f} | {counts} | {"; ".join(problems) or "ok"} |')
    # onset latency: isolated hits at known times, each kit
    import array
    import wave
    lat = []
    with tempfile.TemporaryDirectory() as tmp:
        for kit in KITS:
            s = Song(120)
            setup_channels(s, kit)
            notes = [36, 38, 42, 46, 35, 40]
            for i, p in enumerate(notes):
                s.note(9, (i + 1) * 2 * TPQ, 60, p, 110)
            with open(f"{tmp}/i.mid", "wb") as f:
                f.write(s.smf((len(notes) + 2) * 2 * TPQ))
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RATE), "-F", f"{tmp}/i.wav", SOUNDFONT,
                            f"{tmp}/i.mid"], check=True, capture_output=True)
            w = wave.open(f"{tmp}/i.wav")
            pcm = array.array("h", w.readframes(w.getnframes()))[0::w.getnchannels()]
            for i in range(len(notes)):
                k0 = int((i + 1) * RATE) - 2000
                seg = pcm[k0:k0 + 8000]
                pk = max(abs(x) for x in seg)
                lat.append((next(k for k, x in enumerate(seg) if abs(x) > 0.05 * pk) - 2000) / RATE * 1000)
    lat.sort()
    print(f"\n{len(songs) - bad}/{len(songs)} songs without problems; FluidSynth onset latency over "
          f"{len(lat)} isolated kick/snare/hat hits ({len(KITS)} kits): median {lat[len(lat) // 2]:.1f} ms, "
          f"range {lat[0]:.1f}..{lat[-1]:.1f} ms (the truth holds MIDI times)")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dest")
    ap.add_argument("--count", type=int, default=None, help="songs (default 24) or base patterns (default 16)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--ogg", action="store_true", help="OGG Vorbis (q 6) instead of 16-bit WAV")
    ap.add_argument("--patterns", action="store_true", help="render pattern-search clips instead of songs")
    ap.add_argument("--check", action="store_true", help="check DEST's rendered songs (durations, loudness per "
                    "section, drum hits per section, onset latency) and exit")
    a = ap.parse_args()
    if a.check:
        sys.exit(check(a))
    a.count = a.count if a.count is not None else (16 if a.patterns else 24)
    ensure_tools()
    (make_patterns if a.patterns else make_songs)(a)


if __name__ == "__main__":
    main()

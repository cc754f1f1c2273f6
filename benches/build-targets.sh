#!/usr/bin/env bash
# Rebuilds Sonica's built-in genre targets (src/mastering/targets/*.json)
# from the freely licensed game-soundtrack corpus. See docs/builtin-targets.md.
#
#   benches/build-targets.sh CORPUS SONICA [OUT_DIR]
#
#   CORPUS   the folder made by ../shared/corpus/fetch-corpus.sh (manifest.tsv,
#            music/, debs/)
#   SONICA   a sonica binary (debug or release: `reference build-target` is
#            the same in both)
#   OUT_DIR  where <genre>.json goes; default: src/mastering/targets of this
#            repository
#
# Env: SONICA_TARGET_MAX (default 15) tracks per genre at most,
#      SONICA_TARGET_MIN (default 5) tracks a genre needs to get a target.
#
# How a track gets its genre: the manifest has none, so the track's own
# GENRE tag (Vorbis comment) is read with ffprobe and mapped through
# GENRE_MAP below. Tags that describe a use rather than a style
# ("Soundtrack", "Game", ...) and untagged tracks get no genre. A genre with
# at least MIN tracks gets a target built from its first MAX tracks in
# manifest order. Each source file's origin (Debian package and version,
# upstream, artist tag) and licence (from the package's debian/copyright,
# see SOURCES below) are written into the JSON per file. Needs python3 and
# ffprobe; no root, no network.
set -euo pipefail

if (($# < 2)); then
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$(cd "$1" && pwd)"
sonica="$2"
out="${3:-$here/src/mastering/targets}"
[[ -f "$corpus/manifest.tsv" ]] || { echo "no manifest.tsv in $corpus (run ../shared/corpus/fetch-corpus.sh first)" >&2; exit 2; }
[[ -x "$sonica" ]] || { echo "not an executable: $sonica" >&2; exit 2; }
command -v ffprobe >/dev/null || { echo "ffprobe (package ffmpeg) is needed" >&2; exit 2; }
mkdir -p "$out"

exec python3 - "$corpus" "$sonica" "$out" "${SONICA_TARGET_MAX:-15}" "${SONICA_TARGET_MIN:-5}" <<'PY'
import csv, glob, json, math, os, re, subprocess, sys, time, urllib.parse

corpus, sonica, out, max_n, min_n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

# corpus source -> (Debian package, upstream, licence of its music per the
# package's /usr/share/doc/<package>/copyright and the upstream's notes).
SOURCES = {
    "wesnoth": ("wesnoth-1.16-music", "The Battle for Wesnoth, https://www.wesnoth.org/",
                "GPL-2.0-or-later"),
    "hedgewars": ("hedgewars-data", "Hedgewars, https://hedgewars.org/",
                  "GPL-2.0 (debian/copyright Files: *; see Data/Music/credits.txt for per-track authors)"),
    "supertux": ("supertux-data", "SuperTux, https://www.supertux.org/",
                 "GPL-2.0-or-later (debian/copyright Files: data/music/*)"),
    "openclonk": ("openclonk-data", "OpenClonk, https://www.openclonk.org/",
                  "CC-BY-3.0 (Music.ocg/authors.txt)"),
    "lincity": ("lincity-ng-data", "LinCity-NG, https://github.com/lincity-ng/lincity-ng",
                "GPL-2.0-or-later"),
    "frozenbubble": ("frozen-bubble-data", "Frozen Bubble, http://www.frozen-bubble.org/",
                     "GPL-2.0"),
}

# GENRE tag (lower case) -> Sonica genre; None: says how the music is used,
# not what it sounds like.
GENRE_MAP = {
    "romantic classical": "orchestral",
    "orchestral": "orchestral",
    "rock": "rock",
    "house": "electronic",
    "ambient": "ambient",
    "reggae": "reggae",
    "soundtrack": None,
    "game soundtrack": None,
    "game music": None,
    "game": None,
}

def version(pkg):
    debs = sorted(glob.glob(os.path.join(corpus, "debs", pkg + "_*.deb")))
    if not debs:
        return "?"
    return urllib.parse.unquote(os.path.basename(debs[-1]).split("_")[1])

def tags(path):
    r = subprocess.run(["ffprobe", "-v", "quiet", "-of", "json", "-show_entries",
                        "format_tags:stream_tags", path], capture_output=True, text=True, check=True)
    d = json.loads(r.stdout or "{}")
    t = {}
    for s in d.get("streams", []) + [d.get("format", {})]:
        for k, v in (s.get("tags") or {}).items():
            t.setdefault(k.lower(), v.strip())
    return t

rows = list(csv.DictReader(open(os.path.join(corpus, "manifest.tsv")), delimiter="\t"))
by_genre, unknown = {}, {}
for row in rows:
    t = tags(os.path.join(corpus, row["path"]))
    tag = t.get("genre", "").lower()
    if tag not in GENRE_MAP:
        if tag:
            unknown[tag] = unknown.get(tag, 0) + 1
        continue
    g = GENRE_MAP[tag]
    if g:
        by_genre.setdefault(g, []).append((row, t))
if unknown:
    print(f"GENRE tags not in GENRE_MAP (left out): {unknown}", file=sys.stderr)
print("tracks per genre: " + ", ".join(f"{g} {len(v)}" for g, v in sorted(by_genre.items())), file=sys.stderr)

def finite_numbers(x):
    if isinstance(x, dict):
        return all(finite_numbers(v) for v in x.values())
    if isinstance(x, list):
        return all(finite_numbers(v) for v in x)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return math.isfinite(x)
    return True

written = 0
for g, tracks in sorted(by_genre.items()):
    if len(tracks) < min_n:
        print(f"{g}: {len(tracks)} tracks < {min_n}, no target", file=sys.stderr)
        continue
    chosen = tracks[:max_n]
    files = [os.path.join(corpus, r["path"]) for r, _ in chosen]
    t0 = time.time()
    res = subprocess.run([sonica, "reference", "build-target", "--genre", g,
                          "--origin", "-", "--license", "-", *files],
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{g}: build-target failed ({res.returncode}): {res.stderr.strip()}")
    doc = json.loads(res.stdout)
    # One origin and licence per file, from the manifest's source.
    for src, (row, t) in zip(doc["sources"], chosen, strict=True):
        if src["file"] != os.path.basename(row["path"]):
            sys.exit(f"{g}: sources out of order: {src['file']} vs {row['path']}")
        if row["source"] not in SOURCES:
            sys.exit(f"{g}: no licence known for source {row['source']!r}: add it to SOURCES")
        pkg, upstream, licence = SOURCES[row["source"]]
        origin = f"Debian package {pkg} {version(pkg)} ({upstream})"
        if t.get("artist"):
            origin += f"; music by {t['artist']}"
        src["origin"], src["license"] = origin, licence
    tg = doc["target"]
    problems = []
    if doc["genre"] != g:
        problems.append(f"genre {doc['genre']!r}")
    if len(tg["bands"]) != 31:
        problems.append(f"{len(tg['bands'])} bands")
    if tg["references"] != len(doc["sources"]) or len(doc["sources"]) != len(chosen):
        problems.append(f"references {tg['references']} vs {len(doc['sources'])} sources")
    if not finite_numbers(doc):
        problems.append("a number is not finite")
    if problems:
        sys.exit(f"{g}: invalid target: {'; '.join(problems)}")
    name = re.sub(r"[^a-z0-9]+", "-", g.lower()).strip("-")
    path = os.path.join(out, name + ".json")
    with open(path, "w") as f:
        f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    written += 1
    print(f"{g}: {len(chosen)} of {len(tracks)} tracks -> {path} ({time.time() - t0:.1f} s)", file=sys.stderr)
if not written:
    sys.exit("no genre has enough tracks: nothing written")
PY

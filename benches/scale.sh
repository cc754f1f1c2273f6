#!/usr/bin/env bash
# Recognition against libraries of 1 000, 10 000 and 100 000 tracks
# (issue 18): does a clip's cost grow with the clip or with the library?
#
#   SIZES="1000 10000 100000" benches/scale.sh
#
# For each size N a synthetic library is grown from the seed library
# (SONICA_SCALE_SEED, default ~/.cache/sonica-monitor-db: the corpus
# reference set ingested with `sonica ingest`) by
# tools/reindex/examples/scale_library.rs (perturbed copies of the seed's
# peaks, each peak moved by -1/0/+1 bin, with their records and analyses;
# buckets written once, store rewritten compact) and cached in
# ~/.cache/sonica-scale/N (reused when its build record says N tracks).
# Then tools/reindex/examples/scale_probe.rs opens it as `sonica identify`
# does and identifies, one at a time after a warm-up, 10 s MP3 clips cut
# from the real corpus files of the seed's tracks (KNOWN: the copies are
# perturbed, so the original is the right answer) and of corpus tracks
# not in the seed (UNKNOWN: any answer is a false positive). The clips are
# made once with ffmpeg under ~/.cache/sonica-scale/clips (CLIPS=100 of
# each kind). One table row per size: wall time per clip and the clip's
# CPU time (what a shared, busy machine does not inflate); the probe's
# JSON, with CPU per stage, is kept beside as N.probe.json.
# UNKNOWN_MAX=K times only the first K unknown clips (an unknown clip reads
# nearly every bucket, so its cost grows with the library: at 10 000
# tracks ~20 s each on 2 busy cores). REUSE_PROBES=1 reuses a size's kept
# N.probe.json instead of probing again (to reprint the table).
#
# CLUSTER=redis://127.0.0.1:7000 runs the probe against a Redis Cluster
# instead: each built N-track library is copied once into namespace
# `scale-N` (copy_to_cluster), and the store size is the masters'
# used_memory (so use a cluster holding nothing else). Its JSON is kept as
# N.cluster.probe.json. Release build; CARGO_TARGET_DIR is honoured.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seed="${SONICA_SCALE_SEED:-$HOME/.cache/sonica-monitor-db}"
corpus="${SONICA_CORPUS:-$HOME/.cache/sonica-corpus}"
cache="${SONICA_SCALE_CACHE:-$HOME/.cache/sonica-scale}"
sizes="${SIZES:-1000 10000 100000}"
clips="${CLIPS:-100}"
cluster="${CLUSTER:-}"
target="${CARGO_TARGET_DIR:-$here/target}"
(cd "$here" && cargo build --release --quiet -p sonica --bin sonica \
  && cargo build --release --quiet -p sonica-reindex --example scale_library --example scale_probe \
       --example copy_to_cluster)
sonica="$target/release/sonica"
grow="$target/release/examples/scale_library"
probe="$target/release/examples/scale_probe"
copy="$target/release/examples/copy_to_cluster"
mkdir -p "$cache"

# The clips, once: KNOWN from the seed's own files, UNKNOWN from the rest
# of the corpus.
if [[ ! -s "$cache/clips/known.tsv" || ! -s "$cache/clips/unknown.txt" ]]; then
  rm -rf "$cache/clips"; mkdir -p "$cache/clips"
  "$sonica" list --data-dir "$seed" --json > "$cache/clips/seed.jsonl"
  python3 - "$corpus" "$cache/clips" "$clips" <<'EOF'
import json, os, random, subprocess, sys
corpus, out, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(18)
seed = [json.loads(l) for l in open(f"{out}/seed.jsonl")]
known_paths = {r["path"] for r in seed}
rows = [l.rstrip("\n").split("\t") for l in open(f"{corpus}/manifest.tsv")][1:]
held = [(os.path.join(corpus, p), float(d)) for p, _, d in rows if os.path.join(corpus, p) not in known_paths]
def cut(src, dur, name):
    off = rng.uniform(0, max(0.0, dur - 10.5))
    dst = f"{out}/{name}.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{off:.3f}", "-t", "10", "-i", src,
                    "-c:a", "libmp3lame", "-b:a", "128k", dst], check=True)
    return dst
seed = [r for r in seed if r["duration_s"] >= 12 and os.path.exists(r["path"])]
with open(f"{out}/known.tsv", "w") as f:
    for i in range(want):
        r = seed[i % len(seed)]
        f.write(f"{cut(r['path'], r['duration_s'], f'k{i:04}')}\t{r['path']}\n")
held = [h for h in held if h[1] >= 12]
with open(f"{out}/unknown.txt", "w") as f:
    for i in range(want):
        src, dur = held[i % len(held)]
        f.write(cut(src, dur, f"u{i:04}") + "\n")
EOF
fi

for n in $sizes; do
  lib="$cache/$n"
  if [[ -z "$cluster" ]]; then
    built=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tracks"])' "$cache/$n.build.json" 2>/dev/null || echo 0)
    if [[ ! -d "$lib" || "$built" != "$n" ]]; then
      rm -rf "$lib" "$lib.tmp" "$cache/$n.build.json"
      cp -a "$seed" "$lib.tmp"
      t0=$(date +%s)
      "$grow" "$lib.tmp" "$n" > "$cache/$n.build.json.tmp"
      mv "$lib.tmp" "$lib"; mv "$cache/$n.build.json.tmp" "$cache/$n.build.json"
      echo "built $n tracks in $(( $(date +%s) - t0 )) s: $(cat "$cache/$n.build.json")" >&2
    fi
    if [[ "${REUSE_PROBES:-}" != 1 || ! -s "$cache/$n.probe.json" ]]; then
      "$probe" "$lib" --known "$cache/clips/known.tsv" --unknown "$cache/clips/unknown.txt" \
        --max-unknown "${UNKNOWN_MAX:-$clips}" > "$cache/$n.probe.json.tmp"
      mv "$cache/$n.probe.json.tmp" "$cache/$n.probe.json"
    fi
  else
    export SONICA_CLUSTER_NAMESPACE="scale-$n"
    if [[ "$(cat "$cache/$n.cluster.copied" 2>/dev/null)" != "$cluster" ]]; then
      "$copy" "$lib" "$cluster" > "$cache/$n.cluster.copy.log"
      echo "$cluster" > "$cache/$n.cluster.copied"
    fi
    if [[ "${REUSE_PROBES:-}" != 1 || ! -s "$cache/$n.cluster.probe.json" ]]; then
      "$probe" "$lib" --cluster "$cluster" --known "$cache/clips/known.tsv" --unknown "$cache/clips/unknown.txt" \
        --max-unknown "${UNKNOWN_MAX:-$clips}" > "$cache/$n.cluster.probe.json.tmp"
      mv "$cache/$n.cluster.probe.json.tmp" "$cache/$n.cluster.probe.json"
    fi
  fi
  echo "$(du -sb "$lib/store" 2>/dev/null | cut -f1 || echo 0)" > "$cache/$n.du"
done

python3 - "$cache" "$cluster" $sizes <<'EOF'
import json, sys
cache, cluster, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
suffix = ".cluster" if cluster else ""
print(f"backend: {'Redis Cluster ' + cluster + ' (store MB = masters used_memory)' if cluster else 'sled'}")
print("| tracks | audio h | postings | store MB | B/posting | open s | RSS open / after MB "
      "| known p50 / p99 ms: wall | CPU | unknown p50 / p99 ms: wall | CPU "
      "| known correct | unknown answered | lookups/clip known / unknown | KB read/clip known / unknown |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for n in sizes:
    p = json.load(open(f"{cache}/{n}{suffix}.probe.json"))
    k, u = p["known"], p["unknown"]
    store = p["store_bytes"] if cluster else (int(open(f"{cache}/{n}.du").read().strip() or 0) or p["store_bytes"])
    t = lambda s, w: f"{s[w + 'p50_ms']:.1f} / {s[w + 'p99_ms']:.1f}"
    print(f"| {p['tracks']} | {p['audio_hours']:.0f} | {p['postings'] / 1e6:.1f} M | {store / 1e6:.0f} "
          f"| {store / max(p['postings'], 1):.2f} | {p['open_s']:.2f} "
          f"| {p['rss_open_mb']:.0f} / {p['rss_end_mb']:.0f} "
          f"| {t(k, '')} | {t(k, 'cpu_')} | {t(u, '')} | {t(u, 'cpu_')} "
          f"| {k['correct']}/{k['n']} | {u['false_positives']}/{u['n']} "
          f"| {k['lookups_mean']:.0f} / {u['lookups_mean']:.0f} "
          f"| {k['bucket_kb_mean']:.0f} / {u['bucket_kb_mean']:.0f} |")
EOF

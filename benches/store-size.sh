#!/usr/bin/env bash
# Where a library's bytes go, per tree, and what sled makes of them
# (benches/store_size.rs), for a library grown to N tracks.
#
#   benches/store-size.sh LIBRARY [N]
#
# LIBRARY is a data dir holding the ingested corpus reference set (e.g.
# `sonica ingest` of reference.txt); it is copied, grown to N tracks
# (default 1000) by tools/reindex/examples/synth_library.rs (perturbed
# copies of the real tracks' peaks, with their records and analyses), and
# measured: `du` of the store, `sonica stats`, then the per-tree table.
# SONICA_STORE_SIZE_KEEP=DIR keeps the grown copy in DIR. Release build.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
lib="$1"; n="${2:-1000}"
(cd "$here" && cargo build --release --quiet -p sonica -p sonica-reindex --bins --examples \
  && cargo bench --quiet -p sonica-index --bench store_size --no-run 2>/dev/null)
sonica="$here/target/release/sonica"
synth="$here/target/release/examples/synth_library"
work="${SONICA_STORE_SIZE_KEEP:-}"
if [[ -z "$work" ]]; then work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
rm -rf "$work/lib"; cp -a "$lib" "$work/lib"
"$synth" "$work/lib" "$n" >/dev/null
"$sonica" compact --data-dir "$work/lib" >/dev/null
hours=$("$sonica" stats --data-dir "$work/lib" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["audio_hours"])')
echo "library: $n tracks, $(du -sb "$work/lib" | cut -f1) bytes in all (store, vectors, text)"
(cd "$here" && cargo bench --quiet -p sonica-index --bench store_size -- "$work/lib/store" "$hours")

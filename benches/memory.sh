#!/usr/bin/env bash
# Peak resident memory (the kernel's maxrss, /usr/bin/time) of the three
# runs issue 16 bounds, for one or more builds side by side, each run on a
# fresh copy of the same library:
#   open + first answer   `sonica identify` of one clip
#   stats                 `sonica stats`
#   ingest                `sonica ingest` of a file list into an empty library
#
#   benches/memory.sh LIBRARY CLIP FILE_LIST BUILD...
#
# LIBRARY is a data dir (e.g. one grown to 1000 tracks by
# tools/reindex/examples/synth_library.rs; see benches/store-size.sh); it is
# copied, never changed. Each BUILD is a `sonica` binary that reads the
# library's format version (a format-1 library needs `sonica-reindex
# --rebuild` before a format-2 build opens it). Rows print as a table.
set -euo pipefail
lib="$1"; clip="$2"; list="$3"; shift 3
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
peak() { /usr/bin/time -f "%M" -o "$work/t" "$@" >/dev/null 2>&1 || true; echo $(( $(tail -1 "$work/t") / 1024 )); }
mapfile -t files < "$list"
echo "| build | open + first answer | stats | ingest of ${#files[@]} files |"
echo "|---|---|---|---|"
for bin in "$@"; do
  rm -rf "$work/lib" "$work/new"; cp -a "$lib" "$work/lib"
  a=$(peak "$bin" identify --data-dir "$work/lib" --json "$clip")
  s=$(peak "$bin" stats --data-dir "$work/lib" --json)
  i=$(peak "$bin" ingest --data-dir "$work/new" "${files[@]}")
  echo "| $bin | $a MB | $s MB | $i MB |"
done

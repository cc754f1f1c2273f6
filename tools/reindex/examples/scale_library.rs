//! Bench helper, not part of the tool: grows a library to N tracks fast
//! enough for `benches/scale.sh` to reach 100 000 tracks on 2 cores.
//!
//! `synth_library.rs` adds copies and compacts every
//! `COMPACT_FRESH_POSTINGS`; each compaction rewrites nearly every bucket
//! (4 M fresh postings land in almost all of them), so growing to N tracks
//! costs about N² and 100 000 tracks would rewrite terabytes. This does the
//! same copies (every peak moved by -1, 0 or +1 bin; the source's record
//! and analysis) in two phases, through the index's public calls only:
//!
//! 1. add: each copy is added with its real hashes (so its record counts
//!    them) through an index opened with a hasher that derives nothing;
//!    every `--batch` tracks a compaction moves the batch out of the
//!    in-memory fresh tier without touching a bucket (it derives no
//!    postings), so memory stays bounded and the cost is linear;
//! 2. rebuild: the index is opened again over the same store with the real
//!    hasher and `rebuild_hash_tiers` (what `sonica-reindex --rebuild`
//!    runs) derives every posting from the stored peaks and writes every
//!    bucket once, holding about `--postings-per-pass` postings at a time.
//!
//! 3. rewrite: the store is copied into a fresh sled database
//!    (`rewrite_store`, as `sonica-reindex --rebuild` ends), giving back
//!    the space of the bucket versions sled keeps after a rebuild, so the
//!    size on disk is what such a library really takes.
//!
//! The vector and text indexes beside the store are not grown (nothing in
//! the scale bench reads them; a full `Library::open` would fill them in).
//!
//!     cargo run --release -p sonica-reindex --example scale_library -- \
//!         DATA_DIR N [--batch 2000] [--postings-per-pass 150000000] [--rewrite-only]
//!
//! Prints one JSON line: tracks, postings, and seconds spent in each phase.
//! `--rewrite-only` runs phase 3 alone.

#[path = "common/perturb.rs"]
mod perturb;

use perturb::perturbed;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use sonica::library::index_hasher;
use sonica_index::{rewrite_store, FingerprintIndex, Hasher, KvStore, NewTrack, RebuildOptions, SledStore};
use sonica_schema::Peak;

/// mimalloc, as in `sonica`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sled's page cache while growing: the writes are large and sequential.
const CACHE_BYTES: u64 = 256 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> Option<usize> {
        match args.iter().position(|a| a == name) {
            Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()),
            None => Some(default),
        }
    };
    let (Some(dir), Some(Ok(want)), Some(batch), Some(budget)) = (
        args.first(),
        args.get(1).map(|n| n.parse::<usize>()),
        flag("--batch", 2000),
        flag("--postings-per-pass", 150_000_000),
    ) else {
        eprintln!("usage: scale_library DATA_DIR N [--batch TRACKS] [--postings-per-pass P]");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    let grown = match args.iter().any(|a| a == "--rewrite-only") {
        true => Ok(serde_json::json!({})),
        false => grow(dir, want, batch.max(1), budget.max(1_000_000)),
    };
    let started = Instant::now();
    let done = grown.and_then(|mut line| {
        let r = rewrite_store(&dir.join("store"))?;
        line["rewrite_s"] = started.elapsed().as_secs_f64().into();
        line["store_bytes_before"] = r.bytes_before.into();
        line["store_bytes"] = r.bytes_after.into();
        Ok(line)
    });
    match done {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scale_library: {e}");
            ExitCode::from(3)
        }
    }
}

type Error = Box<dyn std::error::Error>;

fn grow(dir: &Path, want: usize, batch: usize, budget: usize) -> Result<serde_json::Value, Error> {
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open_with_cache(&dir.join("store"), CACHE_BYTES)?);
    let started = Instant::now();

    // 1. Add, with a hasher that derives nothing (see the module header).
    let nothing: Hasher = Arc::new(|_: &[Peak]| Vec::new());
    let index = FingerprintIndex::open_with(store.clone(), nothing, false)?;
    let sources = index.list()?;
    if sources.is_empty() {
        return Err("the library is empty: ingest something first".into());
    }
    let mut seeds = Vec::with_capacity(sources.len());
    for src in &sources {
        seeds.push((src.clone(), index.peaks(src.id)?, index.analysis(src.id)?));
    }
    let hasher = index_hasher();
    let mut rng = 0x9e37_79b9u32;
    let mut copy = 0;
    let mut added = 0usize;
    while index.len() < want {
        copy += 1;
        for (src, src_peaks, analysis) in &seeds {
            if index.len() >= want {
                break;
            }
            let peaks = perturbed(src_peaks, &mut rng);
            let mut record = src.clone();
            record.path = format!("synthetic/copy{copy}/{}", src.path.trim_start_matches('/'));
            record.sha256 = None;
            record.duplicate_of = None;
            let hashes = hasher(&peaks);
            index.add(NewTrack {
                record,
                peaks,
                hashes,
                analysis: analysis.clone(),
                chromaprint: None,
            })?;
            added += 1;
            if added % batch == 0 {
                index.compact()?; // no postings derived: only the tiers flip
                eprintln!(
                    "scale_library: {} tracks, {:.0} s",
                    index.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    index.compact()?;
    index.flush()?;
    drop(index);
    let add_s = started.elapsed().as_secs_f64();

    // 2. Every bucket written once, from the stored peaks.
    let index = FingerprintIndex::open_with(store.clone(), index_hasher(), false)?;
    let report = index.rebuild_hash_tiers(&RebuildOptions {
        postings_per_pass: budget,
    })?;
    index.flush()?;
    let rebuild_s = started.elapsed().as_secs_f64() - add_s;
    Ok(serde_json::json!({
        "tracks": index.len(),
        "added": added,
        "postings": report.postings,
        "passes": report.passes,
        "buckets": report.buckets_written,
        "add_s": add_s,
        "rebuild_s": rebuild_s,
    }))
}

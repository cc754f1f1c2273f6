//! `--rebuild` and `--verify`: the derived indexes regenerated from the
//! records, or checked against them. The work is in
//! `sonica-index`'s maintenance passes; this is the command-line face of it.

use std::path::Path;
use std::time::Instant;

use sonica::library::mixer;
use sonica_index::{rebuild_music, verify as check, LookupReport, RebuildOptions, RebuildReport, VerifyOptions};
use sonica_index::{rewrite_store, FingerprintIndex, MusicIndex, RewriteReport};

use crate::report::round;
use crate::{open, ReindexError, EXIT_FAILED, EXIT_OK};

/// What `--rebuild` reports.
#[derive(Debug, serde::Serialize)]
struct Rebuilt {
    data_dir: String,
    hash_tiers: RebuildReport,
    lookups: LookupReport,
    lookups_seconds: f64,
    /// Analysis records of an older format rewritten in the current
    /// encoding (packed since format version 2).
    analyses_repacked: usize,
    /// The store rewritten into a fresh database (what sled gives back).
    store: RewriteReport,
    vectors: usize,
    text_documents: usize,
    music_seconds: f64,
    wall_seconds: f64,
}

/// Rebuilds the hash tiers and the path and digest lookups, repacks
/// analysis records of an older format, rebuilds the vector and text
/// indexes, and last rewrites the store into a fresh sled database (sled
/// keeps the space of every value the rebuild replaced).
pub fn rebuild(dir: &Path, json: bool) -> Result<u8, ReindexError> {
    let started = Instant::now();
    let library = open(dir, false, false, "rebuild")?;
    let index: &FingerprintIndex = &library;
    let hash_tiers = index.rebuild_hash_tiers(&RebuildOptions::default())?;
    let lookups_started = Instant::now();
    let lookups = index.rebuild_lookups()?;
    let lookups_seconds = round(lookups_started.elapsed().as_secs_f64(), 3);
    let analyses_repacked = index.repack_analyses()?;
    let music_started = Instant::now();
    let (music, opened) = rebuild_music(dir, index, mixer())?;
    index.flush()?;
    let (vectors, text_documents) = (music.vector_count(), opened.text_repaired);
    drop(music);
    drop(library);
    let store = rewrite_store(&dir.join("store")).map_err(sonica_index::IndexError::from)?;
    let out = Rebuilt {
        data_dir: dir.display().to_string(),
        vectors,
        text_documents,
        store,
        music_seconds: round(music_started.elapsed().as_secs_f64(), 3),
        wall_seconds: round(started.elapsed().as_secs_f64(), 3),
        hash_tiers,
        lookups,
        lookups_seconds,
        analyses_repacked,
    };
    if json {
        println!("{}", serde_json::to_string(&out).unwrap_or_default());
    } else {
        let h = &out.hash_tiers;
        println!(
            "rebuilt the hash tiers of {} tracks: {} postings in {} buckets ({} pass{}, {:.1} s); \
             dropped {} old buckets and {} tombstones",
            h.tracks,
            h.postings,
            h.buckets_written,
            h.passes,
            if h.passes == 1 { "" } else { "es" },
            h.seconds,
            h.buckets_dropped,
            h.tombstones_cleared
        );
        if h.upgraded {
            println!("upgraded the store to format version {}", sonica_schema::FORMAT_VERSION);
        }
        let l = &out.lookups;
        println!(
            "rebuilt the path and digest lookups: {} paths and {} digests rewritten, {} and {} stale ones removed \
             ({:.2} s)",
            l.paths_written, l.digests_written, l.paths_removed, l.digests_removed, out.lookups_seconds
        );
        if out.analyses_repacked > 0 {
            println!("repacked {} analysis records of an older format", out.analyses_repacked);
        }
        println!(
            "rebuilt the vector graphs ({} tracks) and the text index ({} documents) in {:.1} s",
            out.vectors, out.text_documents, out.music_seconds
        );
        println!(
            "rewrote the store into a fresh database: {:.1} MB → {:.1} MB",
            out.store.bytes_before as f64 / 1e6,
            out.store.bytes_after as f64 / 1e6
        );
        println!("done in {:.1} s", out.wall_seconds);
    }
    if !out.hash_tiers.unreadable_peaks.is_empty() {
        eprintln!(
            "sonica-reindex: {} tracks have missing or unreadable peaks and could not be rebuilt \
             (ids {:?}); re-ingest their files, and see --verify",
            out.hash_tiers.unreadable_peaks.len(),
            out.hash_tiers.unreadable_peaks
        );
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

/// Checks every index against the records; 1 when anything differs.
pub fn verify(dir: &Path, json: bool) -> Result<u8, ReindexError> {
    let started = Instant::now();
    let library = open(dir, false, false, "verify")?;
    let index: &FingerprintIndex = &library;
    // Loaded as saved: opening them normally would repair what we look for.
    let ids = MusicIndex::load(dir, mixer())?.indexed_ids()?;
    let report = check(index, Some(&ids), &VerifyOptions::default())?;
    if json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let secs = started.elapsed().as_secs_f64();
        let scope = format!(
            "{} tracks, {} jobs, {} buckets ({} postings) checked in {secs:.1} s",
            report.tracks, report.jobs, report.buckets, report.postings_checked
        );
        if report.consistent {
            println!("consistent: {scope}");
        } else {
            let total: usize = report.counts.values().sum();
            println!("{total} differences: {scope}");
            for d in &report.differences {
                println!("  {}: {}", serde_name(&d.problem), d.message);
            }
            if report.not_listed > 0 {
                println!("  … and {} more", report.not_listed);
            }
            for (p, n) in &report.counts {
                println!("{:<26}{n}", serde_name(p));
            }
        }
    }
    Ok(if report.consistent { EXIT_OK } else { EXIT_FAILED })
}

/// A problem's name as the JSON report spells it.
fn serde_name(p: &sonica_index::Problem) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{p:?}"))
}

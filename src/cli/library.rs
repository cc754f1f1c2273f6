//! The small library commands: `list`, `remove`, `stats`, `compact`.

use std::io::Write;
use std::process::ExitCode;

use sonica::SonicaError;
use sonica_index::FingerprintIndex;

/// `sonica list`: every track, one line each (JSON with `--json`).
pub fn list(index: &FingerprintIndex, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for r in index.list()? {
        if json {
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        } else {
            writeln!(
                out,
                "{}\t{}\t{}\t{:.1}s\t{}",
                r.id,
                r.title,
                r.artist.as_deref().unwrap_or("-"),
                r.duration_s,
                r.path
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sonica remove ID`: exit 1 for an unknown id, 3 when the store fails.
pub fn remove(index: &FingerprintIndex, id: u32) -> anyhow::Result<ExitCode> {
    match index.remove(id) {
        Ok(r) => {
            index.flush()?;
            println!("removed {} ({})", r.id, r.path);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let e = SonicaError::from(e);
            eprintln!("sonica: {id}: {e}");
            Ok(ExitCode::from(if e.code() == sonica::error::ErrorCode::UnknownTrack {
                1
            } else {
                3
            }))
        }
    }
}

/// `sonica stats`: sizes of the tiers and the store.
pub fn stats(index: &FingerprintIndex, json: bool) -> anyhow::Result<ExitCode> {
    let s = index.stats()?;
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        let mb = |b: u64| b as f64 / 1e6;
        println!("tracks          {}", s.tracks);
        println!("audio           {:.2} h", s.audio_hours);
        println!("postings        {}", s.postings);
        println!("peaks           {}", s.peaks);
        println!(
            "fresh tier      {} tracks, {} postings in memory",
            s.fresh_tracks, s.fresh_postings
        );
        println!(
            "compacted tier  {} buckets, {:.2} MB",
            s.compacted.entries,
            mb(s.compacted.bytes)
        );
        println!("peaks (canon.)  {:.2} MB", mb(s.canonical_peaks.bytes));
        println!("records         {:.2} MB", mb(s.records.bytes));
        println!("on disk         {:.2} MB", mb(s.disk_bytes));
        if s.audio_hours > 0.0 {
            println!("disk per hour   {:.2} MB/h", mb(s.disk_bytes) / s.audio_hours);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sonica compact`: merge the fresh tier into the buckets now.
pub fn compact(index: &FingerprintIndex) -> anyhow::Result<ExitCode> {
    let r = index.compact()?;
    println!(
        "compacted: {} tracks moved ({} postings), {} purged, {} buckets rewritten",
        r.tracks_moved, r.postings_moved, r.tracks_purged, r.buckets_rewritten
    );
    Ok(ExitCode::SUCCESS)
}

//! Bench helper, not part of the tool: grows a library to N tracks by
//! adding perturbed copies of the tracks already in it, so that
//! `benches/reindex.sh` can time `--rebuild` at 1000 tracks without
//! decoding 50 hours of audio.
//!
//! Each copy keeps its source's record, analysis and peak density, with
//! every peak moved by -1, 0 or +1 bin at random: most of its hashes then
//! differ from the source's, so the buckets grow as they would with real
//! new music rather than compressing repeats.
//!
//!     cargo run --release -p sonica-reindex --example synth_library -- DATA_DIR N

#[path = "common/perturb.rs"]
mod perturb;

use perturb::perturbed;
use std::path::PathBuf;
use std::process::ExitCode;

use sonica::library::index_hasher;
use sonica::pipeline::COMPACT_FRESH_POSTINGS;
use sonica::{Library, OpenOptions};
use sonica_index::NewTrack;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(Ok(want))) = (args.first(), args.get(1).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: synth_library DATA_DIR N");
        return ExitCode::from(2);
    };
    match grow(&PathBuf::from(dir), want) {
        Ok(n) => {
            println!("{n} tracks");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("synth_library: {e}");
            ExitCode::from(3)
        }
    }
}

fn grow(dir: &std::path::Path, want: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let index = Library::open(dir, &OpenOptions::default())?;
    let sources = index.list()?;
    if sources.is_empty() {
        return Err("the library is empty: ingest something first".into());
    }
    let hasher = index_hasher();
    let mut rng = 0x9e37_79b9u32;
    let mut copy = 0;
    while index.len() < want {
        copy += 1;
        for src in &sources {
            if index.len() >= want {
                break;
            }
            let peaks = perturbed(&index.peaks(src.id)?, &mut rng);
            let mut record = src.clone();
            record.path = format!("synthetic/copy{copy}/{}", src.path.trim_start_matches('/'));
            record.sha256 = None;
            record.duplicate_of = None;
            let hashes = hasher(&peaks);
            index.add(NewTrack {
                record,
                peaks,
                hashes,
                analysis: index.analysis(src.id)?,
                chromaprint: None,
            })?;
            if index.fresh_postings() >= COMPACT_FRESH_POSTINGS {
                index.compact()?;
            }
        }
    }
    index.compact()?;
    index.sync()?;
    index.flush()?;
    Ok(index.len())
}

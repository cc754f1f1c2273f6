//! Time per duplicate check with 1000 tracks in the library (issue 5's
//! target: ≤ 50 ms), printed as a table.
//!
//!     cargo bench --bench duplicates
//!     SONICA_BENCH_DB=/path/to/data-dir cargo bench --bench duplicates
//!
//! The library is 1000 tracks built from templates: real tracks' canonical
//! peaks when `SONICA_BENCH_DB` names a data dir (e.g. the one
//! `benches/duplicates-eval.sh` builds from the corpus), else generated
//! songs. Copy k of a template has its peaks moved k×3 FFT bins up
//! (wrapping within the peak band), so every copy hashes differently while
//! keeping the density and structure of real music. The library is
//! compacted, as a long-running one is. Probes: a lossy copy of a library
//! track (45 % of peaks dropped, ±1 frame jitter), a 30 s section of one,
//! and a track not in the library. The check is `find_duplicates` (digest,
//! candidate lookup, peak comparison); decoding is ingest's cost, not the
//! check's.

use std::time::Instant;

use sonica::fingerprint::params::{MAX_BIN, MIN_BIN};
use sonica::fingerprint::FingerprintParams;
use sonica::library::index_hasher;
use sonica::pipeline::writer::duplicate_params;
use sonica::{Library, OpenOptions};
use sonica_index::{FingerprintIndex, NewTrack, Probe};
use sonica_schema::{Peak, Tier, TrackRecord};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/integration/audio.rs"]
#[allow(dead_code)]
mod audio;

const LIBRARY: usize = 1000;
const REPEAT: usize = 40;

fn templates() -> Vec<Vec<Peak>> {
    if let Some(db) = std::env::var_os("SONICA_BENCH_DB") {
        let index = Library::open(std::path::Path::new(&db), &OpenOptions::default()).expect("open SONICA_BENCH_DB");
        let t: Vec<Vec<Peak>> = index
            .list()
            .expect("list")
            .iter()
            .filter_map(|r| index.peaks(r.id).ok())
            .collect();
        if !t.is_empty() {
            eprintln!("templates: {} real tracks from {}", t.len(), db.to_string_lossy());
            return t;
        }
    }
    eprintln!("templates: 40 generated songs of 180 s (set SONICA_BENCH_DB for real ones)");
    let params = FingerprintParams::index();
    (0..40)
        .map(|s| {
            let x = audio::song(s, 180.0, 8000);
            sonica::fingerprint::extract_peaks(&x, &params.peaks)
        })
        .collect()
}

fn shifted(p: &[Peak], bins: u32) -> Vec<Peak> {
    let lo = (MIN_BIN * 16) as u32;
    let span = ((MAX_BIN - MIN_BIN) * 16) as u32;
    let mut out: Vec<Peak> = p
        .iter()
        .map(|q| Peak {
            time: q.time,
            freq16: (lo + (u32::from(q.freq16).saturating_sub(lo) + bins * 16) % span) as u16,
        })
        .collect();
    out.sort_unstable();
    out
}

fn new_track(i: usize, peaks: Vec<Peak>) -> NewTrack {
    let hashes = (index_hasher())(&peaks);
    let secs = peaks.last().map_or(0.0, |p| f64::from(p.time) / 62.5);
    NewTrack {
        record: TrackRecord {
            id: 0,
            path: format!("bench/{i}.ogg"),
            title: format!("bench {i}"),
            artist: None,
            album: None,
            genre: None,
            duration_s: secs,
            sample_rate: 44_100,
            channels: 2,
            codec: "vorbis".into(),
            peaks: 0,
            hashes: 0,
            tier: Tier::Fresh,
            created_at: 0,
            file_len: None,
            file_mtime_ms: None,
            sha256: None,
            duplicate_of: None,
            analysis_pending: false,
        },
        peaks,
        hashes,
        analysis: None,
        chromaprint: None,
    }
}

fn time_checks(index: &FingerprintIndex, name: &str, peaks: &[Peak]) {
    let hashes = (index_hasher())(peaks);
    let params = duplicate_params();
    let probe = Probe {
        sha256: None,
        peaks,
        hashes: &hashes,
        exclude: &[],
    };
    let mut ms = Vec::with_capacity(REPEAT);
    let mut found = Vec::new();
    for _ in 0..REPEAT {
        let t = Instant::now();
        found = index.find_duplicates(&probe, &params).expect("check");
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let verdict = found
        .first()
        .map_or("none".to_string(), |d| format!("{} of {}", d.kind, d.of));
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {verdict} |",
        hashes.len(),
        mean,
        ms[ms.len() / 2],
        ms[ms.len() * 95 / 100]
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` and `cargo bench -- --list`
    }
    let templates = templates();
    let tmp = tempfile::tempdir().expect("tempdir");
    let index = Library::open(tmp.path(), &OpenOptions::default()).expect("library");
    let started = Instant::now();
    for i in 0..LIBRARY {
        let t = &templates[i % templates.len()];
        let copy = (i / templates.len()) as u32;
        index.add(new_track(i, shifted(t, copy * 3))).expect("add");
    }
    index.compact().expect("compact");
    index.flush().expect("flush");
    eprintln!(
        "library: {} tracks, {} postings, built in {:.1} s",
        index.len(),
        index.stats().map(|s| s.postings).unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    let base = &templates[0];
    let lossy: Vec<Peak> = base
        .iter()
        .enumerate()
        .filter(|(k, _)| (k * 7919) % 100 >= 45)
        .map(|(k, q)| Peak {
            time: q.time + (k % 2) as u32,
            freq16: q.freq16,
        })
        .collect();
    let mut lossy = lossy;
    lossy.sort_unstable();
    let start = base.last().map_or(0, |p| p.time / 3);
    let section: Vec<Peak> = base
        .iter()
        .filter(|q| q.time >= start && q.time < start + 1875)
        .map(|q| Peak {
            time: q.time - start,
            ..*q
        })
        .collect();
    // A copy shift no library track has: not in the library.
    let stranger = shifted(&templates[1 % templates.len()], 400);
    println!("| probe ({LIBRARY} tracks in the library) | hashes | mean ms | p50 ms | p95 ms | found |");
    println!("|---|---|---|---|---|---|");
    time_checks(&index, "lossy copy of a library track", &lossy);
    time_checks(&index, "30 s section of a library track", &section);
    time_checks(&index, "track not in the library", &stranger);
}

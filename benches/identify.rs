//! Identification latency, once the store is open.
//!
//! With `SONICA_BENCH_DB` (a data dir built by `benches/corpus-eval.sh`) and
//! `SONICA_BENCH_QUERIES` (its query folder), it times the 10 s clean clips
//! of the real corpus against the real reference set. Without them it builds
//! a small library of generated songs, so `cargo bench` always runs.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use sonica::fingerprint::FINGERPRINT_RATE;
use sonica::fingerprint::{extract_peaks, FingerprintParams};
use sonica::ingest::{ingest, IngestOptions};
use sonica::{Identifier, Library, OpenOptions};

/// The same allocator as the `sonica` binary, so timings match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/integration/audio.rs"]
#[allow(dead_code)]
mod audio;

struct Setup {
    _tmp: Option<tempfile::TempDir>,
    index: Library,
    clips: Vec<Vec<f32>>,
    label: String,
}

fn corpus_setup() -> Option<Setup> {
    let db = PathBuf::from(std::env::var_os("SONICA_BENCH_DB")?);
    let q = PathBuf::from(std::env::var_os("SONICA_BENCH_QUERIES")?);
    let truth = std::fs::read_to_string(q.join("truth.tsv")).ok()?;
    let clips: Vec<Vec<f32>> = truth
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() > 3 && f[1] != "-" && f[2] == "10" && f[3] == "clean").then(|| q.join(f[0]))
        })
        .take(25)
        .filter_map(|p| sonica::decode::load_clip(&p).ok().map(|c| c.0))
        .collect();
    let index = Library::open(&db, &OpenOptions::default()).ok()?;
    let label = format!("corpus ({} tracks)", index.len());
    Some(Setup {
        _tmp: None,
        index,
        clips,
        label,
    })
}

fn synthetic_setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let music = tmp.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let mut files = Vec::new();
    for s in 0..30 {
        let p = music.join(format!("s{s}.wav"));
        audio::wav(&p, &audio::song(s, 60.0, FINGERPRINT_RATE), FINGERPRINT_RATE);
        files.push(p.to_string_lossy().into_owned());
    }
    let index = Library::open(&tmp.path().join("db"), &OpenOptions::default()).unwrap();
    ingest(&index, files, &IngestOptions::default(), &mut |_| {}).unwrap();
    let clips = (0..10)
        .map(|s| audio::slice(&audio::song(s, 60.0, FINGERPRINT_RATE), FINGERPRINT_RATE, 20.0, 10.0))
        .collect();
    Setup {
        _tmp: Some(tmp),
        index,
        clips,
        label: "synthetic (30 songs)".into(),
    }
}

fn bench(c: &mut Criterion) {
    let s = corpus_setup().unwrap_or_else(synthetic_setup);
    assert!(!s.clips.is_empty(), "no clips to query");
    let ident = Identifier::new(&s.index);
    let mut i = 0;
    c.bench_function(&format!("identify 10s clip, {}", s.label), |b| {
        b.iter(|| {
            let clip = &s.clips[i % s.clips.len()];
            i += 1;
            ident.identify_pcm(clip).unwrap()
        })
    });
    let q = FingerprintParams::query();
    c.bench_function("query peaks of a 10s clip", |b| {
        b.iter(|| extract_peaks(&s.clips[0], &q.peaks))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);

//! CPU per stage of ingesting one file: where the time of a 4-minute track
//! goes, each stage timed alone on one thread over the same decoded audio,
//! next to ffmpeg's bare single-thread decode of the same file.
//!
//!     cargo bench --bench stages -- [FILE]     (or SONICA_STAGES_FILE=FILE)
//!
//! Without a file, a generated 4-minute 44.1 kHz stereo song (WAV) is used.
//! Each figure is the fastest of `SONICA_STAGES_RUNS` runs (default 3): on
//! a shared, noisy machine the minimum is the stable statistic. The table
//! ends with the whole decode-once pipeline (fingerprint and analysis on
//! their stage threads) and the fingerprint alone, as wall time.

#[path = "../tests/integration/audio.rs"]
#[allow(dead_code)]
mod audio;

use std::path::{Path, PathBuf};
use std::time::Instant;

use sonica::analysis::Analyser;
use sonica::chromaprint::AcoustIdPrint;
use sonica::decode::{self, Frames, MAX_DURATION_S};
use sonica::fingerprint::hashes::index_hashes;
use sonica::fingerprint::{FingerprintParams, PeakExtractor};
use sonica::pipeline::{fingerprint_first, MusicPass};

fn main() {
    let arg = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .or_else(|| std::env::var("SONICA_STAGES_FILE").ok());
    let runs: usize = std::env::var("SONICA_STAGES_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = match arg {
        Some(p) => PathBuf::from(p),
        None => {
            let p = tmp.path().join("four-min.wav");
            let left = audio::song(11, 240.0, 44_100);
            let right = audio::song(12, 240.0, 44_100);
            let stereo: Vec<f32> = left.iter().zip(&right).flat_map(|(l, r)| [*l, *r]).collect();
            audio::write_wav(&p, &stereo, 44_100, 2, audio::Fmt::I16);
            p
        }
    };
    let (rate, channels, mono, stereo) = decoded(&path);
    let secs = mono.len() as f64 / f64::from(rate);
    let params = FingerprintParams::index();
    let best = |f: &mut dyn FnMut()| {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut rows: Vec<(&str, f64)> = Vec::new();
    if let Some(ms) = ffmpeg_ms(&path, runs) {
        rows.push(("ffmpeg bare decode, 1 thread (process)", ms));
    }
    rows.push((
        "decode (symphonia, mono + stereo out)",
        best(&mut || {
            decode::decode_frames(
                &path,
                true,
                MAX_DURATION_S,
                &mut |_, _| Ok(()),
                &mut |_: &Frames| Ok(()),
            )
            .unwrap();
        }),
    ));
    let mut at8k = Vec::new();
    rows.push((
        "resample to 8 kHz (fingerprint)",
        best(&mut || {
            at8k.clear();
            let mut r = sonica::fingerprint::resampler(rate).unwrap();
            for c in mono.chunks(4096) {
                r.push(c, &mut |o| at8k.extend_from_slice(o)).unwrap();
            }
            r.finish(&mut |o| at8k.extend_from_slice(o)).unwrap();
        }),
    ));
    rows.push((
        "spectrum + peaks + hashes (fingerprint)",
        best(&mut || {
            let mut x = PeakExtractor::new(&params.peaks);
            x.push(&at8k);
            let peaks = x.finish();
            std::hint::black_box(index_hashes(&peaks, &params.pairs));
        }),
    ));
    let music_in = stereo.as_deref().unwrap_or(&mono);
    rows.push((
        "music analysis (22.05 kHz + source rate)",
        best(&mut || {
            let mut a = Analyser::new(rate, channels).unwrap();
            for c in music_in.chunks(8192) {
                a.push(c);
            }
            std::hint::black_box(a.finish(0.0).ok());
        }),
    ));
    rows.push((
        "chromaprint (first 120 s)",
        best(&mut || {
            let mut c = AcoustIdPrint::new(rate, usize::from(channels));
            for p in music_in.chunks(8192) {
                c.push(p);
            }
            std::hint::black_box(c.finish());
        }),
    ));
    rows.push((
        "whole file, decode once (wall, stage threads)",
        best(&mut || {
            std::hint::black_box(sonica::pipeline::analyse_file(&path, &params).unwrap());
        }),
    ));
    rows.push((
        "fingerprint only, decode included (wall)",
        best(&mut || {
            let (p, m) = fingerprint_first(&path, &params, MusicPass::Skip).unwrap();
            std::hint::black_box((p, m.is_running()));
        }),
    ));
    let base = rows.first().map(|r| r.1).filter(|_| ffmpeg_available());
    println!(
        "file: {} ({secs:.1} s, {rate} Hz, {channels} ch); best of {runs}",
        path.display()
    );
    println!();
    println!("| stage | ms | ms per minute of audio | × ffmpeg decode |");
    println!("|---|---|---|---|");
    for (name, ms) in rows {
        let ratio = base.map_or("—".to_string(), |b| format!("{:.2}", ms / b));
        println!("| {name} | {ms:.0} | {:.1} | {ratio} |", ms / (secs / 60.0));
    }
}

/// The file decoded once, kept: rate, channels, mono and stereo samples.
fn decoded(path: &Path) -> (u32, u16, Vec<f32>, Option<Vec<f32>>) {
    let (mut rate, mut channels) = (0, 1);
    let (mut mono, mut stereo) = (Vec::new(), Vec::new());
    decode::decode_frames(
        path,
        true,
        MAX_DURATION_S,
        &mut |r, c| {
            rate = r;
            channels = c.clamp(1, 2);
            Ok(())
        },
        &mut |f: &Frames| {
            mono.extend_from_slice(f.mono);
            if let Some(s) = f.stereo {
                stereo.extend_from_slice(s);
            }
            Ok(())
        },
    )
    .expect("the file decodes");
    let stereo = (!stereo.is_empty()).then_some(stereo);
    if stereo.is_none() {
        channels = 1;
    }
    (rate, channels, mono, stereo)
}

fn ffmpeg_available() -> bool {
    std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// ffmpeg's bare single-thread decode of the file, best of `runs`.
fn ffmpeg_ms(path: &Path, runs: usize) -> Option<f64> {
    if !ffmpeg_available() {
        return None;
    }
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let ok = std::process::Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-threads", "1", "-i"])
                .arg(path)
                .args(["-f", "null", "-"])
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| t.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<Option<Vec<f64>>>()
        .map(|v| v.into_iter().fold(f64::INFINITY, f64::min))
}

//! Music-analysis speed: `analyse_pcm` on 4 minutes of generated 44.1 kHz
//! stereo music, on one thread (the analyser never spawns any), and, when
//! `SONICA_ANALYSIS_FILES` lists files (separated like PATH), decode +
//! analysis of each with `sonica::pipeline::analyse_music`.
//!
//!     cargo bench --bench analysis
//!     SONICA_ANALYSIS_FILES=a.ogg:b.flac cargo bench --bench analysis
//!
//! Target: at most 0.5 s for a 4-minute track. Wall time is what counts, but
//! on a shared machine it includes waiting for the CPU, so the thread's CPU
//! time (Linux `/proc/thread-self/schedstat`) is printed beside it.

use std::path::PathBuf;
use std::time::Instant;

use sonica::analysis::analyse_pcm;

const RATE: u32 = 44100;

/// CPU time of this thread, seconds (Linux only; `None` elsewhere).
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

fn cpu_cell(t: Option<f64>) -> String {
    t.map_or("n/a".into(), |t| format!("{t:.3} s"))
}

/// 4/4 at `bpm`: chords, a bass line and a noise-burst drum kit, stereo.
fn music(secs: f64, bpm: f64) -> Vec<f32> {
    let n = (secs * f64::from(RATE)) as usize;
    let beat = 60.0 / bpm;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let chords = [
        [57.0, 60.0, 64.0],
        [53.0, 57.0, 60.0],
        [55.0, 59.0, 62.0],
        [52.0, 56.0, 59.0],
    ];
    let hz = |m: f64| 440.0 * 2f64.powf((m - 69.0) / 12.0);
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        let t = i as f64 / f64::from(RATE);
        let pos = t / beat;
        let bar = (pos / 4.0) as usize;
        let in_beat = pos.fract() * beat;
        let in_eighth = (pos * 2.0).fract() * beat / 2.0;
        let chord = chords[bar % 4];
        let mut v = 0.0;
        for m in chord {
            v += 0.06 * (2.0 * std::f64::consts::PI * hz(m) * t).sin();
        }
        v += 0.15 * (2.0 * std::f64::consts::PI * hz(chord[0] - 24.0) * t).sin() * (-in_beat / 0.3).exp();
        let beat_no = pos as usize % 4;
        if beat_no % 2 == 0 {
            v += 0.5 * (2.0 * std::f64::consts::PI * 55.0 * in_beat).sin() * (-in_beat / 0.08).exp();
        } else {
            v += 0.3 * f64::from(noise()) * (-in_beat / 0.06).exp();
        }
        v += 0.08 * f64::from(noise()) * (-in_eighth / 0.02).exp();
        let l = v as f32;
        let r = (v * 0.9) as f32 + 0.01 * noise();
        out.push(l);
        out.push(r);
    }
    out
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run in both.
    let secs = 240.0;
    let pcm = music(secs, 124.0);
    println!("| Input | Audio | Wall (median of 3) | CPU (median of 3) | × real time | Tempo | Key |");
    println!("|---|---|---|---|---|---|---|");
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let (t0, c0) = (Instant::now(), thread_cpu_s());
        let a = analyse_pcm(RATE, 2, &pcm, 0.0).expect("analysis of generated music");
        times.push(t0.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (c0, thread_cpu_s()) {
            cpus.push(b - a);
        }
        last = Some(a);
    }
    times.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    let a = last.expect("three runs");
    println!(
        "| generated, 44.1 kHz stereo | {secs:.0} s | {:.3} s | {} | {:.0} | {:.1} BPM | {} |",
        times[1],
        cpu_cell(cpus.get(1).copied()),
        secs / times[1],
        a.tempo.bpm,
        a.key.key.name()
    );

    let files: Vec<PathBuf> = std::env::var_os("SONICA_ANALYSIS_FILES")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    for path in files {
        let (t0, c0) = (Instant::now(), thread_cpu_s());
        match sonica::pipeline::analyse_music(&path, None, None, 4.0 * 3600.0, Default::default()) {
            Ok(a) => {
                let took = t0.elapsed().as_secs_f64();
                let cpu = c0.zip(thread_cpu_s()).map(|(a, b)| b - a);
                println!(
                    "| {} (decode + analysis) | {:.0} s | {took:.3} s | {} | {:.0} | {:.1} BPM | {} |",
                    path.display(),
                    a.duration_s(),
                    cpu_cell(cpu),
                    a.duration_s() / took,
                    a.tempo.bpm,
                    a.key.key.name()
                );
            }
            Err(e) => println!("| {} | error: {e} | | | | | |", path.display()),
        }
    }
}

//! Music analysis runs on whatever a decoder produced, and decoders pass on
//! what files hold: NaN, infinities, denormals, DC, clipped square waves,
//! one click in silence. The analyser promises (src/analysis/error.rs) to
//! never panic on odd input and to report what it cannot measure; this
//! target holds it to that, at any rate in 4000–384000 Hz and 1–2 channels,
//! with the audio pushed in arbitrary chunk sizes.
//!
//! Input layout: `mode` `rate selector ×3` `channels` `chunk selector`
//! `length selector` `pattern bytes…`. The pattern (at most 2 s of samples,
//! shaped by the mode) is tiled to the chosen length: `finish()` refuses
//! anything under `MIN_DURATION_S` (5 s) before running the estimators, so
//! a 2 s cap alone would never reach tempo, key or drums. Lengths are
//! mostly 5–5.25 s, sometimes shorter (the `TooShort` path), and rates
//! mostly 8–22 kHz: an exec costs about its length in samples.
//!
//! Checked on the way, as the analyser's own tests check: a result has a
//! finite tempo and loudness and finite vectors, survives its own
//! encode → decode (the stored JSON), and renders as summary JSON and as a
//! drum-pattern MIDI file; an error on valid parameters is `TooShort` or
//! `Silent`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica::analysis::{pattern_midi, summary_json, Analyser, AnalysisError, MAX_RATE, MIN_DURATION_S, MIN_RATE};
use sonica_schema::TrackAnalysis;

const RATES: [u32; 10] = [8000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000, 192_000, 384_000];

/// Special values cycled by the "specials" mode.
const SPECIALS: [f32; 9] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e-40, // denormal
    -1e-45,
    f32::MAX,
    f32::MIN,
    -0.0,
    1.0,
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let (hdr, body) = data.split_at(7);
    let mode = hdr[0];
    // One exec costs about its length in samples: mostly low rates, so
    // that the estimators run often; every rate now and then.
    let rate = if hdr[1] < 128 {
        RATES[usize::from(hdr[1]) % 4]
    } else if hdr[1] < 224 {
        RATES[usize::from(hdr[1]) % RATES.len()]
    } else {
        // Anywhere in 4000–384000, including the refused 4000–7999.
        4000 + u32::from(u16::from_le_bytes([hdr[2], hdr[3]])) * 6
    };
    let channels = 1 + u16::from(hdr[4] & 1);
    let chunk = match hdr[5] % 4 {
        0 => 1 + usize::from(hdr[5]),
        1 => 4096,
        2 => 8192 * usize::from(channels),
        _ => 1 + usize::from(hdr[5]) * 997,
    };
    let seconds = if hdr[6] < 200 {
        MIN_DURATION_S + f64::from(hdr[6]) / 800.0
    } else {
        f64::from(hdr[6] - 200) / 11.0
    };

    let mut a = match Analyser::new(rate, channels) {
        Ok(a) => a,
        Err(e) => {
            assert!(rate < MIN_RATE || rate > MAX_RATE, "refused a valid rate {rate}: {e}");
            return;
        }
    };

    // The pattern: at most 2 s worth of samples.
    let cap = 2 * rate as usize * usize::from(channels);
    let pattern: Vec<f32> = match mode % 6 {
        // Raw little-endian f32: NaN, infinities and denormals come free.
        0 => body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).take(cap).collect(),
        // Bytes as 8-bit audio: plausible signals.
        1 => body.iter().map(|&b| f32::from(b as i8) / 128.0).take(cap).collect(),
        // DC at a chosen level.
        2 => {
            let v = body.get(..4).map_or(0.5, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            vec![v]
        }
        // Full-scale square wave of a chosen period and level.
        3 => {
            let half = 1 + usize::from(body.first().copied().unwrap_or(20)) * 4;
            let level = match body.get(1).copied().unwrap_or(0) % 4 {
                0 => 1.0,
                1 => 16.0,
                2 => 1e30,
                _ => f32::MAX,
            };
            (0..2 * half).map(|i| if i < half { level } else { -level }).collect()
        }
        // Special values, cycled by the bytes.
        4 => body.iter().map(|&b| SPECIALS[usize::from(b) % SPECIALS.len()]).take(cap).collect(),
        // Silence with one click.
        _ => {
            let mut v = vec![0.0f32; cap.min(rate as usize)];
            let at = body.first().map_or(0, |&b| usize::from(b) * v.len() / 256);
            if let Some(x) = v.get_mut(at) {
                *x = 1.0;
            }
            v
        }
    };
    let total = (seconds * f64::from(rate)) as usize * usize::from(channels);
    if !pattern.is_empty() {
        let mut buf = Vec::with_capacity(chunk);
        let mut pushed = 0;
        let mut i = 0;
        while pushed < total {
            buf.clear();
            let n = chunk.min(total - pushed);
            while buf.len() < n {
                buf.push(pattern[i % pattern.len()]);
                i += 1;
            }
            a.push(&buf);
            pushed += n;
        }
    }
    match a.finish(0.0) {
        Ok(t) => {
            assert!(t.tempo.bpm.is_finite(), "bpm {}", t.tempo.bpm);
            assert!(t.loudness.integrated_lufs.is_finite(), "integrated {}", t.loudness.integrated_lufs);
            assert!(t.timbre.iter().chain(&t.rhythm_vector).all(|v| v.is_finite()), "non-finite vector");
            let back = TrackAnalysis::decode(&t.encode());
            assert!(back.is_ok(), "stored analysis does not decode: {back:?}");
            let _ = summary_json("fuzz", &t, true);
            let _ = pattern_midi(&t, None, None);
        }
        Err(AnalysisError::TooShort { .. } | AnalysisError::Silent { .. }) => {}
        Err(e) => panic!("unexpected analysis error at {rate} Hz, {channels} ch: {e}"),
    }
});

//! Whole-analyser tests on generated audio: click tracks, a drum loop and
//! small songs of known tempo and key, plus the inputs that must not panic.

use sonica_schema::{Drum, Key, Mode};

use super::*;

const RATE: u32 = 44100;

/// Deterministic noise in [-1, 1].
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

fn add_at(buf: &mut [f32], start_s: f64, sound: &[f32]) {
    let s = (start_s * f64::from(RATE)).round() as usize;
    for (i, v) in sound.iter().enumerate() {
        if let Some(b) = buf.get_mut(s + i) {
            *b += v;
        }
    }
}

fn click() -> Vec<f32> {
    let mut n = Noise(9);
    (0..220).map(|i| n.next() * 0.8 * (-(i as f32) / 40.0).exp()).collect()
}

fn kick() -> Vec<f32> {
    let len = (0.25 * f64::from(RATE)) as usize;
    let mut phase = 0.0f64;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let f = 45.0 + 75.0 * (-t / 0.03).exp();
            phase += 2.0 * std::f64::consts::PI * f / f64::from(RATE);
            (0.9 * phase.sin() * (-t / 0.08).exp()) as f32
        })
        .collect()
}

/// RBJ band-pass biquad (constant 0 dB peak gain).
fn band_pass(x: &[f32], hz: f64, q: f64) -> Vec<f32> {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(RATE);
    let alpha = w.sin() / (2.0 * q);
    let a0 = 1.0 + alpha;
    let (b0, b2, a1, a2) = (alpha / a0, -alpha / a0, -2.0 * w.cos() / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    x.iter()
        .map(|&v| {
            let v = f64::from(v);
            let y = b0 * v + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, v, y1, y);
            y as f32
        })
        .collect()
}

/// Band-passed noise (the wires, 1–5 kHz) over a 190 Hz body.
fn snare() -> Vec<f32> {
    let len = (0.2 * f64::from(RATE)) as usize;
    let mut n = Noise(5);
    let noise: Vec<f32> = (0..len).map(|_| n.next()).collect();
    let wires = band_pass(&noise, 2500.0, 0.6);
    wires
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let t = i as f64 / f64::from(RATE);
            let body = (2.0 * std::f64::consts::PI * 190.0 * t).sin() as f32 * 0.4 * (-t / 0.04).exp() as f32;
            w * 1.2 * (-t / 0.06).exp() as f32 + body
        })
        .collect()
}

/// Noise band-passed high (8–12 kHz), short.
fn hihat() -> Vec<f32> {
    let len = (0.06 * f64::from(RATE)) as usize;
    let mut n = Noise(11);
    let noise: Vec<f32> = (0..len).map(|_| n.next()).collect();
    band_pass(&noise, 9000.0, 1.0)
        .iter()
        .enumerate()
        .map(|(i, v)| v * 0.5 * (-(i as f64 / f64::from(RATE)) / 0.015).exp() as f32)
        .collect()
}

fn click_track(bpm: f64, secs: f64, first: f64) -> (Vec<f32>, Vec<f64>) {
    let mut buf = vec![0.0f32; (secs * f64::from(RATE)) as usize];
    let c = click();
    let mut times = Vec::new();
    let mut t = first;
    while t < secs - 0.1 {
        add_at(&mut buf, t, &c);
        times.push(t);
        t += 60.0 / bpm;
    }
    (buf, times)
}

/// One bar of a 16-step pattern: 'k' kick, 's' snare, 'h' hat, '.' rest, per voice string.
fn drum_loop(bpm: f64, bars: usize, kick_s: &str, snare_s: &str, hat_s: &str, first: f64) -> Vec<f32> {
    let step = 60.0 / bpm / 4.0;
    let secs = first + bars as f64 * 16.0 * step + 1.0;
    let mut buf = vec![0.0f32; (secs * f64::from(RATE)) as usize];
    let (k, s, h) = (kick(), snare(), hihat());
    for bar in 0..bars {
        for i in 0..16 {
            let t = first + (bar * 16 + i) as f64 * step;
            for (pat, sound) in [(kick_s, &k), (snare_s, &s), (hat_s, &h)] {
                if pat.as_bytes()[i] != b'.' {
                    add_at(&mut buf, t, sound);
                }
            }
        }
    }
    buf
}

/// A note with a few harmonics (an organ-like tone), `secs` long with soft edges.
fn tone(midi: f64, secs: f64, amp: f32) -> Vec<f32> {
    let hz = 440.0 * 2f64.powf((midi - 69.0) / 12.0);
    let len = (secs * f64::from(RATE)) as usize;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let env = (t / 0.01).min(1.0) * ((secs - t) / 0.02).clamp(0.0, 1.0) * (-t / 1.5).exp();
            let mut v = 0.0;
            for h in 1..=4 {
                v += (2.0 * std::f64::consts::PI * hz * h as f64 * t).sin() / h as f64;
            }
            (v * env) as f32 * amp
        })
        .collect()
}

/// A small song: a I–IV–V–I (major) or i–iv–V–i (minor) progression, one chord
/// a bar, bass roots on the beats, kick/snare/hat rock beat.
fn song(bpm: f64, key: Key, bars: usize) -> Vec<f32> {
    let beat = 60.0 / bpm;
    let first = 0.3;
    let mut buf = drum_loop(
        bpm,
        bars,
        "k.......k.k.....",
        "....s.......s...",
        "h.h.h.h.h.h.h.h.",
        first,
    );
    let tonic = f64::from(key.tonic);
    let (third, scale_iv) = match key.mode {
        Mode::Major => (4.0, [0.0, 4.0, 7.0]),
        Mode::Minor => (3.0, [0.0, 3.0, 7.0]),
    };
    // (root offset, chord intervals): I/i, IV/iv, V (major in both modes), I/i.
    let chords = [
        (0.0, [0.0, third, 7.0]),
        (5.0, scale_iv),
        (7.0, [0.0, 4.0, 7.0]),
        (0.0, [0.0, third, 7.0]),
    ];
    for bar in 0..bars {
        let (root, ivs) = chords[bar % 4];
        let t0 = first + bar as f64 * 4.0 * beat;
        for iv in ivs {
            add_at(&mut buf, t0, &tone(60.0 + tonic + root + iv, 4.0 * beat, 0.08));
        }
        for b in 0..4 {
            add_at(
                &mut buf,
                t0 + b as f64 * beat,
                &tone(36.0 + tonic + root, 0.9 * beat, 0.15),
            );
        }
    }
    buf
}

fn stereo(mono: &[f32]) -> Vec<f32> {
    mono.iter().flat_map(|&v| [v, v]).collect()
}

fn near(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn click_tracks_give_their_tempo_and_beats_on_the_clicks() {
    for bpm in [100.0, 128.0] {
        let (audio, clicks) = click_track(bpm, 20.0, 0.5);
        let a = analyse_pcm(RATE, 1, &audio, 0.0).unwrap();
        assert!(near(a.tempo.bpm, bpm, bpm * 0.02), "{bpm}: got {}", a.tempo.bpm);
        assert!(
            a.tempo.beats.len() as f64 >= clicks.len() as f64 * 0.8,
            "{} beats",
            a.tempo.beats.len()
        );
        for &b in &a.tempo.beats {
            let d = clicks
                .iter()
                .map(|&c| (c - f64::from(b)).abs())
                .fold(f64::MAX, f64::min);
            assert!(d < 0.015, "{bpm}: beat at {b} is {d:.3} s from a click");
        }
    }
}

#[test]
fn songs_give_their_tempo_and_key() {
    for (bpm, key) in [(112.0, "A minor"), (96.0, "Eb major"), (140.0, "F# minor")] {
        let key = Key::parse(key).unwrap();
        let audio = song(bpm, key, (bpm / 4.0 * 20.0 / 60.0).ceil() as usize);
        let a = analyse_pcm(RATE, 2, &stereo(&audio), 0.0).unwrap();
        assert!(near(a.tempo.bpm, bpm, bpm * 0.02), "{bpm}: got {}", a.tempo.bpm);
        assert_eq!(a.key.key, key, "{}: got {}", key.name(), a.key.key.name());
        assert!(a.key.strength > 0.5);
        assert_eq!(a.tempo.time_signature.map(|t| t.numerator), Some(4));
    }
}

#[test]
fn drum_loop_hits_are_the_right_voices_on_the_right_steps() {
    let (kick_s, snare_s, hat_s) = ("k.....k...k.....", "....s.......s...", "h.h.h.h.h.h.h.h.");
    let audio = drum_loop(120.0, 10, kick_s, snare_s, hat_s, 0.5);
    let a = analyse_pcm(RATE, 1, &audio, 0.0).unwrap();
    assert!(near(a.tempo.bpm, 120.0, 2.4), "tempo {}", a.tempo.bpm);
    let p = &a.rhythm.pattern;
    assert_eq!(p.steps_per_bar, 16);
    for (voice, want, got) in [
        ("kick", kick_s, &p.kick),
        ("snare", snare_s, &p.snare),
        ("hihat", hat_s, &p.hihat),
    ] {
        for (i, c) in want.bytes().enumerate() {
            // A hi-hat under a snare is heard as part of the snare: not required there.
            let masked = voice == "hihat" && snare_s.as_bytes()[i] != b'.';
            if c != b'.' && !masked {
                assert!(got[i] > 0.5, "{voice} missing on step {i}: {got:?}");
            } else if voice != "hihat" || snare_s.as_bytes()[i] == b'.' {
                assert!(got[i] < 0.2, "{voice} on empty step {i}: {got:?}");
            }
        }
    }
    // Every kick sits on a kick time, not elsewhere.
    let kicks: Vec<f32> = a
        .rhythm
        .hits
        .iter()
        .filter(|h| h.drum == Drum::Kick)
        .map(|h| h.t)
        .collect();
    assert!(kicks.len() >= 28 && kicks.len() <= 32, "{} kicks", kicks.len());
}

#[test]
fn midi_export_parses_back_with_the_notes() {
    let audio = drum_loop(
        120.0,
        8,
        "k.......k.......",
        "....s.......s...",
        "h.h.h.h.h.h.h.h.",
        0.5,
    );
    let a = analyse_pcm(RATE, 1, &audio, 10.0).unwrap();
    // Two bars from 12 s in file time (2 s into the range: 1.5 s after the first beat = bar 1 starts at 2.5 s).
    let bytes = pattern_midi(&a, Some(12.5), Some(16.5)).unwrap();
    let smf = midly::Smf::parse(&bytes).unwrap();
    assert_eq!(smf.tracks.len(), 1);
    let mut tick = 0u32;
    let mut notes: Vec<(u32, u8)> = Vec::new();
    let mut tempo = None;
    for ev in &smf.tracks[0] {
        tick += ev.delta.as_int();
        match ev.kind {
            midly::TrackEventKind::Midi {
                channel,
                message: midly::MidiMessage::NoteOn { key, vel },
            } if vel.as_int() > 0 => {
                assert_eq!(channel.as_int(), 9);
                notes.push((tick, key.as_int()));
            }
            midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(t)) => tempo = Some(t.as_int()),
            _ => {}
        }
    }
    let bpm = 60_000_000.0 / f64::from(tempo.unwrap());
    assert!(near(bpm, 120.0, 2.4));
    // Kicks on beats 1 and 3 of each bar, snares on 2 and 4, hats on the other eighths.
    let at = |note: u8| -> Vec<u32> { notes.iter().filter(|n| n.1 == note).map(|n| n.0).collect() };
    assert_eq!(at(36), vec![0, 960, 1920, 2880], "{notes:?}");
    assert_eq!(at(38), vec![480, 1440, 2400, 3360], "{notes:?}");
    assert_eq!(at(42).len(), 12, "{notes:?}");
    // A section with no audio is refused.
    assert!(pattern_midi(&a, Some(100.0), Some(110.0)).is_err());
}

#[test]
fn vectors_are_unit_length_and_gain_free() {
    let key = Key::parse("D major").unwrap();
    let audio = song(120.0, key, 10);
    let a = analyse_pcm(RATE, 1, &audio, 0.0).unwrap();
    let quiet: Vec<f32> = audio.iter().map(|v| v * 0.2).collect();
    let b = analyse_pcm(RATE, 1, &quiet, 0.0).unwrap();
    for v in [&a.timbre, &a.rhythm_vector, &b.timbre, &mixed_vector(&a)] {
        let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n}");
    }
    assert_eq!(a.timbre.len(), sonica_schema::TIMBRE_DIM);
    assert_eq!(a.rhythm_vector.len(), sonica_schema::RHYTHM_DIM);
    assert_eq!(mixed_vector(&a).len(), MIXED_DIM);
    let cos: f32 = a.timbre.iter().zip(&b.timbre).map(|(x, y)| x * y).sum();
    assert!(cos > 0.99, "timbre cosine across gain {cos}");
    let cos: f32 = a.rhythm_vector.iter().zip(&b.rhythm_vector).map(|(x, y)| x * y).sum();
    assert!(cos > 0.95, "rhythm cosine across gain {cos}");
    assert!((a.loudness.integrated_lufs - b.loudness.integrated_lufs - 13.98).abs() < 0.1);
}

#[test]
fn full_scale_997hz_through_the_analyser() {
    let s: Vec<f32> = (0..RATE as usize * 8)
        .map(|i| (2.0 * std::f64::consts::PI * 997.0 * i as f64 / f64::from(RATE)).sin() as f32)
        .collect();
    // Mono: −3.01 LUFS. The same sine in both channels of a stereo file counts twice: 0 LUFS.
    let a = analyse_pcm(RATE, 1, &s, 0.0).unwrap();
    assert!(
        near(a.loudness.integrated_lufs, -3.01, 0.1),
        "{}",
        a.loudness.integrated_lufs
    );
    assert!(near(a.loudness.true_peak_dbtp, 0.0, 0.2));
    let a = analyse_pcm(RATE, 2, &stereo(&s), 0.0).unwrap();
    assert!(
        near(a.loudness.integrated_lufs, 0.0, 0.1),
        "{}",
        a.loudness.integrated_lufs
    );
    assert!(a.stereo.width < 1e-6 && near(a.stereo.phase_correlation, 1.0, 1e-6));
    assert!(near(a.duration_s(), 8.0, 1e-6));
}

#[test]
fn silence_and_short_input_are_errors() {
    let err = analyse_pcm(RATE, 2, &vec![0.0; RATE as usize * 2 * 10], 0.0).unwrap_err();
    assert!(matches!(err, AnalysisError::Silent { .. }), "{err}");
    let err = analyse_pcm(RATE, 1, &[0.5], 0.0).unwrap_err();
    assert!(matches!(err, AnalysisError::TooShort { .. }), "{err}");
    assert!(err.to_string().contains("5.0 s"), "{err}");
    let err = analyse_pcm(RATE, 1, &[], 0.0).unwrap_err();
    assert!(matches!(err, AnalysisError::TooShort { .. }));
    assert!(matches!(
        Analyser::new(RATE, 3),
        Err(AnalysisError::UnsupportedChannels { .. })
    ));
    assert!(matches!(
        Analyser::new(0, 1),
        Err(AnalysisError::UnsupportedRate { .. })
    ));
    assert!(matches!(
        Analyser::new(1_000_000, 2),
        Err(AnalysisError::UnsupportedRate { .. })
    ));
}

#[test]
fn odd_input_never_panics() {
    let n = RATE as usize * 6;
    let mut noise = Noise(3);
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("dc", vec![0.5; n]),
        ("nan", vec![f32::NAN; n]),
        (
            "inf",
            (0..n).map(|i| if i % 7 == 0 { f32::INFINITY } else { 0.1 }).collect(),
        ),
        (
            "clipped",
            (0..n).map(|_| (noise.next() * 4.0).clamp(-1.0, 1.0)).collect(),
        ),
        ("huge", (0..n).map(|i| if i % 2 == 0 { 1e30 } else { -1e30 }).collect()),
        ("one-click", {
            let mut v = vec![0.0; n];
            v[n / 2] = 1.0;
            v
        }),
    ];
    for (name, x) in cases {
        for rate in [8000, 22050, 44100, 96000] {
            match analyse_pcm(rate, 1, &x, 0.0) {
                Ok(a) => {
                    assert!(
                        a.tempo.bpm.is_finite() && a.loudness.integrated_lufs.is_finite(),
                        "{name}"
                    );
                    assert!(a.timbre.iter().chain(&a.rhythm_vector).all(|v| v.is_finite()), "{name}");
                    let _ = summary_json("x", &a, true);
                    let _ = pattern_midi(&a, None, None);
                }
                Err(e) => assert!(
                    matches!(e, AnalysisError::Silent { .. } | AnalysisError::TooShort { .. }),
                    "{name} at {rate}: {e}"
                ),
            }
        }
    }
    // Streaming in odd-sized pieces, stereo with an odd sample count.
    let mut a = Analyser::new(48000, 2).unwrap();
    for len in [1usize, 3, 4096, 7, 100_000, 1, 500_001] {
        a.push(&vec![0.25; len]);
    }
    let _ = a.finish(f64::NAN);
}

#[test]
fn summary_has_the_documented_fields() {
    let key = Key::parse("A minor").unwrap();
    let a = analyse_pcm(RATE, 1, &song(120.0, key, 8), 30.0).unwrap();
    let j = summary_json("song.ogg", &a, true);
    for f in [
        "file",
        "tempo_bpm",
        "key",
        "key_strength",
        "loudness_lufs",
        "loudness_range_lu",
        "true_peak_dbtp",
        "duration_s",
        "time_signature",
        "beat_count",
        "dynamics",
        "stereo",
        "onset_rate_per_s",
        "drums",
        "timbre",
        "rhythm_vector",
    ] {
        assert!(j.get(f).is_some(), "missing {f}: {j}");
    }
    assert_eq!(j["key"], "A minor");
    assert!(j["bands"]["low_mid"]["energy_db"].is_number());
    assert_eq!(j["start_s"], 30.0);
    assert!(summary_json("x", &a, false).get("timbre").is_none());
}

/// A waltz: bass and kick on one, chord stabs and hats on two and three.
fn waltz(bpm: f64, bars: usize) -> Vec<f32> {
    let beat = 60.0 / bpm;
    let first = 0.4;
    let mut buf = vec![0.0f32; ((first + bars as f64 * 3.0 * beat + 1.0) * f64::from(RATE)) as usize];
    let (k, h) = (kick(), hihat());
    let roots = [57.0, 62.0, 64.0, 57.0];
    for bar in 0..bars {
        let root = roots[bar % 4];
        let t0 = first + bar as f64 * 3.0 * beat;
        add_at(&mut buf, t0, &k);
        add_at(&mut buf, t0, &tone(root - 24.0, 0.9 * beat, 0.3));
        for b in 1..3 {
            let t = t0 + b as f64 * beat;
            add_at(&mut buf, t, &h);
            for iv in [0.0, 4.0, 7.0] {
                add_at(&mut buf, t, &tone(root + iv, 0.4 * beat, 0.04));
            }
        }
    }
    buf
}

#[test]
fn a_waltz_is_three_four() {
    let a = analyse_pcm(RATE, 1, &waltz(150.0, 24), 0.0).unwrap();
    assert!(near(a.tempo.bpm, 150.0, 3.0), "tempo {}", a.tempo.bpm);
    assert_eq!(a.tempo.time_signature.map(|t| t.numerator), Some(3));
    assert_eq!(a.rhythm.pattern.steps_per_bar, 12);
    // The kick on the first step of the bar.
    assert!(a.rhythm.pattern.kick[0] > 0.5, "{:?}", a.rhythm.pattern.kick);
}

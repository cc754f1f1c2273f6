//! Generated music in two clearly different styles, for the similarity and
//! search tests: "beat" (drums, bright saw chords, 120-ish BPM, minor) and
//! "calm" (no drums, soft sine chords, 80-ish BPM, major). Each seed varies
//! the melody, voicing and tempo a little, so tracks of one style are
//! different recordings that sound alike.

use crate::audio::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Beat,
    Calm,
}

fn midi_hz(m: f32) -> f32 {
    440.0 * 2f32.powf((m - 69.0) / 12.0)
}

/// How a note sounds: `harmonics` partials (1/k amplitudes: saw-like when
/// many) and an exponential decay.
#[derive(Clone, Copy)]
struct Tone {
    amp: f32,
    harmonics: usize,
    decay: f32,
}

fn note(out: &mut [f32], rate: u32, t0: f32, dur: f32, hz: f32, tone: Tone) {
    let Tone { amp, harmonics, decay } = tone;
    let start = (t0 * rate as f32) as usize;
    let len = (dur * rate as f32) as usize;
    for i in 0..len {
        let Some(o) = out.get_mut(start + i) else { break };
        let t = i as f32 / rate as f32;
        let env = (-t * decay).exp() * (1.0 - (-t * 200.0).exp());
        let mut v = 0.0;
        for k in 1..=harmonics {
            let f = hz * k as f32;
            if f > rate as f32 / 2.2 {
                break;
            }
            v += (std::f32::consts::TAU * f * t).sin() / k as f32;
        }
        *o += amp * env * v;
    }
}

/// A kick: a sine sweeping 120 → 45 Hz with a fast decay.
fn kick(out: &mut [f32], rate: u32, t0: f32) {
    let start = (t0 * rate as f32) as usize;
    let mut phase = 0.0f32;
    for i in 0..(rate as usize / 5) {
        let Some(o) = out.get_mut(start + i) else { break };
        let t = i as f32 / rate as f32;
        let hz = 45.0 + 75.0 * (-t * 30.0).exp();
        phase += std::f32::consts::TAU * hz / rate as f32;
        *o += 0.8 * (-t * 18.0).exp() * phase.sin();
    }
}

/// Noise bursts: long and mid-heavy for a snare, short for a hi-hat.
fn noise_hit(out: &mut [f32], rate: u32, t0: f32, len_s: f32, amp: f32, rng: &mut Rng, bright: bool) {
    let start = (t0 * rate as f32) as usize;
    let mut prev = 0.0f32;
    for i in 0..(len_s * rate as f32) as usize {
        let Some(o) = out.get_mut(start + i) else { break };
        let t = i as f32 / rate as f32;
        let n = rng.unit();
        // First difference brightens a hat; a snare keeps the body.
        let v = if bright { n - prev } else { n };
        prev = n;
        *o += amp * (-t / len_s * 5.0).exp() * v;
    }
}

/// One track of `style`, `secs` long at `rate`, mono, peak 0.8.
pub fn track(style: Style, seed: u32, secs: f32, rate: u32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let n = (secs * rate as f32) as usize;
    let mut out = vec![0.0f32; n];
    let (bpm, tonic, minor) = match style {
        Style::Beat => (118.0 + (rng.next_u32() % 8) as f32, 57.0, true), // A minor
        Style::Calm => (76.0 + (rng.next_u32() % 8) as f32, 60.0, false), // C major
    };
    let beat = 60.0 / bpm;
    let scale: [f32; 7] = if minor {
        [0.0, 2.0, 3.0, 5.0, 7.0, 8.0, 10.0]
    } else {
        [0.0, 2.0, 4.0, 5.0, 7.0, 9.0, 11.0]
    };
    // i-VI-iv-V (minor) or I-IV-V-I (major), one chord a bar.
    let prog: [usize; 4] = if minor { [0, 5, 3, 4] } else { [0, 3, 4, 0] };
    let bars = (secs / (4.0 * beat)).ceil() as usize;
    for bar in 0..bars {
        let t = bar as f32 * 4.0 * beat;
        let deg = prog[bar % 4];
        let triad = [deg, deg + 2, deg + 4].map(|d| tonic + scale[d % 7] + 12.0 * (d / 7) as f32);
        let chord = match style {
            Style::Beat => Tone {
                amp: 0.10,
                harmonics: 12,
                decay: 0.8,
            },
            Style::Calm => Tone {
                amp: 0.12,
                harmonics: 2,
                decay: 0.3,
            },
        };
        for m in triad {
            note(&mut out, rate, t, 4.0 * beat, midi_hz(m), chord);
        }
        let bass = Tone {
            amp: 0.25,
            harmonics: 3,
            decay: 1.0,
        };
        note(&mut out, rate, t, 2.0 * beat, midi_hz(tonic - 24.0 + scale[deg]), bass);
        // Melody: eighths (beat) or quarters (calm) from the scale.
        let step = if style == Style::Beat { 0.5 } else { 1.0 };
        let mut b = 0.0;
        while b < 4.0 {
            let d = (rng.next_u32() % 7) as usize;
            let m = tonic + 12.0 + scale[d];
            let lead = Tone {
                amp: 0.08,
                harmonics: 4,
                decay: 2.0,
            };
            note(&mut out, rate, t + b * beat, step * beat, midi_hz(m), lead);
            b += step;
        }
        if style == Style::Beat {
            for q in 0..4 {
                let tb = t + q as f32 * beat;
                kick(&mut out, rate, tb);
                if q % 2 == 1 {
                    noise_hit(&mut out, rate, tb, 0.15, 0.35, &mut rng, false);
                }
                noise_hit(&mut out, rate, tb, 0.04, 0.12, &mut rng, true);
                noise_hit(&mut out, rate, tb + beat / 2.0, 0.04, 0.12, &mut rng, true);
            }
        }
    }
    crate::audio::normalise(&mut out, 0.8);
    out
}

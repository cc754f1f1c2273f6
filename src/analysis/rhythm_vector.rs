//! The rhythm vector: how the music moves, whatever it sounds like.
//!
//! Everything is measured relative to the beat so that the same groove at
//! another tempo lands nearby (the tempo itself is one component among 32):
//! the onset envelope's autocorrelation at fractions and multiples of the
//! beat (straight or triplet subdivision, swing, bar length; its value at
//! one beat is the tempo's clarity), how strongly onsets gather on the
//! beats, the same autocorrelation for
//! each drum band, where within the beat the onsets fall, how many hits of
//! each voice a beat has, and how much of the rhythm sits off the beat.
//! Components are centred and scaled by the fixed figures in [`RHYTHM_NORM`]
//! and the vector is L2-normalised.

use sonica_schema::{Drum, DrumHit, RHYTHM_DIM};

use super::drums::beat_position;
use super::onsets::{frame_time, normalise_envelope};
use super::tempo::{ac_at, autocorrelation, TempoEstimate};
use super::vector::{normalise, NormStats};

/// Beat fractions at which the onset envelope's autocorrelation is sampled.
const LAGS: [f64; 8] = [0.25, 1.0 / 3.0, 0.5, 2.0 / 3.0, 0.75, 1.0, 2.0, 4.0];
/// Beat fractions sampled for each drum band.
const BAND_LAGS: [f64; 3] = [0.5, 1.0, 2.0];

/// Inputs of the rhythm vector.
pub struct RhythmInputs<'a> {
    pub tempo: &'a TempoEstimate,
    /// Normalised onset envelope.
    pub env: &'a [f32],
    /// Raw per-band drum flux.
    pub drum_flux: [&'a [f32]; 3],
    pub hits: &'a [DrumHit],
    pub onset_count: usize,
    /// Seconds of working-rate audio.
    pub duration_s: f64,
}

/// The raw figures, [`RHYTHM_DIM`] long.
pub fn raw(x: &RhythmInputs) -> Vec<f64> {
    let mut v = Vec::with_capacity(RHYTHM_DIM);
    let t = x.tempo;
    let period = t.period();
    let ok = t.bpm > 0.0 && period > 0.0 && x.duration_s > 0.0;
    let beats_total = if ok { x.duration_s * t.bpm / 60.0 } else { 0.0 };
    // 0–2: tempo (octaves from 120), pulse salience (onset strength on the beats over the
    // mean, octaves), onsets per beat (octaves).
    v.push(if ok { (t.bpm / 120.0).log2() } else { 0.0 });
    let env_mean = x.env.iter().map(|&e| f64::from(e)).sum::<f64>() / x.env.len().max(1) as f64;
    let on_beats = t.beats.iter().map(|&b| env_near(x.env, b)).sum::<f64>() / t.beats.len().max(1) as f64;
    v.push(if ok && env_mean > 0.0 && on_beats > 0.0 {
        (on_beats / env_mean).log2()
    } else {
        0.0
    });
    v.push(if ok {
        (x.onset_count as f64 / beats_total.max(1.0) + 0.05).log2()
    } else {
        0.0
    });
    // 3–10: envelope autocorrelation at beat fractions.
    for f in LAGS {
        v.push(if ok { ac_at(&t.ac, f * period) } else { 0.0 });
    }
    // 11–13: hits per beat of each voice.
    for d in [Drum::Kick, Drum::Snare, Drum::Hihat] {
        let n = x.hits.iter().filter(|h| h.drum == d).count() as f64;
        v.push(if ok { n / beats_total.max(1.0) } else { 0.0 });
    }
    // 14–17: share of the onset envelope at each sixteenth of the beat; 18: swing.
    let beats_s: Vec<f64> = t
        .beats
        .iter()
        .map(|&b| frame_time(b.round().max(0.0) as usize))
        .collect();
    let mut sixteenths = [0.0f64; 4];
    let (mut straight, mut swung) = (0.0, 0.0);
    if t.beats.len() >= 4 {
        for w in t.beats.windows(2) {
            let span = w[1] - w[0];
            for (q, s) in sixteenths.iter_mut().enumerate() {
                *s += env_near(x.env, w[0] + span * q as f64 / 4.0);
            }
            straight += env_near(x.env, w[0] + span * 0.5);
            swung += env_near(x.env, w[0] + span * 2.0 / 3.0);
        }
    }
    let total: f64 = sixteenths.iter().sum();
    for s in sixteenths {
        v.push(if total > 0.0 { s / total } else { 0.25 });
    }
    v.push(((swung + 0.1) / (straight + 0.1)).ln());
    // 19–27: each drum band's autocorrelation at half, one and two beats.
    for flux in x.drum_flux {
        if ok && flux.len() > 4 {
            let env = normalise_envelope(flux);
            let ac = autocorrelation(&env, (2.0 * period).ceil() as usize + 3);
            for f in BAND_LAGS {
                v.push(ac_at(&ac, f * period));
            }
        } else {
            v.extend([0.0; 3]);
        }
    }
    // 28: three-beat against four-beat periodicity; 29: dotted (1.5-beat) periodicity.
    v.push(if ok {
        ac_at(&t.ac, 3.0 * period) - ac_at(&t.ac, 4.0 * period)
    } else {
        0.0
    });
    v.push(if ok { ac_at(&t.ac, 1.5 * period) } else { 0.0 });
    // 30: share of beats with a drum hit on them; 31: share of kick and snare off the eighth-note grid.
    let mut on_beat = vec![false; t.beats.len()];
    let (mut off, mut all) = (0.0, 0.0);
    for h in x.hits {
        let Some(pos) = beat_position(&beats_s, f64::from(h.t)) else {
            continue;
        };
        let q = (pos * 4.0).round();
        if q.rem_euclid(4.0) == 0.0 {
            let j = (q / 4.0) as i64;
            if j >= 0 && (j as usize) < on_beat.len() {
                on_beat[j as usize] = true;
            }
        }
        if h.drum != Drum::Hihat {
            all += f64::from(h.strength);
            if q.rem_euclid(2.0) != 0.0 {
                off += f64::from(h.strength);
            }
        }
    }
    v.push(if on_beat.is_empty() {
        0.0
    } else {
        on_beat.iter().filter(|&&b| b).count() as f64 / on_beat.len() as f64
    });
    v.push(if all > 0.0 { off / all } else { 0.0 });
    debug_assert_eq!(v.len(), RHYTHM_DIM);
    v
}

fn env_near(env: &[f32], t: f64) -> f64 {
    let c = t.round();
    if c < 0.0 || env.is_empty() {
        return 0.0;
    }
    let c = c as usize;
    let a = c.saturating_sub(1);
    let b = (c + 2).min(env.len());
    if a >= b {
        return 0.0;
    }
    f64::from(env[a..b].iter().cloned().fold(0.0f32, f32::max))
}

/// Scaled and L2-normalised rhythm vector.
pub fn vector(x: &RhythmInputs) -> Vec<f32> {
    normalise(&raw(x), &RHYTHM_NORM)
}

/// Per-component centre and spread of the rhythm figures (see the module doc).
pub static RHYTHM_NORM: NormStats<RHYTHM_DIM> = NormStats {
    centre: CENTRE,
    scale: SCALE,
};

/// Typical value of each raw component: the median over 240 tracks (120
/// labelled synthetic songs of 6 genres and 120 game-soundtrack tracks).
pub const CENTRE: [f64; RHYTHM_DIM] = [
    -0.08671, 3.667, 1.119, -0.06711, -0.07778, 0.2531, -0.06863, -0.04817, 0.5697, 0.635, 0.7265, 0.8041, 0.8368,
    1.325, 0.6868, 0.02511, 0.2129, 0.04102, -2.727, 0.0195, 0.1724, 0.4749, 0.2443, 0.5005, 0.6031, 0.4101, 0.532,
    0.62, -0.1112, 0.2267, 0.9837, 0.2088,
];
/// Typical spread: the interquartile range / 1.349 over the same tracks.
pub const SCALE: [f64; RHYTHM_DIM] = [
    0.3389, 0.4202, 0.4561, 0.07002, 0.03681, 0.3352, 0.04721, 0.1684, 0.1824, 0.3061, 0.252, 0.4373, 0.8127, 1.012,
    0.2203, 0.06393, 0.1248, 0.0737, 4.204, 0.09313, 0.4183, 0.5265, 0.3488, 0.257, 0.3133, 0.4218, 0.2989, 0.355,
    0.1264, 0.4028, 0.19, 0.2136,
];

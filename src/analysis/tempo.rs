//! Tempo, the beat grid and the metre, from the onset envelope.
//!
//! 1. Periodicity: the autocorrelation of the envelope. Its strongest peaks
//!    in the tempo range, and the relatives (×½, ×⅔, ×1½, ×2) of the
//!    prior-weighted strongest one, are the candidates; each is refined below
//!    one frame with the peaks at its multiples.
//! 2. Metrical level: a grid at half or double the tempo is nearly as
//!    periodic as the beat itself, so the choice between relatives rests on
//!    a log-normal prior on tempo, centred at [`PRIOR_BPM`] and
//!    [`PRIOR_OCTAVES`] wide: the candidate with the largest prior ×
//!    autocorrelation wins. (Measured on the labelled set, every width from
//!    0.6 to 0.85 octave gave Accuracy1 ≥ 97.5%; a 1-octave prior, as in
//!    librosa, picked half tempo for fast rock and jazz. Off-beat and
//!    alternation evidence of tracked grids was tried and added nothing.)
//!    A second pass scores the same candidates by the whole metrical grid
//!    (autocorrelation at one, two and four periods, see
//!    [`metrical_evidence`]); when it picks a 3:2 relative rather than an
//!    octave of the first choice, that relative's family wins and its octave
//!    is chosen by the prior as above. On real music (game soundtracks
//!    against Essentia) a triplet or dotted grid otherwise read as the beat.
//! 3. Beats: dynamic programming (Ellis 2007): every beat on a strong onset,
//!    successive beats about one period apart.
//! 4. Metre: 3 or 4 beats per bar from the accent pattern of the beats
//!    (which period of beat-synchronous features repeats best).

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

use super::features::FPS;

/// Centre of the tempo prior, BPM.
pub const PRIOR_BPM: f64 = 120.0;
/// Width of the tempo prior, octaves (one standard deviation).
pub const PRIOR_OCTAVES: f64 = 0.7;
/// Tempi outside this range are never reported.
pub const MIN_BPM: f64 = 40.0;
pub const MAX_BPM: f64 = 240.0;
/// Beat tracking: cost of a beat interval deviating from the period (Ellis's "tightness").
const TIGHTNESS: f64 = 100.0;
/// Autocorrelation is kept up to this many seconds of lag (4 beats at 40 BPM would need 6 s).
const MAX_LAG_S: f64 = 6.5;

/// What the tempo stage found.
#[derive(Debug, Clone, Default)]
pub struct TempoEstimate {
    pub bpm: f64,
    pub confidence: f64,
    /// Beat positions, frames (fractional).
    pub beats: Vec<f64>,
    /// Beats per bar, when the accents show it.
    pub beats_per_bar: Option<u8>,
    /// Normalised autocorrelation of the envelope (lag in frames, 1.0 at lag 0).
    pub ac: Vec<f32>,
}

impl TempoEstimate {
    /// Period in frames.
    pub fn period(&self) -> f64 {
        if self.bpm > 0.0 {
            60.0 * FPS / self.bpm
        } else {
            0.0
        }
    }
}

/// Normalised, unbiased autocorrelation of `x` (mean removed) for lags `0..max_lag`.
pub fn autocorrelation(x: &[f32], max_lag: usize) -> Vec<f32> {
    let n = x.len();
    if n < 2 {
        return vec![0.0; max_lag.max(1)];
    }
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let size = (2 * n).next_power_of_two();
    let mut buf: Vec<Complex32> = x
        .iter()
        .map(|&v| Complex32::new((f64::from(v) - mean) as f32, 0.0))
        .chain(std::iter::repeat(Complex32::default()))
        .take(size)
        .collect();
    let mut planner = FftPlanner::<f32>::new();
    let fwd: Arc<dyn rustfft::Fft<f32>> = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    fwd.process(&mut buf);
    for c in buf.iter_mut() {
        *c = Complex32::new(c.norm_sqr(), 0.0);
    }
    inv.process(&mut buf);
    let zero = f64::from(buf[0].re) / n as f64;
    (0..max_lag.max(1))
        .map(|l| {
            if l >= n || zero <= 0.0 {
                0.0
            } else {
                (f64::from(buf[l].re) / (n - l) as f64 / zero) as f32
            }
        })
        .collect()
}

fn prior(bpm: f64) -> f64 {
    (-0.5 * ((bpm / PRIOR_BPM).log2() / PRIOR_OCTAVES).powi(2)).exp()
}

/// Value of `ac` at a fractional lag (linear interpolation).
pub fn ac_at(ac: &[f32], lag: f64) -> f64 {
    if lag < 0.0 || ac.len() < 2 {
        return 0.0;
    }
    let i = lag.floor() as usize;
    if i + 1 >= ac.len() {
        return 0.0;
    }
    let f = lag - i as f64;
    f64::from(ac[i]) * (1.0 - f) + f64::from(ac[i + 1]) * f
}

/// The local maximum of `ac` nearest `lag` within ±`radius`, refined by a parabola.
fn refine_peak(ac: &[f32], lag: f64, radius: f64) -> Option<(f64, f64)> {
    let a = ((lag - radius).floor().max(1.0)) as usize;
    let b = ((lag + radius).ceil() as usize).min(ac.len().saturating_sub(2));
    if a >= b {
        return None;
    }
    let (i, v) = (a..=b).map(|i| (i, ac[i])).max_by(|x, y| x.1.total_cmp(&y.1))?;
    if i == a || i == b {
        // At the window's edge: not a peak.
        return None;
    }
    let (l, c, r) = (f64::from(ac[i - 1]), f64::from(v), f64::from(ac[i + 1]));
    let d = l - 2.0 * c + r;
    let off = if d < 0.0 {
        (0.5 * (l - r) / d).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some((i as f64 + off, c))
}

/// The prior-weighted strongest period (frames) and its autocorrelation.
fn dominant_period(ac: &[f32]) -> Option<(f64, f64)> {
    let lo = (60.0 * FPS / MAX_BPM).floor() as usize;
    let hi = ((60.0 * FPS / MIN_BPM).ceil() as usize).min(ac.len().saturating_sub(2));
    let mut best: Option<(usize, f64)> = None;
    for l in lo.max(1)..=hi {
        let v = f64::from(ac[l]);
        // Only local maxima are periods.
        if v <= 0.0 || ac[l - 1] > ac[l] || ac[l + 1] > ac[l] {
            continue;
        }
        let s = v * prior(60.0 * FPS / l as f64);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((l, s));
        }
    }
    let (l, _) = best?;
    refine_peak(ac, l as f64, 1.5)
}

/// Sub-frame period: the peaks at 1–4 periods, each weighted by its multiple
/// (the k-th gives the period with k times the precision).
fn refine_period(ac: &[f32], period: f64) -> f64 {
    let Some((first, value)) = refine_peak(ac, period, 1.5) else {
        return period;
    };
    let (mut sum, mut weight) = (first, 1.0);
    for k in [2.0, 3.0, 4.0] {
        if let Some((p, v)) = refine_peak(ac, first * k, 1.5 + 0.1 * k) {
            if v > 0.5 * value {
                // p / k weighted by k.
                sum += p;
                weight += k;
            }
        }
    }
    sum / weight
}

/// Onset strength near frame `t` (max over ±2 frames).
fn strength_near(env: &[f32], t: f64) -> f64 {
    let c = t.round();
    if c < 0.0 {
        return 0.0;
    }
    let c = c as usize;
    let a = c.saturating_sub(2);
    let b = (c + 3).min(env.len());
    if a >= b {
        return 0.0;
    }
    f64::from(env[a..b].iter().cloned().fold(0.0f32, f32::max))
}

/// Ellis's dynamic-programming beat tracker for a fixed period (frames).
pub fn track_beats(env: &[f32], period: f64) -> Vec<f64> {
    let n = env.len();
    if n == 0 || period < 2.0 {
        return Vec::new();
    }
    // Local score: the envelope smoothed over ~1/32 of a period, less its mean.
    let sigma = (period / 32.0).max(1.0);
    let half = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-half..=half)
        .map(|i| (-0.5 * (i as f64 / sigma).powi(2)).exp())
        .collect();
    let ksum: f64 = kernel.iter().sum();
    let mut local: Vec<f64> = (0..n as isize)
        .map(|t| {
            let mut s = 0.0;
            for (j, w) in kernel.iter().enumerate() {
                let k = t + j as isize - half;
                if k >= 0 && (k as usize) < n {
                    s += w * f64::from(env[k as usize]);
                }
            }
            s / ksum
        })
        .collect();
    let rms = (local.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    if rms <= 1e-12 {
        return Vec::new();
    }
    local.iter_mut().for_each(|v| *v /= rms);

    let lo = (period / 2.0).round().max(1.0) as usize;
    let hi = (2.0 * period).round() as usize;
    let penalty: Vec<f64> = (lo..=hi)
        .map(|d| TIGHTNESS * (d as f64 / period).ln().powi(2))
        .collect();
    let mut cum = vec![0.0f64; n];
    let mut back = vec![usize::MAX; n];
    for t in 0..n {
        let mut best = f64::MIN;
        let mut arg = usize::MAX;
        if t >= lo {
            let first = t.saturating_sub(hi);
            for tau in first..=t - lo {
                let s = cum[tau] - penalty[t - tau - lo];
                if s > best {
                    best = s;
                    arg = tau;
                }
            }
        }
        if arg != usize::MAX && best > 0.0 {
            cum[t] = local[t] + best;
            back[t] = arg;
        } else {
            cum[t] = local[t];
        }
    }
    // The last beat: the latest local maximum of the cumulative score that is
    // at least half the median of those maxima.
    let maxima: Vec<usize> = (1..n.saturating_sub(1))
        .filter(|&t| cum[t] > cum[t - 1] && cum[t] >= cum[t + 1])
        .collect();
    if maxima.is_empty() {
        return Vec::new();
    }
    let mut vals: Vec<f64> = maxima.iter().map(|&t| cum[t]).collect();
    vals.sort_by(f64::total_cmp);
    let median = vals[vals.len() / 2];
    let Some(&last) = maxima.iter().rev().find(|&&t| cum[t] >= 0.5 * median) else {
        return Vec::new();
    };
    let mut beats = vec![last];
    let mut t = last;
    while back[t] != usize::MAX {
        t = back[t];
        beats.push(t);
    }
    beats.reverse();
    // Trim weak beats at both ends (fade-ins, fade-outs, silence).
    let thresh = 0.5 * (beats.iter().map(|&b| local[b].powi(2)).sum::<f64>() / beats.len() as f64).sqrt();
    while beats.first().is_some_and(|&b| local[b] < thresh) {
        beats.remove(0);
    }
    while beats.last().is_some_and(|&b| local[b] < thresh) {
        beats.pop();
    }
    beats.into_iter().map(|b| b as f64).collect()
}

/// Tempo, beats and metre of an onset envelope (normalised, see `onsets`).
/// `accents` are extra per-frame series (drum bands) used for the metre.
pub fn estimate(env: &[f32], accents: &[&[f32]]) -> TempoEstimate {
    let max_lag = (MAX_LAG_S * FPS).ceil() as usize;
    let ac = autocorrelation(env, max_lag);
    let Some((period, _)) = dominant_period(&ac) else {
        return TempoEstimate {
            ac,
            ..TempoEstimate::default()
        };
    };
    let plain = choose_level(&ac, period, ac_at);
    let metrical = choose_level(&ac, period, metrical_evidence);
    let octaves = (metrical / plain).log2();
    // The two agree up to octaves: the octave is the plain score's (the
    // labelled set's choice). Otherwise the metrical evidence moved the tempo
    // to a 3:2 relative, whose octave is then chosen as before.
    let chosen = if (octaves - octaves.round()).abs() < 0.05 {
        plain
    } else {
        octave_choice(&ac, metrical)
    };
    let period = refine_period(&ac, chosen);
    let bpm = 60.0 * FPS / period;
    let beats = track_beats(env, period);
    let beats_per_bar = metre(&beats, env, accents);
    let confidence = ac_at(&ac, period).clamp(0.0, 1.0);
    TempoEstimate {
        bpm,
        confidence,
        beats,
        beats_per_bar,
        ac,
    }
}

/// Periodicity of the metrical grid a beat period implies: the
/// autocorrelation at one beat (weight 2), two beats and four beats (a bar of
/// 4/4). A 3:2 relative of the beat (a triplet grid, a dotted beat) can match
/// the beat's own peak but not the bar's. Measured against Essentia on the
/// 120-track corpus: weights 2:1:1, 1:0.5:0.5 and 3:1:1 gave the same
/// choices (Accuracy2 101 → 104 of 120); 1:1:1 and 1:1:0 moved labelled songs.
fn metrical_evidence(ac: &[f32], period: f64) -> f64 {
    (2.0 * ac_at(ac, period) + ac_at(ac, 2.0 * period) + ac_at(ac, 4.0 * period)) / 4.0
}

/// The best of `period`'s octaves (×½, ×1, ×2) by prior × autocorrelation,
/// each refined to its autocorrelation peak.
fn octave_choice(ac: &[f32], period: f64) -> f64 {
    let mut best: Option<(f64, f64)> = None;
    for f in [0.5, 1.0, 2.0] {
        let bpm = 60.0 * FPS / (period * f);
        if !(MIN_BPM..=MAX_BPM).contains(&bpm) {
            continue;
        }
        let Some((p, _)) = refine_peak(ac, period * f, 1.5) else {
            continue;
        };
        let score = prior(60.0 * FPS / p).ln() + ac_at(ac, p).max(1e-3).ln();
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((p, score));
        }
    }
    best.map_or(period, |(p, _)| p)
}

/// Picks the metrical level (see the module doc) among the strongest
/// periodicities and the dominant one's relatives: the largest prior ×
/// `evidence(ac, period)`.
fn choose_level(ac: &[f32], period: f64, evidence: fn(&[f32], f64) -> f64) -> f64 {
    let mut candidates: Vec<f64> = [0.5, 2.0 / 3.0, 1.0, 1.5, 2.0].iter().map(|f| period * f).collect();
    let lo = (60.0 * FPS / MAX_BPM).floor() as usize;
    let hi = ((60.0 * FPS / MIN_BPM).ceil() as usize).min(ac.len().saturating_sub(2));
    let mut peaks: Vec<(usize, f32)> = (lo.max(1)..=hi)
        .filter(|&l| ac[l] > 0.0 && ac[l] >= ac[l - 1] && ac[l] >= ac[l + 1])
        .map(|l| (l, ac[l]))
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    for &(l, _) in peaks.iter().take(CANDIDATE_PEAKS) {
        if let Some((p, _)) = refine_peak(ac, l as f64, 1.5) {
            candidates.push(p);
        }
    }
    let mut best = (period, f64::MIN);
    let mut seen: Vec<f64> = Vec::new();
    for p in candidates {
        let bpm = 60.0 * FPS / p;
        if !(MIN_BPM..=MAX_BPM).contains(&bpm) || seen.iter().any(|&q| (q / p - 1.0).abs() < 0.02) {
            continue;
        }
        seen.push(p);
        let score = prior(bpm).ln() + evidence(ac, p).max(1e-3).ln();
        if score > best.1 {
            best = (p, score);
        }
    }
    best.0
}

/// How many of the strongest autocorrelation peaks are tried as tempo candidates.
const CANDIDATE_PEAKS: usize = 5;

/// 3 or 4 beats per bar, when the beat-synchronous accents repeat with one of those periods.
fn metre(beats: &[f64], env: &[f32], accents: &[&[f32]]) -> Option<u8> {
    if beats.len() < 16 {
        return None;
    }
    let mut series: Vec<Vec<f64>> = Vec::new();
    series.push(beats.iter().map(|&b| strength_near(env, b)).collect());
    for a in accents {
        series.push(beats.iter().map(|&b| strength_near(a, b)).collect());
    }
    let corr_at = |lag: usize| -> f64 {
        let mut total = 0.0;
        let mut n = 0.0;
        for s in &series {
            let m = s.iter().sum::<f64>() / s.len() as f64;
            let var = s.iter().map(|v| (v - m).powi(2)).sum::<f64>() / s.len() as f64;
            if var <= 1e-12 {
                continue;
            }
            let c = s.iter().zip(&s[lag..]).map(|(a, b)| (a - m) * (b - m)).sum::<f64>() / (s.len() - lag) as f64 / var;
            total += c;
            n += 1.0;
        }
        if n > 0.0 {
            total / n
        } else {
            0.0
        }
    };
    let (c2, c3, c4) = (corr_at(2), corr_at(3), corr_at(4));
    if c3 > c4 + 0.1 && c3 > c2 + 0.1 && c3 > 0.2 {
        Some(3)
    } else if c4 > c3 || c2 > c3 {
        Some(4)
    } else {
        None
    }
}

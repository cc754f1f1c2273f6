//! The timbre vector: what the music sounds like, whatever its tempo.
//!
//! Running sums of per-frame MFCCs and spectral shape figures (no frame is
//! kept), summarised as means and spreads, plus the band balance and crest
//! factor. Every component is gain-invariant (c0, the level, is used only for
//! its spread), so the same recording at another volume lands on the same
//! point. Components are centred and scaled by fixed per-component figures
//! measured on music ([`CENTRE`], [`SCALE`]), so that each moves over a
//! comparable range, then the vector is L2-normalised: the index compares
//! with cosine similarity.

use sonica_schema::{Bands, Dynamics, TIMBRE_DIM};

use super::vector::{normalise, NormStats};
use crate::dsp::power_db;

const N_MFCC: usize = 13;
/// Frames this far (dB) below the loudest frame so far are silence and do not count
/// (relative, so the same music at another gain keeps the same frames).
const SILENT_BELOW_MAX_DB: f32 = 60.0;
/// And frames below this are silence whatever the track's level.
const SILENT_DB: f32 = -100.0;
/// Log-mel values are floored this far below the frame's strongest band.
const MEL_RANGE_DB: f32 = 80.0;
const ROLLOFF: f32 = 0.85;
/// Flatness and centroid look at this range, where music has its content.
const SHAPE_HZ: (f64, f64) = (60.0, 10000.0);

pub struct TimbreAccumulator {
    /// DCT-II (orthonormal) rows for c0..c12 over the mel bands.
    dct: Vec<Vec<f32>>,
    bin_hz: Vec<f32>,
    shape_bins: (usize, usize),
    n: f64,
    sum: [f64; N_MFCC],
    sum_sq: [f64; N_MFCC],
    prev: Option<[f32; N_MFCC]>,
    delta_sum: f64,
    /// centroid (log2 Hz), bandwidth (log2 Hz), rolloff (log2 Hz), flatness (log10), peakiness (dB).
    shape_sum: [f64; 5],
    shape_sq: [f64; 5],
    /// Frame levels, dB, for the low-energy ratio (a few kB per minute).
    levels: Vec<f32>,
    max_level: f32,
    /// Per pushed frame, for the sections: the MFCCs c1..c12 (zeros when
    /// silent) and the frame level in dB.
    pub frames: Vec<([f32; N_MFCC - 1], f32)>,
}

impl TimbreAccumulator {
    pub fn new(frame: usize, rate: f64) -> Self {
        let n_mels = super::mel::N_MELS;
        let dct = (0..N_MFCC)
            .map(|k| {
                let norm = if k == 0 {
                    (1.0 / n_mels as f64).sqrt()
                } else {
                    (2.0 / n_mels as f64).sqrt()
                };
                (0..n_mels)
                    .map(|m| (norm * (std::f64::consts::PI * k as f64 * (m as f64 + 0.5) / n_mels as f64).cos()) as f32)
                    .collect()
            })
            .collect();
        let bins = frame / 2 + 1;
        let bin_hz: Vec<f32> = (0..bins).map(|k| (k as f64 * rate / frame as f64) as f32).collect();
        let to_bin = |hz: f64| ((hz * frame as f64 / rate).round() as usize).clamp(1, bins - 1);
        TimbreAccumulator {
            dct,
            bin_hz,
            shape_bins: (to_bin(SHAPE_HZ.0), to_bin(SHAPE_HZ.1)),
            n: 0.0,
            sum: [0.0; N_MFCC],
            sum_sq: [0.0; N_MFCC],
            prev: None,
            delta_sum: 0.0,
            shape_sum: [0.0; 5],
            shape_sq: [0.0; 5],
            levels: Vec::new(),
            max_level: SILENT_DB,
            frames: Vec::new(),
        }
    }

    /// One frame: its power spectrum and log-mel (dB) values.
    pub fn push(&mut self, power: &[f32], logmel: &[f32]) {
        let (lo, hi) = self.shape_bins;
        let band = &power[lo..hi];
        let total: f32 = band.iter().sum();
        let level = 10.0 * (total / 1.5).max(1e-12).log10();
        self.max_level = self.max_level.max(level);
        if level < SILENT_DB.max(self.max_level - SILENT_BELOW_MAX_DB) {
            self.prev = None;
            self.frames.push(([0.0; N_MFCC - 1], level.max(SILENT_DB)));
            return;
        }
        self.levels.push(level);
        let mel_max = logmel.iter().cloned().fold(f32::MIN, f32::max);
        let floor = mel_max - MEL_RANGE_DB;
        let mut c = [0.0f32; N_MFCC];
        for (ck, row) in c.iter_mut().zip(&self.dct) {
            *ck = row.iter().zip(logmel).map(|(a, &b)| a * b.max(floor)).sum();
        }
        for ((s, sq), &ck) in self.sum.iter_mut().zip(self.sum_sq.iter_mut()).zip(&c) {
            *s += f64::from(ck);
            *sq += f64::from(ck) * f64::from(ck);
        }
        if let Some(p) = self.prev {
            let d: f32 = (1..N_MFCC).map(|k| (c[k] - p[k]).abs()).sum::<f32>() / (N_MFCC - 1) as f32;
            self.delta_sum += f64::from(d);
        }
        self.prev = Some(c);
        self.n += 1.0;
        let mut cep = [0.0f32; N_MFCC - 1];
        cep.copy_from_slice(&c[1..]);
        self.frames.push((cep, level));

        let hz = &self.bin_hz[lo..hi];
        let centroid = band.iter().zip(hz).map(|(p, f)| p * f).sum::<f32>() / total;
        let var = band
            .iter()
            .zip(hz)
            .map(|(p, f)| p * (f - centroid).powi(2))
            .sum::<f32>()
            / total;
        let mut acc = 0.0;
        let mut rolloff = hz[hz.len() - 1];
        for (p, f) in band.iter().zip(hz) {
            acc += p;
            if acc >= ROLLOFF * total {
                rolloff = *f;
                break;
            }
        }
        // Flatness in dB: mean of the bins' dB minus the dB of their mean (fast log).
        let mean = total / band.len() as f32;
        let floor_db = power_db(mean) - 80.0;
        let mean_db = band.iter().map(|&p| power_db(p).max(floor_db)).sum::<f32>() / band.len() as f32;
        let flatness = 10f32.powf((mean_db - power_db(mean)) / 10.0).clamp(1e-8, 1.0);
        let mel_mean = logmel.iter().map(|&v| v.max(floor)).sum::<f32>() / logmel.len() as f32;
        let shape = [
            f64::from(centroid.max(20.0)).log2(),
            f64::from(var.sqrt().max(20.0)).log2(),
            f64::from(rolloff.max(20.0)).log2(),
            f64::from(flatness).log10(),
            f64::from(mel_max - mel_mean),
        ];
        for (i, v) in shape.iter().enumerate() {
            self.shape_sum[i] += v;
            self.shape_sq[i] += v * v;
        }
    }

    /// The raw (unscaled) timbre figures, [`TIMBRE_DIM`] long; zeros when every frame was silent.
    pub fn raw(&self, bands: &Bands, dynamics: &Dynamics) -> Vec<f64> {
        let mut v = Vec::with_capacity(TIMBRE_DIM);
        let n = self.n.max(1.0);
        let mean = |s: f64| s / n;
        let std = |s: f64, sq: f64| (sq / n - (s / n).powi(2)).max(0.0).sqrt();
        // 0..12: MFCC 1–12 means; 12..24: their spreads; 24: spread of c0 (level movement).
        for k in 1..N_MFCC {
            v.push(mean(self.sum[k]));
        }
        for k in 1..N_MFCC {
            v.push(std(self.sum[k], self.sum_sq[k]));
        }
        v.push(std(self.sum[0], self.sum_sq[0]));
        // 25..35: centroid, bandwidth, rolloff, flatness, peakiness: mean and spread each.
        for i in 0..5 {
            v.push(mean(self.shape_sum[i]));
            v.push(std(self.shape_sum[i], self.shape_sq[i]));
        }
        // 35: spectral change per frame.
        v.push(self.delta_sum / (n - 1.0).max(1.0));
        // 36..38: balance of low, mid and high energy (log ratios, gain-free).
        let share = |b: &sonica_schema::Band| (b.energy_share + 1e-4).log10();
        v.push(share(&bands.low) - share(&bands.mid));
        v.push(share(&bands.high_mid) - share(&bands.mid));
        // 38: share of frames well below the mean level (quiet passages, sparse textures).
        let mean_level = self.levels.iter().map(|&l| f64::from(l)).sum::<f64>() / self.levels.len().max(1) as f64;
        let quiet = self.levels.iter().filter(|&&l| f64::from(l) < mean_level - 6.0).count() as f64
            / self.levels.len().max(1) as f64;
        v.push(quiet);
        // 39: crest factor.
        v.push(dynamics.crest_factor_db);
        debug_assert_eq!(v.len(), TIMBRE_DIM);
        if self.n == 0.0 {
            return vec![0.0; TIMBRE_DIM];
        }
        v
    }

    /// Scaled and L2-normalised timbre vector.
    pub fn vector(&self, bands: &Bands, dynamics: &Dynamics) -> Vec<f32> {
        normalise(&self.raw(bands, dynamics), &TIMBRE_NORM)
    }
}

/// Per-component centre and scale of the timbre figures (see the module doc).
pub static TIMBRE_NORM: NormStats<TIMBRE_DIM> = NormStats {
    centre: CENTRE,
    scale: SCALE,
};

/// Typical value of each raw component: the median over 240 tracks (120
/// labelled synthetic songs of 6 genres and 120 game-soundtrack tracks).
pub const CENTRE: [f64; TIMBRE_DIM] = [
    76.15, -1.151, 11.71, 1.731, 0.1539, -1.195, 0.1123, -1.384, -0.7094, -0.4424, 0.5418, -0.4845, 21.54, 14.28,
    9.161, 8.439, 7.566, 7.338, 6.715, 6.485, 6.406, 6.096, 6.119, 6.404, 44.9, 9.071, 0.7906, 9.242, 0.687, 9.635,
    0.9522, -2.548, 0.6635, 28.6, 5.615, 4.94, 0.1721, -0.7322, 0.09041, 16.15,
];
/// Typical spread of each raw component: the interquartile range / 1.349
/// (the standard deviation of a normal distribution) over the same tracks.
pub const SCALE: [f64; TIMBRE_DIM] = [
    29.5, 15.82, 8.45, 5.403, 5.156, 4.849, 5.154, 3.004, 2.919, 2.19, 2.605, 2.464, 8.849, 4.842, 2.771, 2.347, 1.645,
    1.825, 1.911, 1.512, 1.581, 1.687, 1.878, 2.083, 15.33, 0.7082, 0.1975, 0.7185, 0.2614, 0.8892, 0.3086, 0.5509,
    0.2422, 4.56, 1.817, 1.309, 0.4649, 0.6047, 0.07161, 2.162,
];

//! The per-frame features at the working rate: one short STFT feeds the onset
//! envelope, the drum bands and the timbre statistics.
//!
//! Frames are [`FRAME`] samples (46 ms) every [`HOP`] (11.6 ms, [`FPS`] per
//! second). Per frame this keeps only a few numbers (the onset envelope, and
//! flux and level of the three drum bands), so even the 20-minute cap of the
//! working stream costs a few megabytes. Log values are floored at
//! [`DB_FLOOR`] so that flux in near-silence is not noise being amplified.
//!
//! On request the snare band is read through a harmonic/percussive
//! separation ([`Hpss`] on the mel bands), which masks out sustained notes
//! before the hits are looked for. It is off by default: measured on the
//! generated songs it cost snare and hi-hat precision (note attacks are
//! percussive too). The kick band is never masked: a kick's thump is
//! itself tonal and rings about as long as the separation's median, so the
//! mask took the kick away with the bass (kicks on hi-hat steps of a loop). The separation's median needs [`HPSS_HALF`] frames of the future,
//! so the drum series trail the others by that much until [`FeatureExtractor::finish`].

use super::mel::{MelBank, N_MELS};
use super::timbre::TimbreAccumulator;
use super::ANALYSIS_RATE;
use crate::dsp::power_db;
use crate::dsp::{Framer, Hpss, PowerSpectrum};

pub const FRAME: usize = 1024;
pub const HOP: usize = 256;
/// Frames per second of every per-frame series.
pub const FPS: f64 = ANALYSIS_RATE as f64 / HOP as f64;
const MEL_FMIN: f64 = 30.0;
const MEL_FMAX: f64 = 11000.0;
/// Flux compares a frame with the one this many hops earlier (23 ms): with
/// 75% overlap, adjacent frames are too alike for a clean rise.
pub const FLUX_LAG: usize = 2;
/// Log power floor, dB re a full-scale sine.
pub const DB_FLOOR: f32 = -80.0;
/// Timbre statistics are taken on every this-many frames (46 ms apart, still
/// over 20 a second: timbre is a whole-range average, and every frame cost a
/// visible share of the analysis time).
pub const TIMBRE_EVERY: usize = 4;

/// Half-width (frames) of the separation's time median: ±93 ms, longer
/// than a drum hit's attack, shorter than a held note.
pub const HPSS_HALF: usize = 8;
/// Half-width (mel bands) of its frequency median.
const HPSS_HALF_BANDS: usize = 3;

/// Bins per group in the drum-band flux (at least; a band narrower than this is one group).
const GROUP_BINS: usize = 8;
/// Drum bands, Hz: kick (the fundamental thump), snare (the crack, above most
/// of the bass and chord fundamentals), hi-hat (above the snare's bulk).
pub const DRUM_BANDS: [(f64, f64); 3] = [(40.0, 150.0), (800.0, 4000.0), (6000.0, 11000.0)];

/// Everything later stages read, one value per frame.
#[derive(Default)]
pub struct FrameSeries {
    /// Spectral flux on the log-mel spectrum, summed over bands.
    pub onset: Vec<f32>,
    /// Mean rise (dB) of the bin groups of each drum band.
    pub drum_flux: [Vec<f32>; 3],
    /// Level of each drum band, dB.
    pub drum_db: [Vec<f32>; 3],
}

pub struct FeatureExtractor {
    framer: Framer,
    spectrum: PowerSpectrum,
    mel: MelBank,
    mel_buf: Vec<f32>,
    /// Last FLUX_LAG + 1 log-mel frames, ring.
    mel_hist: Vec<[f32; N_MELS]>,
    /// Bin ranges of the drum bands.
    /// Per drum band, its groups of bins: (first bin, end bin).
    drum_groups: [Vec<(usize, usize)>; 3],
    /// Last FLUX_LAG + 1 dB levels of all drum-band groups (concatenated), ring.
    group_hist: Vec<Vec<f32>>,
    /// Per drum group, the mel bands whose centres lie in it (the nearest when none).
    group_mels: Vec<Vec<usize>>,
    hpss: Option<Hpss>,
    /// Mean power per group of the frames waiting for their mask.
    waiting: std::collections::VecDeque<Vec<f32>>,
    /// Frames whose drum values are in the series.
    drum_frames: usize,
    frames: usize,
    pub series: FrameSeries,
    pub timbre: TimbreAccumulator,
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureExtractor {
    pub fn new() -> Self {
        Self::with_hpss(false)
    }

    /// `hpss` false reads the drum bands as they are (a diagnostic: the
    /// drum figures before the separation).
    pub fn with_hpss(hpss: bool) -> Self {
        let rate = f64::from(ANALYSIS_RATE);
        let bin = |hz: f64| ((hz * FRAME as f64 / rate).round() as usize).min(FRAME / 2);
        let drum_groups = DRUM_BANDS.map(|(lo, hi)| {
            let (a, b) = (bin(lo), bin(hi).max(bin(lo) + 1));
            let n = ((b - a) / GROUP_BINS).max(1);
            (0..n)
                .map(|g| (a + (b - a) * g / n, a + (b - a) * (g + 1) / n))
                .collect::<Vec<_>>()
        });
        let groups: usize = drum_groups.iter().map(Vec::len).sum();
        let mel = MelBank::new(FRAME, rate, N_MELS, MEL_FMIN, MEL_FMAX);
        let bin_hz = rate / FRAME as f64;
        let group_mels = drum_groups
            .iter()
            .flatten()
            .map(|&(lo, hi)| {
                let (flo, fhi) = (lo as f64 * bin_hz, hi as f64 * bin_hz);
                let inside: Vec<usize> = (0..mel.len())
                    .filter(|&m| (flo..fhi).contains(&mel.centres()[m]))
                    .collect();
                if inside.is_empty() {
                    let mid = 0.5 * (flo + fhi);
                    let nearest = (0..mel.len())
                        .min_by(|&a, &b| {
                            (mel.centres()[a] - mid)
                                .abs()
                                .total_cmp(&(mel.centres()[b] - mid).abs())
                        })
                        .unwrap_or(0);
                    vec![nearest]
                } else {
                    inside
                }
            })
            .collect();
        FeatureExtractor {
            framer: Framer::new(FRAME, HOP),
            spectrum: PowerSpectrum::new(FRAME),
            mel,
            mel_buf: vec![0.0; N_MELS],
            mel_hist: vec![[DB_FLOOR; N_MELS]; FLUX_LAG + 1],
            drum_groups,
            group_hist: vec![vec![DB_FLOOR; groups]; FLUX_LAG + 1],
            group_mels,
            hpss: hpss.then(|| Hpss::new(N_MELS, HPSS_HALF, HPSS_HALF_BANDS)),
            waiting: std::collections::VecDeque::new(),
            drum_frames: 0,
            frames: 0,
            series: FrameSeries::default(),
            timbre: TimbreAccumulator::new(FRAME, rate),
        }
    }

    /// Working-rate mono samples.
    pub fn push(&mut self, samples: &[f32]) {
        let mut framer = std::mem::replace(&mut self.framer, Framer::new(0, 1));
        framer.push(samples, &mut |frame| self.frame(frame));
        self.framer = framer;
    }

    /// Pads out the last partial frame.
    pub fn finish(&mut self) {
        let mut framer = std::mem::replace(&mut self.framer, Framer::new(0, 1));
        framer.finish(HOP, &mut |frame| self.frame(frame));
        self.framer = framer;
        if let Some(mut h) = self.hpss.take() {
            h.finish(&mut |mask| self.drum_frame(mask));
            self.hpss = Some(h);
        }
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    fn frame(&mut self, x: &[f32]) {
        let slot = self.frames % (FLUX_LAG + 1);
        let prev = (self.frames + 1) % (FLUX_LAG + 1); // FLUX_LAG frames ago
        let power = self.spectrum.compute(x);
        self.mel.apply(power, &mut self.mel_buf);
        // Unfloored for timbre (which floors relative to the frame), floored for flux.
        let mut raw_mel = [0.0f32; N_MELS];
        for (l, &m) in raw_mel.iter_mut().zip(&self.mel_buf) {
            *l = power_db(m);
        }
        let logmel = raw_mel.map(|v| v.max(DB_FLOOR));
        let old = &self.mel_hist[prev];
        let flux: f32 = logmel.iter().zip(old).map(|(a, b)| (a - b).max(0.0)).sum();
        // Drum bands in groups of bins: a broadband hit raises every group of
        // the band, a note only the few holding its harmonics, so the mean
        // rise favours drums. Groups (rather than single bins) keep the rise
        // of steady noise small: a bin's level wanders by several dB frame to
        // frame, a sum of eight by about 1.5 dB.
        let groups: Vec<f32> = self
            .drum_groups
            .iter()
            .flatten()
            .map(|&(lo, hi)| power[lo..hi].iter().sum::<f32>() / (hi - lo) as f32)
            .collect();
        self.waiting.push_back(groups);
        self.series.onset.push(if self.frames >= FLUX_LAG { flux } else { 0.0 });
        if self.frames % TIMBRE_EVERY == 0 {
            self.timbre.push(power, &raw_mel);
        }
        match self.hpss.take() {
            Some(mut h) => {
                let mel = self.mel_buf.clone();
                h.push(&mel, &mut |mask| self.drum_frame(mask));
                self.hpss = Some(h);
            }
            None => self.drum_frame(&[]),
        }
        self.mel_hist[slot] = logmel;
        self.frames += 1;
    }

    /// The drum-band values of the oldest waiting frame, its group powers
    /// scaled by the percussive mask of their mel bands (`mask` empty: as they are).
    fn drum_frame(&mut self, mask: &[f32]) {
        let Some(groups) = self.waiting.pop_front() else {
            return;
        };
        let n = self.drum_frames;
        let slot = n % (FLUX_LAG + 1);
        let prev = (n + 1) % (FLUX_LAG + 1);
        let mut i = 0;
        for (b, band) in self.drum_groups.iter().enumerate() {
            let mut rise = 0.0f32;
            let mut sum = 0.0f32;
            for &(lo, hi) in band {
                let keep = if mask.is_empty() || b != 1 {
                    1.0
                } else {
                    let m = &self.group_mels[i];
                    m.iter().map(|&k| mask[k]).sum::<f32>() / m.len() as f32
                };
                let p = groups[i] * keep;
                let db = power_db(p).max(DB_FLOOR);
                rise += (db - self.group_hist[prev][i]).max(0.0);
                self.group_hist[slot][i] = db;
                sum += p * (hi - lo) as f32;
                i += 1;
            }
            self.series.drum_flux[b].push(if n >= FLUX_LAG { rise / band.len() as f32 } else { 0.0 });
            self.series.drum_db[b].push(power_db(sum / 1.5).max(DB_FLOOR));
        }
        self.drum_frames += 1;
    }
}

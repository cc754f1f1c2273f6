//! The key: a pitch-class profile of the whole range, matched against key
//! templates.
//!
//! Chroma comes from spectral peaks of long frames (8192 samples at the
//! working rate, 2.7 Hz resolution, one every 0.19 s): a peak's amplitude is
//! credited to its pitch on a 10-cent grid, so percussion (no stable peaks)
//! adds little and the tuning of the recording can be found afterwards
//! (the circular mean of where the peaks sit between semitones) before the
//! grid is folded to 12 pitch classes. Each frame counts equally, so a loud
//! chorus does not outvote the verses. Bass peaks (below [`BASS_HZ`]) are kept
//! apart: the bass plays roots, which tells a key from its relative
//! major/minor. The 24 keys are scored by correlating both profiles with
//! rotated templates.

use sonica_schema::{Key, KeyEstimate, Mode};

use super::ANALYSIS_RATE;
use crate::dsp::{Framer, PowerSpectrum};

const FRAME: usize = 8192;
const HOP: usize = 4096;
/// Cells per semitone of the fine pitch histogram (10 cents).
const CELLS: usize = 10;
/// Peaks between these frequencies make the chroma.
const CHROMA_HZ: (f64, f64) = (80.0, 2000.0);
/// Peaks between these make the bass chroma.
const BASS_HZ: (f64, f64) = (35.0, 220.0);
/// A peak this far (dB) below the frame's strongest is ignored.
const PEAK_RANGE_DB: f32 = 50.0;
/// Frames whose strongest peak is below this (dB re full scale) are silence.
const SILENT_DB: f32 = -70.0;
/// Weight of the bass profile in the key score.
const BASS_WEIGHT: f64 = 0.5;

/// Temperley's (Kostka–Payne) key profiles, C major and C minor.
const MAJOR: [f64; 12] = [5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0];
const MINOR: [f64; 12] = [5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0];
/// What a bass line dwells on: the tonic most, then the dominant and subdominant, then the other scale degrees.
const BASS_MAJOR: [f64; 12] = [6.0, 0.5, 2.0, 0.5, 2.0, 3.0, 0.5, 4.0, 0.5, 2.0, 0.5, 1.0];
const BASS_MINOR: [f64; 12] = [6.0, 0.5, 2.0, 2.0, 0.5, 3.0, 0.5, 4.0, 2.0, 0.5, 1.5, 1.0];

pub struct ChromaExtractor {
    framer: Framer,
    spectrum: PowerSpectrum,
    /// Fine pitch histograms (12 × CELLS cells, cell 0 = C exactly in tune).
    fine: Vec<f64>,
    fine_bass: Vec<f64>,
    frame_fine: Vec<f64>,
    frame_bass: Vec<f64>,
    frames: usize,
    /// Per frame (every [`HOP`] samples, silent ones included as zeros),
    /// the frame's 12-class chroma, summing to 1: the sections compare these.
    series: Vec<[f32; 12]>,
}

impl Default for ChromaExtractor {
    fn default() -> Self {
        Self::new()
    }
}

/// The folded profiles and the tuning found.
#[derive(Debug, Clone, Default)]
pub struct Chroma {
    pub chroma: [f64; 12],
    pub bass: [f64; 12],
    /// Semitones the recording sits above A440 tuning (−0.5 to 0.5).
    pub tuning: f64,
    pub frames: usize,
    /// Per frame chroma (see the extractor's `series`), frame `k` centred at
    /// [`frame_time`]`(k)`.
    pub series: Vec<[f32; 12]>,
}

/// Centre of chroma frame `k`, seconds from the start of the working stream.
pub fn frame_time(k: usize) -> f64 {
    (k * HOP + FRAME / 2) as f64 / f64::from(ANALYSIS_RATE)
}

impl ChromaExtractor {
    pub fn new() -> Self {
        ChromaExtractor {
            framer: Framer::new(FRAME, HOP),
            spectrum: PowerSpectrum::new(FRAME),
            fine: vec![0.0; 12 * CELLS],
            fine_bass: vec![0.0; 12 * CELLS],
            frame_fine: vec![0.0; 12 * CELLS],
            frame_bass: vec![0.0; 12 * CELLS],
            frames: 0,
            series: Vec::new(),
        }
    }

    /// Working-rate mono samples.
    pub fn push(&mut self, samples: &[f32]) {
        let mut framer = std::mem::replace(&mut self.framer, Framer::new(0, 1));
        framer.push(samples, &mut |frame| self.frame(frame));
        self.framer = framer;
    }

    fn frame(&mut self, x: &[f32]) {
        let rate = f64::from(ANALYSIS_RATE);
        let bin_hz = rate / FRAME as f64;
        let p = self.spectrum.compute(x);
        let lo = (BASS_HZ.0 / bin_hz).floor().max(1.0) as usize;
        let hi = ((CHROMA_HZ.1 / bin_hz).ceil() as usize).min(p.len() - 2);
        let max = p[lo..=hi].iter().cloned().fold(0.0f32, f32::max);
        if max <= 0.0 || 10.0 * max.log10() < SILENT_DB {
            self.series.push([0.0; 12]);
            return;
        }
        let floor = max * 10f32.powf(-PEAK_RANGE_DB / 10.0);
        self.frame_fine.iter_mut().for_each(|v| *v = 0.0);
        self.frame_bass.iter_mut().for_each(|v| *v = 0.0);
        for k in lo..=hi {
            let c = p[k];
            if c < floor || c <= p[k - 1] || c < p[k + 1] {
                continue;
            }
            // Parabolic interpolation on log power.
            let (l, m, r) = (
                f64::from(p[k - 1].max(1e-20)).ln(),
                f64::from(c).ln(),
                f64::from(p[k + 1].max(1e-20)).ln(),
            );
            let d = l - 2.0 * m + r;
            let off = if d < 0.0 {
                (0.5 * (l - r) / d).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let hz = (k as f64 + off) * bin_hz;
            let amp = f64::from(c).sqrt();
            // Semitones above C (MIDI 0 = C-1), on the fine grid.
            let midi = 69.0 + 12.0 * (hz / 440.0).log2();
            let cell = ((midi * CELLS as f64).round() as i64).rem_euclid((12 * CELLS) as i64) as usize;
            if (CHROMA_HZ.0..=CHROMA_HZ.1).contains(&hz) {
                self.frame_fine[cell] += amp;
            }
            if (BASS_HZ.0..=BASS_HZ.1).contains(&hz) {
                self.frame_bass[cell] += amp;
            }
        }
        let mut classes = [0.0f32; 12];
        for (i, v) in self.frame_fine.iter().enumerate() {
            // Cells are 10 cents; a class takes ±50 cents around its pitch.
            classes[((i + CELLS / 2) / CELLS) % 12] += *v as f32;
        }
        let total: f32 = classes.iter().sum();
        if total > 0.0 {
            classes.iter_mut().for_each(|c| *c /= total);
        }
        self.series.push(classes);
        // Every frame counts the same.
        for (acc, frame) in [
            (&mut self.fine, &self.frame_fine),
            (&mut self.fine_bass, &self.frame_bass),
        ] {
            let sum: f64 = frame.iter().sum();
            if sum > 0.0 {
                for (a, v) in acc.iter_mut().zip(frame.iter()) {
                    *a += v / sum;
                }
            }
        }
        self.frames += 1;
    }

    pub fn finish(mut self) -> Chroma {
        let mut framer = std::mem::replace(&mut self.framer, Framer::new(0, 1));
        framer.finish(HOP, &mut |frame| self.frame(frame));
        // Tuning: circular mean of the cell offsets within a semitone.
        let (mut re, mut im) = (0.0, 0.0);
        for (i, v) in self.fine.iter().enumerate() {
            let a = 2.0 * std::f64::consts::PI * (i % CELLS) as f64 / CELLS as f64;
            re += v * a.cos();
            im += v * a.sin();
        }
        let tuning = if re.abs() + im.abs() > 1e-12 {
            im.atan2(re) / (2.0 * std::f64::consts::PI)
        } else {
            0.0
        };
        Chroma {
            chroma: fold(&self.fine, tuning),
            bass: fold(&self.fine_bass, tuning),
            tuning,
            frames: self.frames,
            series: self.series,
        }
    }
}

/// Folds the fine histogram to 12 classes centred on the tuning, with a
/// cos² kernel one semitone wide.
fn fold(fine: &[f64], tuning: f64) -> [f64; 12] {
    let mut out = [0.0; 12];
    for (i, v) in fine.iter().enumerate() {
        let semis = i as f64 / CELLS as f64 - tuning;
        let nearest = semis.round();
        let d = semis - nearest;
        let w = (std::f64::consts::PI * d).cos().powi(2);
        out[(nearest as i64).rem_euclid(12) as usize] += v * w;
    }
    out
}

fn correlation(a: &[f64; 12], b: &[f64; 12], rot: usize) -> f64 {
    let ma = a.iter().sum::<f64>() / 12.0;
    let mb = b.iter().sum::<f64>() / 12.0;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        let x = a[(i + rot) % 12] - ma;
        let y = b[i] - mb;
        num += x * y;
        da += x * x;
        db += y * y;
    }
    if da <= 1e-20 || db <= 1e-20 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

/// The best of the 24 keys for these profiles; strength is the chroma's correlation with that key's template (0–1).
pub fn estimate_key(c: &Chroma) -> KeyEstimate {
    let mut best = (
        Key {
            tonic: 0,
            mode: Mode::Major,
        },
        f64::MIN,
        0.0,
    );
    let has_bass = c.bass.iter().sum::<f64>() > 0.0;
    for tonic in 0..12 {
        for (mode, profile, bass_profile) in [(Mode::Major, &MAJOR, &BASS_MAJOR), (Mode::Minor, &MINOR, &BASS_MINOR)] {
            let r = correlation(&c.chroma, profile, tonic);
            let b = if has_bass {
                correlation(&c.bass, bass_profile, tonic)
            } else {
                0.0
            };
            let score = r + BASS_WEIGHT * b;
            if score > best.1 {
                best = (
                    Key {
                        tonic: tonic as u8,
                        mode,
                    },
                    score,
                    r,
                );
            }
        }
    }
    KeyEstimate {
        key: best.0,
        strength: best.2.clamp(0.0, 1.0),
    }
}

//! The five mastering bands, from full-rate spectra.
//!
//! The working rate (22.05 kHz) ends at 11 kHz, so the bands are measured on
//! the source-rate mono downmix instead: one FFT frame (~0.09 s) every
//! [`FRAME_STEP_S`], enough for stable averages at a few percent of the
//! cost of a dense spectrogram. Energy, centroid and rolloff come from the
//! mean power spectrum; flatness is the mean of per-frame flatness (the
//! flatness of an average spectrum would call any busy mix "noise").

use sonica_schema::{Band, Bands};

use super::loudness::FLOOR_DB;
use crate::dsp::spectrum::bin_hz;
use crate::dsp::{Framer, PowerSpectrum};

/// Band edges, Hz: low, low-mid, mid, high-mid, high.
pub const BAND_EDGES: [(f64, f64); 5] = [
    (20.0, 200.0),
    (200.0, 500.0),
    (500.0, 2000.0),
    (2000.0, 6000.0),
    (6000.0, 20000.0),
];
/// Seconds between analysed frames.
pub const FRAME_STEP_S: f64 = 0.2;
/// Share of a band's energy below its rolloff frequency.
const ROLLOFF: f64 = 0.85;
/// Per-frame band power below this (linear, re full-scale sine) is silence for flatness.
const SILENT_POWER: f64 = 1e-10;
/// A Hann window spreads a sine's power over 1.5 bins (its noise-equivalent
/// bandwidth): dividing bin sums by this makes a full-scale sine read 0 dB.
const HANN_ENBW: f64 = 1.5;

pub struct BandMeter {
    rate: f64,
    framer: Framer,
    spectrum: PowerSpectrum,
    /// Sum over frames of each bin's power.
    sum_power: Vec<f64>,
    /// Bin ranges of the five bands.
    ranges: [(usize, usize); 5],
    flat_sum: [f64; 5],
    flat_n: [u32; 5],
    frames: u32,
}

impl BandMeter {
    pub fn new(rate: u32) -> Self {
        let n = if rate <= 50_000 {
            4096
        } else if rate <= 100_000 {
            8192
        } else {
            16384
        };
        let hop = (f64::from(rate) * FRAME_STEP_S).round() as usize;
        let spectrum = PowerSpectrum::new(n);
        let bins = spectrum.bins();
        let rate_f = f64::from(rate);
        let ranges = BAND_EDGES.map(|(lo, hi)| {
            let a = ((lo * n as f64 / rate_f).ceil() as usize).min(bins);
            let b = ((hi * n as f64 / rate_f).ceil() as usize).min(bins);
            (a.max(1), b.max(a.max(1)))
        });
        BandMeter {
            rate: rate_f,
            framer: Framer::new(n, hop),
            sum_power: vec![0.0; bins],
            spectrum,
            ranges,
            flat_sum: [0.0; 5],
            flat_n: [0; 5],
            frames: 0,
        }
    }

    /// Mono samples at the source rate.
    pub fn push(&mut self, mono: &[f32]) {
        let BandMeter {
            framer,
            spectrum,
            sum_power,
            ranges,
            flat_sum,
            flat_n,
            frames,
            ..
        } = self;
        framer.push(mono, &mut |frame| {
            let p = spectrum.compute(frame);
            for (s, &v) in sum_power.iter_mut().zip(p) {
                *s += f64::from(v);
            }
            for (b, &(lo, hi)) in ranges.iter().enumerate() {
                if let Some(f) = flatness(&p[lo..hi]) {
                    flat_sum[b] += f;
                    flat_n[b] += 1;
                }
            }
            *frames += 1;
        });
    }

    pub fn finish(mut self) -> Bands {
        if self.frames == 0 {
            // Shorter than one frame: analyse what there is, zero-padded.
            let BandMeter {
                framer,
                spectrum,
                sum_power,
                ..
            } = &mut self;
            let mut got = None;
            framer.finish(1, &mut |frame| got = Some(spectrum.compute(frame).to_vec()));
            if let Some(p) = got {
                for (s, v) in sum_power.iter_mut().zip(p) {
                    *s += f64::from(v);
                }
                self.frames = 1;
            }
        }
        let frames = f64::from(self.frames.max(1));
        let n = self.spectrum.size();
        let mean: Vec<f64> = self.sum_power.iter().map(|s| s / frames).collect();
        let energies: Vec<f64> = self
            .ranges
            .iter()
            .map(|&(lo, hi)| mean[lo..hi].iter().sum::<f64>() / HANN_ENBW)
            .collect();
        let total: f64 = energies.iter().sum();
        let band = |b: usize| {
            let (lo, hi) = self.ranges[b];
            let (lo_hz, hi_hz) = BAND_EDGES[b];
            let e = energies[b];
            let slice = &mean[lo..hi];
            let (centroid, rolloff) = if e > 0.0 && hi > lo {
                let w: f64 = slice.iter().sum();
                let c = slice
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| p * bin_hz(lo + i, n, self.rate))
                    .sum::<f64>()
                    / w;
                let mut acc = 0.0;
                let mut r = bin_hz(hi - 1, n, self.rate);
                for (i, &p) in slice.iter().enumerate() {
                    acc += p;
                    if acc >= ROLLOFF * w {
                        r = bin_hz(lo + i, n, self.rate);
                        break;
                    }
                }
                (c, r)
            } else {
                ((lo_hz * hi_hz).sqrt(), lo_hz)
            };
            Band {
                low_hz: lo_hz,
                high_hz: hi_hz,
                energy_db: crate::dsp::db::energy_db(e, FLOOR_DB),
                energy_share: if total > 0.0 { e / total } else { 0.0 },
                centroid_hz: centroid,
                flatness: if self.flat_n[b] > 0 {
                    self.flat_sum[b] / f64::from(self.flat_n[b])
                } else {
                    0.0
                },
                rolloff_hz: rolloff,
            }
        };
        Bands {
            low: band(0),
            low_mid: band(1),
            mid: band(2),
            high_mid: band(3),
            high: band(4),
        }
    }
}

/// Geometric over arithmetic mean of the powers; `None` for a silent or empty band.
fn flatness(p: &[f32]) -> Option<f64> {
    if p.is_empty() {
        return None;
    }
    let n = p.len() as f64;
    let arith = p.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    if arith * n < SILENT_POWER {
        return None;
    }
    // Floor each bin far below the band's mean so one empty bin does not zero the product.
    let floor = arith * 1e-10;
    let log_mean = p.iter().map(|&v| f64::from(v).max(floor).ln()).sum::<f64>() / n;
    Some((log_mean.exp() / arith).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise in [-amp, amp].
    pub fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    fn bands_of(x: &[f32], rate: u32) -> Bands {
        let mut m = BandMeter::new(rate);
        for c in x.chunks(1000) {
            m.push(c);
        }
        m.finish()
    }

    #[test]
    fn white_noise_is_flat_and_fills_the_top() {
        let b = bands_of(&noise(44100 * 5, 0.5, 1), 44100);
        for band in [&b.low, &b.low_mid, &b.mid, &b.high_mid, &b.high] {
            assert!(band.flatness > 0.5, "flatness {} in {}", band.flatness, band.low_hz);
        }
        // White noise: energy in proportion to bandwidth, so the high band dominates.
        assert!(b.high.energy_share > 0.6, "{}", b.high.energy_share);
        let shares = b.low.energy_share + b.low_mid.energy_share + b.mid.energy_share;
        assert!((shares + b.high_mid.energy_share + b.high.energy_share - 1.0).abs() < 1e-6);
        // Centroid and rolloff inside the band.
        assert!(
            b.mid.centroid_hz > 900.0 && b.mid.centroid_hz < 1600.0,
            "{}",
            b.mid.centroid_hz
        );
        assert!(
            b.mid.rolloff_hz > 1500.0 && b.mid.rolloff_hz < 2000.0,
            "{}",
            b.mid.rolloff_hz
        );
    }

    #[test]
    fn low_passed_noise_sits_in_the_low_bands() {
        // Two cascaded one-pole low-passes at ~150 Hz.
        let w = noise(44100 * 5, 0.5, 2);
        let a = (-2.0 * std::f32::consts::PI * 150.0 / 44100.0).exp();
        let (mut y1, mut y2) = (0.0f32, 0.0f32);
        let lp: Vec<f32> = w
            .iter()
            .map(|&x| {
                y1 = a * y1 + (1.0 - a) * x;
                y2 = a * y2 + (1.0 - a) * y1;
                y2 * 4.0
            })
            .collect();
        let b = bands_of(&lp, 44100);
        assert!(b.low.energy_share > 0.7, "{}", b.low.energy_share);
        assert!(b.high.energy_share < 0.01);
        assert!(
            b.low.energy_db > b.mid.energy_db + 10.0,
            "{} vs {}",
            b.low.energy_db,
            b.mid.energy_db
        );
    }

    #[test]
    fn a_sine_is_not_flat_and_reads_its_level() {
        let x: Vec<f32> = (0..44100 * 3)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44100.0).sin()) as f32)
            .collect();
        let b = bands_of(&x, 44100);
        assert!(b.mid.flatness < 0.1);
        assert!((b.mid.centroid_hz - 1000.0).abs() < 20.0);
        assert!((b.mid.energy_db + 6.02).abs() < 0.3, "{}", b.mid.energy_db);
    }

    #[test]
    fn a_low_rate_leaves_the_top_band_empty() {
        let b = bands_of(&noise(8000 * 3, 0.5, 3), 8000);
        assert_eq!(b.high.energy_db, FLOOR_DB);
        assert_eq!(b.high.energy_share, 0.0);
        assert!(b.high_mid.energy_share > 0.0);
    }
}

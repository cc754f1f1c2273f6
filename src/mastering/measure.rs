//! Measures a mix for the mastering assistant: third-octave band levels of
//! the mid and side signals over the loudest passages, per-band crest,
//! short-term dynamics, width and correlation, plus loudness, the DR
//! figure and transients. Streaming: interleaved samples at the source
//! rate go in as they are decoded; per frame only 4 × 31 band sums are
//! kept (about 0.5 KB per 93 ms).
//!
//! Left and right are transformed together as one complex frame
//! (z = L + iR) and untangled, so each hop costs one FFT for both.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use sonica_schema::mastering::{band_edges, BandProfile, MasteringProfile, BANDS, MASTERING_VERSION, THIRD_OCTAVE_HZ};

use crate::analysis::error::AnalysisError;
use crate::analysis::loudness::{LevelFigures, LoudnessMeter};
use crate::dsp::hann;

/// What a band reads when it holds nothing, dB.
pub const FLOOR_DB: f64 = -120.0;
/// Frames quieter than this (mid power over all bands, dB) are silence and
/// count for nothing.
const SILENT_DB: f64 = -70.0;
/// DR blocks, seconds.
const DR_BLOCK_S: f64 = 3.0;
/// The transient envelope's step, seconds.
const ENV_STEP_S: f64 = 0.005;
/// A rise of this much over 10 ms is a transient, dB.
const TRANSIENT_RISE_DB: f64 = 8.0;

/// Band sums of one frame.
#[derive(Clone)]
struct FrameBands {
    mid: [f32; BANDS],
    side: [f32; BANDS],
    ll: [f32; BANDS],
    rr: [f32; BANDS],
    lr: [f32; BANDS],
}

pub struct MasteringMeter {
    rate: u32,
    channels: usize,
    n: usize,
    hop: usize,
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// Scale from summed |X|² to power relative to a full-scale sine.
    scale: f32,
    /// Bin range of each band (empty above Nyquist or below one bin).
    bins: Vec<(usize, usize)>,
    left: Vec<f32>,
    right: Vec<f32>,
    work: Vec<Complex32>,
    scratch: Vec<Complex32>,
    frames: Vec<FrameBands>,
    /// The mid signal's power per bin of the current frame.
    mid_bins: Vec<f32>,
    /// THD (ratio) of each frame that held one steady tone.
    thd: Vec<f64>,
    level: LoudnessMeter,
    samples: u64,
    // DR: per channel, the running block's sum of squares and peak.
    dr_len: usize,
    dr_fill: usize,
    dr_sq: [f64; 2],
    dr_peak: [f32; 2],
    dr_blocks: Vec<([f64; 2], [f32; 2])>,
    // Transients: the 5 ms mono envelope, dB.
    env_len: usize,
    env_fill: usize,
    env_sq: f64,
    env: Vec<f32>,
}

impl MasteringMeter {
    pub fn new(rate: u32, channels: u16) -> Result<Self, AnalysisError> {
        let ch = usize::from(channels.clamp(1, 2));
        // About 186 ms: 5.4 Hz bins at 44.1 kHz, enough for the 20 Hz band.
        let n = ((f64::from(rate) * 0.186) as usize)
            .next_power_of_two()
            .clamp(1024, 65_536);
        let window = hann(n);
        let sum_w2: f32 = window.iter().map(|w| w * w).sum();
        let bins = (0..BANDS)
            .map(|i| {
                let (lo, hi) = band_edges(i);
                let k = |hz: f64| ((hz * n as f64 / f64::from(rate)).round() as usize).min(n / 2 + 1);
                (k(lo).max(1), k(hi))
            })
            .collect();
        Ok(MasteringMeter {
            rate,
            channels: ch,
            n,
            hop: n / 2,
            fft: FftPlanner::new().plan_fft_forward(n),
            window,
            scale: 4.0 / (n as f32 * sum_w2),
            bins,
            left: Vec::with_capacity(2 * n),
            right: Vec::with_capacity(2 * n),
            work: vec![Complex32::new(0.0, 0.0); n],
            scratch: Vec::new(),
            frames: Vec::new(),
            mid_bins: vec![0.0; n / 2],
            thd: Vec::new(),
            level: LoudnessMeter::new(rate, ch as u16)?,
            samples: 0,
            dr_len: (f64::from(rate) * DR_BLOCK_S) as usize,
            dr_fill: 0,
            dr_sq: [0.0; 2],
            dr_peak: [0.0; 2],
            dr_blocks: Vec::new(),
            env_len: ((f64::from(rate) * ENV_STEP_S) as usize).max(1),
            env_fill: 0,
            env_sq: 0.0,
            env: Vec::new(),
        })
    }

    /// Interleaved samples (`channels` of them per frame; a third channel
    /// and beyond are not expected here).
    pub fn push(&mut self, interleaved: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        let usable = interleaved.len() / ch * ch;
        let interleaved = &interleaved[..usable];
        self.level.push(interleaved)?;
        for f in interleaved.chunks_exact(ch) {
            let (l, r) = (f[0], f[ch - 1]);
            self.samples += 1;
            self.left.push(l);
            self.right.push(r);
            // DR blocks.
            for (c, x) in [l, r].into_iter().enumerate() {
                self.dr_sq[c] += f64::from(x) * f64::from(x);
                self.dr_peak[c] = self.dr_peak[c].max(x.abs());
            }
            self.dr_fill += 1;
            if self.dr_fill == self.dr_len {
                self.close_dr_block();
            }
            // The 5 ms envelope of the mono mix.
            let m = f64::from(0.5 * (l + r));
            self.env_sq += m * m;
            self.env_fill += 1;
            if self.env_fill == self.env_len {
                let ms = self.env_sq / self.env_len as f64;
                self.env.push((10.0 * (ms * 2.0).max(1e-12).log10()) as f32);
                self.env_sq = 0.0;
                self.env_fill = 0;
            }
        }
        while self.left.len() >= self.n {
            self.frame();
            self.left.drain(..self.hop);
            self.right.drain(..self.hop);
        }
        Ok(())
    }

    fn close_dr_block(&mut self) {
        if self.dr_fill > 0 {
            let n = self.dr_fill as f64;
            let rms = [(2.0 * self.dr_sq[0] / n).sqrt(), (2.0 * self.dr_sq[1] / n).sqrt()];
            self.dr_blocks.push((rms, self.dr_peak));
        }
        self.dr_fill = 0;
        self.dr_sq = [0.0; 2];
        self.dr_peak = [0.0; 2];
    }

    fn frame(&mut self) {
        let n = self.n;
        for i in 0..n {
            let w = self.window[i];
            self.work[i] = Complex32::new(self.left[i] * w, self.right[i] * w);
        }
        let mut scratch = self.scratch_for(n);
        self.fft.process_with_scratch(&mut self.work, &mut scratch);
        self.scratch = scratch;
        let mut fb = FrameBands {
            mid: [0.0; BANDS],
            side: [0.0; BANDS],
            ll: [0.0; BANDS],
            rr: [0.0; BANDS],
            lr: [0.0; BANDS],
        };
        for (b, &(lo, hi)) in self.bins.iter().enumerate() {
            for k in lo..hi.min(n / 2) {
                let z = self.work[k];
                let zc = self.work[n - k].conj();
                let l = (z + zc) * 0.5;
                let r = (z - zc) * Complex32::new(0.0, -0.5);
                let m = (l + r) * 0.5;
                let s = (l - r) * 0.5;
                self.mid_bins[k] = m.norm_sqr() * self.scale;
                fb.mid[b] += m.norm_sqr();
                fb.side[b] += s.norm_sqr();
                fb.ll[b] += l.norm_sqr();
                fb.rr[b] += r.norm_sqr();
                fb.lr[b] += (l * r.conj()).re;
            }
            for v in [
                &mut fb.mid[b],
                &mut fb.side[b],
                &mut fb.ll[b],
                &mut fb.rr[b],
                &mut fb.lr[b],
            ] {
                *v *= self.scale;
            }
        }
        self.frames.push(fb);
        let bin_hz = f64::from(self.rate) / n as f64;
        if let Some(t) = super::distortion::frame_thd(&self.mid_bins, bin_hz) {
            self.thd.push(t);
        }
    }

    fn scratch_for(&mut self, _n: usize) -> Vec<Complex32> {
        let len = self.fft.get_inplace_scratch_len();
        let mut s = std::mem::take(&mut self.scratch);
        s.resize(len, Complex32::new(0.0, 0.0));
        s
    }

    /// Seconds measured so far.
    pub fn seconds(&self) -> f64 {
        self.samples as f64 / f64::from(self.rate)
    }

    pub fn finish(mut self) -> Result<MasteringProfile, AnalysisError> {
        // A last, zero-padded frame so a clip shorter than a frame counts.
        if !self.left.is_empty() && (self.frames.is_empty() || self.left.len() > self.hop) {
            self.left.resize(self.n, 0.0);
            self.right.resize(self.n, 0.0);
            self.frame();
        }
        self.close_dr_block();
        let seconds = self.seconds();
        let level: LevelFigures = self.level.finish();
        let db = |p: f64| {
            if p > 0.0 {
                (10.0 * p.log10()).max(FLOOR_DB)
            } else {
                FLOOR_DB
            }
        };
        // Passages are chosen by the mid signal alone, so a change of width
        // does not change which passages are measured.
        let energy = |f: &FrameBands| f.mid.iter().map(|&x| f64::from(x)).sum::<f64>();
        let audible: Vec<&FrameBands> = self.frames.iter().filter(|f| db(energy(f)) > SILENT_DB).collect();
        if audible.is_empty() {
            return Err(AnalysisError::Silent {
                peak_dbfs: crate::analysis::loudness::to_db(level.sample_peak),
            });
        }
        // The loudest passages: frames whose mean band level (dB, mid) is at
        // or above the average. A mean of dB moves by the same amount in
        // every frame under any fixed EQ or gain, so an EQ'd copy is
        // measured on the same passages as its original (a power sum would
        // let a bass boost pick the bass-heavy frames).
        let score = |f: &FrameBands| {
            f.mid
                .iter()
                .map(|&x| 10.0 * f64::from(x).max(1e-10).log10())
                .sum::<f64>()
                / BANDS as f64
        };
        let mean = audible.iter().map(|f| score(f)).sum::<f64>() / audible.len() as f64;
        let loud: Vec<&FrameBands> = audible.iter().copied().filter(|f| score(f) >= mean).collect();
        let mut bands = Vec::with_capacity(BANDS);
        for (b, &centre_hz) in THIRD_OCTAVE_HZ.iter().enumerate() {
            let sum = |fs: &[&FrameBands], get: &dyn Fn(&FrameBands) -> f32| {
                fs.iter().map(|f| f64::from(get(f))).sum::<f64>()
            };
            let k = loud.len() as f64;
            let mid = sum(&loud, &|f| f.mid[b]) / k;
            let side = sum(&loud, &|f| f.side[b]) / k;
            let ll = sum(&loud, &|f| f.ll[b]);
            let rr = sum(&loud, &|f| f.rr[b]);
            let lr = sum(&loud, &|f| f.lr[b]);
            let mut series: Vec<f64> = audible
                .iter()
                .map(|f| db(f64::from(f.mid[b]) + f64::from(f.side[b])))
                .collect();
            series.sort_by(f64::total_cmp);
            let pct = |q: f64| series[((series.len() - 1) as f64 * q).round() as usize];
            let all_mean = audible
                .iter()
                .map(|f| f64::from(f.mid[b]) + f64::from(f.side[b]))
                .sum::<f64>()
                / audible.len() as f64;
            let peak = audible
                .iter()
                .map(|f| f64::from(f.mid[b]) + f64::from(f.side[b]))
                .fold(0.0, f64::max);
            bands.push(BandProfile {
                centre_hz,
                mid_db: round2(db(mid)),
                side_db: round2(db(side)),
                crest_db: round2(if all_mean > 0.0 { db(peak) - db(all_mean) } else { 0.0 }),
                dynamics_db: round2(pct(0.95) - pct(0.10)),
                width: round3(if mid > 0.0 { side / mid } else { 0.0 }),
                correlation: round3(if ll > 0.0 && rr > 0.0 {
                    (lr / (ll * rr).sqrt()).clamp(-1.0, 1.0)
                } else {
                    1.0
                }),
            });
        }
        let (mid_all, side_all) = loud.iter().fold((0.0, 0.0), |(m, s), f| {
            (
                m + f.mid.iter().map(|&x| f64::from(x)).sum::<f64>(),
                s + f.side.iter().map(|&x| f64::from(x)).sum::<f64>(),
            )
        });
        let (transients, attack) = transients(&self.env);
        let secs = seconds.max(1e-9);
        Ok(MasteringProfile {
            version: MASTERING_VERSION,
            sample_rate: self.rate,
            channels: self.channels as u16,
            duration_s: round3(seconds),
            lufs: round2(level.loudness.integrated_lufs),
            lra_lu: round2(level.loudness.range_lu),
            true_peak_dbtp: round2(level.loudness.true_peak_dbtp),
            crest_db: round2(level.dynamics.crest_factor_db),
            dr: round2(dr(&self.dr_blocks, self.channels)),
            width: round3(if mid_all > 0.0 { side_all / mid_all } else { 0.0 }),
            loud_share: round3(loud.len() as f64 / audible.len() as f64),
            transients_per_s: round2(transients as f64 / secs),
            attack_db: round2(attack),
            harmonic_distortion_pct: super::distortion::estimate(&mut self.thd).map(round2),
            bands,
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The DR figure: per channel, the second-highest block peak over the RMS
/// of the loudest fifth of the blocks (RMS taken ×√2, as the DR meter
/// does), in dB; the mean over channels.
fn dr(blocks: &[([f64; 2], [f32; 2])], channels: usize) -> f64 {
    if blocks.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for c in 0..channels {
        let mut rms: Vec<f64> = blocks.iter().map(|b| b.0[c]).collect();
        rms.sort_by(|a, b| b.total_cmp(a));
        let top = (rms.len() / 5).max(1);
        let loud = (rms[..top].iter().map(|r| r * r).sum::<f64>() / top as f64).sqrt();
        let mut peaks: Vec<f64> = blocks.iter().map(|b| f64::from(b.1[c])).collect();
        peaks.sort_by(|a, b| b.total_cmp(a));
        let peak = if peaks.len() > 1 { peaks[1] } else { peaks[0] };
        if loud > 0.0 && peak > 0.0 {
            total += 20.0 * (peak / loud).log10();
        }
    }
    (total / channels as f64).max(0.0)
}

/// Transients in the 5 ms envelope (dB): rises of at least
/// [`TRANSIENT_RISE_DB`] over 10 ms, above −50 dB, at least 50 ms apart.
/// Returns their count and the median rise.
fn transients(env: &[f32]) -> (usize, f64) {
    let mut rises = Vec::new();
    let mut last: Option<usize> = None;
    for i in 2..env.len() {
        let rise = f64::from(env[i] - env[i - 2]);
        if rise >= TRANSIENT_RISE_DB && env[i] > -50.0 && last.is_none_or(|l| i - l >= 10) {
            rises.push(rise);
            last = Some(i);
        }
    }
    if rises.is_empty() {
        return (0, 0.0);
    }
    rises.sort_by(f64::total_cmp);
    (rises.len(), rises[rises.len() / 2])
}

/// Measures interleaved audio in one call.
pub fn measure(interleaved: &[f32], rate: u32, channels: u16) -> Result<MasteringProfile, AnalysisError> {
    let mut m = MasteringMeter::new(rate, channels)?;
    m.push(interleaved)?;
    m.finish()
}

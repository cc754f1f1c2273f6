//! Level at the source rate and channel layout: EBU R128 loudness, dynamics
//! and the stereo image.
//!
//! Loudness must be measured on what the listener hears, so this stage sees
//! the original samples (not the mono working-rate copy) and covers the whole
//! range, however long: the ebur128 crate keeps only block energies. Sums of
//! squares and of L·R give RMS, crest factor, width and correlation.
//!
//! Three things keep it cheap (loudness was over half the analysis time):
//! - True peak runs apart, on only the blocks that can raise it ([`true_peak`](super::true_peak)).
//! - K-weighting is our own filter ([`k_weighting`](super::k_weighting)), a
//!   few times faster than the crate's on the same coefficients.
//! - Its energy is summed per 100 ms. Gating blocks (400 ms, every 100 ms)
//!   and short-term windows (3 s, every second) are means of those energies,
//!   exactly as BS.1770 defines them, instead of re-summing 400 ms every
//!   100 ms and 3 s every second. Integrated loudness (BS.1770-4 gating) and
//!   loudness range (EBU Tech 3342) are then computed the way the ebur128
//!   crate computes them; tests hold them to the crate.

use sonica_schema::{Dynamics, Loudness, Stereo};

use super::error::AnalysisError;
use super::k_weighting::KWeighting;
use super::true_peak::TpGate;

/// 100 ms energies per gating block (400 ms), per short-term window (3 s), and per short-term step (1 s).
const SUBBLOCKS_PER_BLOCK: usize = 4;
const SUBBLOCKS_PER_SHORT_TERM: usize = 30;
const SUBBLOCKS_PER_STEP: usize = 10;
/// Absolute gate of BS.1770: blocks quieter than this do not count.
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// What silence reports instead of −∞ (JSON has no infinities).
pub const FLOOR_DB: f64 = -120.0;
pub struct LoudnessMeter {
    kw: KWeighting,
    tp: TpGate,
    channels: usize,
    /// Frames per 100 ms.
    step: u64,
    frames: u64,
    next_reading: u64,
    /// K-weighted energy summed since the last reading.
    pending: f64,
    /// The last 30 100-ms energies (ring) and how many were read.
    subblocks: [f64; SUBBLOCKS_PER_SHORT_TERM],
    readings: usize,
    /// Gating-block energies above the absolute gate (linear).
    blocks: Vec<f64>,
    /// Short-term energies (linear) above the absolute gate, one per second.
    short_term: Vec<f64>,
    sum_sq: f64,
    sum_l2: f64,
    sum_r2: f64,
    sum_lr: f64,
}

/// What [`LoudnessMeter::finish`] measured.
pub struct LevelFigures {
    pub loudness: Loudness,
    pub dynamics: Dynamics,
    pub stereo: Stereo,
    /// Linear sample peak over all channels.
    pub sample_peak: f64,
}

impl LoudnessMeter {
    pub fn new(rate: u32, channels: u16) -> Result<Self, AnalysisError> {
        let step = u64::from(rate / 10).max(1);
        Ok(LoudnessMeter {
            kw: KWeighting::new(rate, usize::from(channels.max(1))),
            tp: TpGate::new(rate, channels)?,
            channels: usize::from(channels.max(1)),
            step,
            frames: 0,
            next_reading: step,
            pending: 0.0,
            subblocks: [0.0; SUBBLOCKS_PER_SHORT_TERM],
            readings: 0,
            blocks: Vec::new(),
            short_term: Vec::new(),
            sum_sq: 0.0,
            sum_l2: 0.0,
            sum_r2: 0.0,
            sum_lr: 0.0,
        })
    }

    /// Interleaved, finite samples.
    pub fn push(&mut self, interleaved: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        let usable = interleaved.len() / ch * ch;
        let mut rest = &interleaved[..usable];
        if ch == 2 {
            let (mut l2, mut r2, mut lr) = (0.0f64, 0.0f64, 0.0f64);
            for f in rest.chunks_exact(2) {
                let (l, r) = (f64::from(f[0]), f64::from(f[1]));
                l2 += l * l;
                r2 += r * r;
                lr += l * r;
            }
            self.sum_l2 += l2;
            self.sum_r2 += r2;
            self.sum_lr += lr;
            self.sum_sq += l2 + r2;
        } else {
            self.sum_sq += rest.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
        }
        self.tp.push(rest)?;
        // Filter up to each 100 ms reading point, read, continue.
        while !rest.is_empty() {
            let frames_left = (rest.len() / ch) as u64;
            let until = (self.next_reading - self.frames).min(frames_left);
            let (now, later) = rest.split_at(until as usize * ch);
            self.pending += self.kw.energy(now);
            self.frames += until;
            rest = later;
            if self.frames == self.next_reading {
                self.read_subblock();
                self.next_reading += self.step;
            }
        }
        Ok(())
    }

    fn read_subblock(&mut self) {
        self.subblocks[self.readings % SUBBLOCKS_PER_SHORT_TERM] = self.pending / self.step as f64;
        self.pending = 0.0;
        self.readings += 1;
        let gate = lufs_to_energy(ABSOLUTE_GATE_LUFS);
        if self.readings >= SUBBLOCKS_PER_BLOCK {
            let e = (0..SUBBLOCKS_PER_BLOCK)
                .map(|k| self.subblocks[(self.readings - 1 - k) % SUBBLOCKS_PER_SHORT_TERM])
                .sum::<f64>()
                / SUBBLOCKS_PER_BLOCK as f64;
            if e >= gate {
                self.blocks.push(e);
            }
        }
        if self.readings >= SUBBLOCKS_PER_SHORT_TERM
            && (self.readings - SUBBLOCKS_PER_SHORT_TERM) % SUBBLOCKS_PER_STEP == 0
        {
            let e = self.subblocks.iter().sum::<f64>() / SUBBLOCKS_PER_SHORT_TERM as f64;
            if e >= gate {
                self.short_term.push(e);
            }
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn finish(self) -> LevelFigures {
        let finite = |x: Result<f64, ebur128::Error>| x.ok().filter(|v| v.is_finite());
        let integrated = integrated_loudness(&self.blocks).max(FLOOR_DB);
        let mut short_term = self.short_term;
        short_term.sort_by(f64::total_cmp);
        let range = loudness_range(&short_term);
        let sp = f64::from(self.tp.sample_peak());
        let mut tp = 0.0f64;
        for c in 0..self.channels as u32 {
            tp = tp.max(finite(self.tp.true_peak(c)).unwrap_or(0.0));
        }
        // The oversampled peak can never be below the sample peak.
        tp = tp.max(sp);
        let n = (self.frames as f64 * self.channels as f64).max(1.0);
        let rms = (self.sum_sq / n).sqrt();
        let rms_db = to_db(rms);
        let sp_db = to_db(sp);
        let dynamics = Dynamics {
            rms_dbfs: rms_db,
            crest_factor_db: if rms > 0.0 { (sp_db - rms_db).max(0.0) } else { 0.0 },
            dynamic_range_db: spread(&short_term),
        };
        let stereo = if self.channels == 2 {
            stereo_image(self.sum_l2, self.sum_r2, self.sum_lr)
        } else {
            Stereo {
                width: 0.0,
                phase_correlation: 1.0,
            }
        };
        LevelFigures {
            loudness: Loudness {
                integrated_lufs: integrated,
                range_lu: range,
                true_peak_dbtp: to_db(tp),
                sample_peak_dbfs: sp_db,
            },
            dynamics,
            stereo,
            sample_peak: sp,
        }
    }
}

/// 20·log10 of a linear amplitude, floored at [`FLOOR_DB`].
pub fn to_db(amplitude: f64) -> f64 {
    crate::dsp::db::amplitude_db(amplitude, FLOOR_DB)
}

fn lufs_to_energy(l: f64) -> f64 {
    10f64.powf((l + 0.691) / 10.0)
}

fn energy_to_lufs(e: f64) -> f64 {
    -0.691 + 10.0 * e.max(1e-30).log10()
}

/// BS.1770-4 integrated loudness of gating-block energies (all above the
/// absolute gate): the mean of those within 10 LU of their mean.
fn integrated_loudness(blocks: &[f64]) -> f64 {
    if blocks.is_empty() {
        return FLOOR_DB;
    }
    let gate = blocks.iter().sum::<f64>() / blocks.len() as f64 * 10f64.powf(-10.0 / 10.0);
    let (n, sum) = blocks
        .iter()
        .filter(|&&e| e >= gate)
        .fold((0usize, 0.0f64), |(n, s), &e| (n + 1, s + e));
    if n == 0 {
        FLOOR_DB
    } else {
        energy_to_lufs(sum / n as f64)
    }
}

/// EBU Tech 3342 loudness range of sorted short-term energies (all above the
/// absolute gate), as the ebur128 crate computes it: relative gate 20 LU below
/// their mean, then the 95th minus the 10th percentile.
fn loudness_range(sorted: &[f64]) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let gate = mean * 10f64.powf(-20.0 / 10.0);
    let gated = sorted.iter().take_while(|&&v| v < gate).count();
    let Some(n) = (sorted.len() - gated).checked_sub(1) else {
        return 0.0;
    };
    let hi = sorted[gated + (n as f64 * 0.95 + 0.5) as usize];
    let lo = sorted[gated + (n as f64 * 0.1 + 0.5) as usize];
    (energy_to_lufs(hi) - energy_to_lufs(lo)).max(0.0)
}

/// 95th minus 10th percentile (dB) of sorted short-term energies, no relative gate.
fn spread(sorted: &[f64]) -> f64 {
    if sorted.len() < 2 {
        return 0.0;
    }
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (energy_to_lufs(pick(0.95)) - energy_to_lufs(pick(0.10))).max(0.0)
}

/// Width from mid/side energies, correlation from the L/R sums.
fn stereo_image(l2: f64, r2: f64, lr: f64) -> Stereo {
    // M = (L+R)/2, S = (L-R)/2: ΣM² = (l2 + r2 + 2lr)/4, ΣS² = (l2 + r2 - 2lr)/4.
    let m2 = (l2 + r2 + 2.0 * lr).max(0.0);
    let s2 = (l2 + r2 - 2.0 * lr).max(0.0);
    let width = if m2 + s2 > 1e-20 { s2 / (m2 + s2) } else { 0.0 };
    let denom = (l2 * r2).sqrt();
    let corr = if denom > 1e-20 {
        (lr / denom).clamp(-1.0, 1.0)
    } else if l2 + r2 > 1e-20 {
        // One channel silent: no linear relation either way.
        0.0
    } else {
        1.0
    };
    Stereo {
        width: width.clamp(0.0, 1.0),
        phase_correlation: corr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    fn sine(rate: u32, hz: f64, amp: f64, secs: f64) -> Vec<f32> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    fn measure(rate: u32, channels: u16, x: &[f32]) -> LevelFigures {
        let mut m = LoudnessMeter::new(rate, channels).unwrap();
        for c in x.chunks(4410 * usize::from(channels)) {
            m.push(c).unwrap();
        }
        m.finish()
    }

    fn stereo_of(l: &[f32], r: &[f32]) -> Vec<f32> {
        l.iter().zip(r).flat_map(|(&a, &b)| [a, b]).collect()
    }

    #[test]
    fn full_scale_997hz_mono_sine_is_minus_3_lufs() {
        // BS.1770: a full-scale sine in one channel reads −3.01 LUFS (ffmpeg's ebur128 agrees).
        let s = sine(48000, 997.0, 1.0, 10.0);
        let f = measure(48000, 1, &s);
        assert!(
            (f.loudness.integrated_lufs + 3.01).abs() < 0.1,
            "{}",
            f.loudness.integrated_lufs
        );
        assert!(f.loudness.true_peak_dbtp.abs() < 0.2, "{}", f.loudness.true_peak_dbtp);
        assert!(f.loudness.range_lu < 0.5);
    }

    #[test]
    fn sine_at_minus_20_dbfs_is_minus_23_lufs() {
        let amp = 10f64.powf(-20.0 / 20.0);
        let s = sine(44100, 1000.0, amp, 10.0);
        let f = measure(44100, 1, &s);
        assert!(
            (f.loudness.integrated_lufs + 23.01).abs() < 0.1,
            "{}",
            f.loudness.integrated_lufs
        );
        assert!(
            (f.loudness.true_peak_dbtp + 20.0).abs() < 0.2,
            "{}",
            f.loudness.true_peak_dbtp
        );
        assert!((f.loudness.sample_peak_dbfs + 20.0).abs() < 0.2);
        // A sine's RMS is 3.01 dB below its peak.
        assert!((f.dynamics.rms_dbfs + 23.01).abs() < 0.05, "{}", f.dynamics.rms_dbfs);
        assert!((f.dynamics.crest_factor_db - 3.01).abs() < 0.1);
        assert!(f.dynamics.dynamic_range_db < 0.5);
    }

    #[test]
    fn stereo_sine_at_minus_23_dbfs_is_minus_23_lufs() {
        // EBU Tech 3341, case 1: both channels at −23 dBFS.
        let s = sine(48000, 1000.0, 10f64.powf(-23.0 / 20.0), 20.0);
        let f = measure(48000, 2, &stereo_of(&s, &s));
        assert!(
            (f.loudness.integrated_lufs + 23.0).abs() < 0.1,
            "{}",
            f.loudness.integrated_lufs
        );
    }

    #[test]
    fn loudness_range_matches_the_crate() {
        // Levels stepping every 2 s over 40 s: a spread the relative gate partly cuts.
        let rate = 48000;
        let mut x = Vec::new();
        for k in 0..20 {
            let amp = 10f64.powf(-(k % 7) as f64 * 4.0 / 20.0) * 0.5;
            x.extend(sine(rate, 440.0 + 20.0 * k as f64, amp, 2.0));
        }
        let mut crate_meter = EbuR128::new(1, rate, Mode::LRA | Mode::I).unwrap();
        crate_meter.add_frames_f32(&x).unwrap();
        let f = measure(rate, 1, &x);
        let want = crate_meter.loudness_range().unwrap();
        assert!(want > 10.0, "{want}");
        assert!(
            (f.loudness.range_lu - want).abs() < 0.05,
            "{} vs {want}",
            f.loudness.range_lu
        );
        let want_i = crate_meter.loudness_global().unwrap();
        assert!(
            (f.loudness.integrated_lufs - want_i).abs() < 1e-6,
            "{} vs {want_i}",
            f.loudness.integrated_lufs
        );
    }

    #[test]
    fn identical_channels_have_no_width() {
        let s = sine(44100, 440.0, 0.5, 4.0);
        let f = measure(44100, 2, &stereo_of(&s, &s));
        assert!(f.stereo.width < 1e-6);
        assert!((f.stereo.phase_correlation - 1.0).abs() < 1e-6);
        let mono = measure(44100, 1, &s);
        assert_eq!(mono.stereo.width, 0.0);
        assert_eq!(mono.stereo.phase_correlation, 1.0);
    }

    #[test]
    fn opposite_channels_correlate_minus_one() {
        let s = sine(44100, 440.0, 0.5, 4.0);
        let neg: Vec<f32> = s.iter().map(|x| -x).collect();
        let f = measure(44100, 2, &stereo_of(&s, &neg));
        assert!((f.stereo.phase_correlation + 1.0).abs() < 1e-6);
        assert!((f.stereo.width - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_quiet_half_widens_the_dynamic_range() {
        let mut s = sine(44100, 1000.0, 0.5, 10.0);
        s.extend(sine(44100, 1000.0, 0.05, 10.0));
        let f = measure(44100, 1, &s);
        assert!(
            (f.dynamics.dynamic_range_db - 20.0).abs() < 1.5,
            "{}",
            f.dynamics.dynamic_range_db
        );
    }

    #[test]
    fn silence_reports_floors_not_infinities() {
        let f = measure(44100, 2, &vec![0.0; 44100 * 2 * 4]);
        assert_eq!(f.loudness.integrated_lufs, FLOOR_DB);
        assert_eq!(f.loudness.true_peak_dbtp, FLOOR_DB);
        assert_eq!(f.stereo.phase_correlation, 1.0);
        assert_eq!(f.dynamics.crest_factor_db, 0.0);
    }
}

//! True peak (4× oversampled, as EBU R128 asks) at a fraction of its cost.
//!
//! The ebur128 crate's interpolator costs dozens of multiply-adds per sample
//! and channel, and was a quarter of the whole analysis. Yet most blocks of
//! music cannot raise the peak found so far: a 4× interpolated sample is a
//! weighted sum of 12 input samples, so it cannot exceed the largest of them
//! times the largest sum of absolute filter weights. [`TpGate`] feeds a
//! peak-only ebur128 meter just the blocks whose bound (their own largest
//! sample and their predecessor's, times that weight sum) exceeds the current
//! peak. Before a fed block that follows a skipped one, the meter is primed
//! with the 12 frames before it (`seed_frames`), which is all the state its
//! filter has, so the result is bit-for-bit what feeding everything gives.

use ebur128::{EbuR128, Mode};

use super::error::AnalysisError;

/// Frames per true-peak gating block.
const TP_BLOCK: usize = 32;
/// Frames of history of ebur128's true-peak interpolator (48 taps / 4 phases).
const TP_HISTORY: usize = 12;

/// Decides which blocks the true-peak meter must see (see the module doc).
pub struct TpGate {
    meter: EbuR128,
    channels: usize,
    /// Largest sum of |weights| over the interpolator's phases, with a margin.
    gain_bound: f32,
    /// Current true peak (linear).
    peak: f32,
    /// Largest |sample| seen, over all channels (the blocks' maxima).
    sample_peak: f32,
    prev_block_max: f32,
    /// The last TP_HISTORY frames of the previous block, and whether that block was skipped.
    tail: Vec<f32>,
    skipped: bool,
}

impl TpGate {
    pub fn new(rate: u32, channels: u16) -> Result<Self, AnalysisError> {
        let meter = EbuR128::new(u32::from(channels), rate, Mode::TRUE_PEAK)
            .map_err(|e| AnalysisError::internal("ebur128", e))?;
        Ok(TpGate {
            meter,
            channels: usize::from(channels),
            gain_bound: interpolator_gain_bound(if rate < 96_000 { 4 } else { 2 }) * 1.001,
            peak: 0.0,
            sample_peak: 0.0,
            prev_block_max: f32::INFINITY,
            tail: Vec::new(),
            skipped: false,
        })
    }

    pub fn push(&mut self, interleaved: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        for block in interleaved.chunks(TP_BLOCK * ch) {
            let m = block.iter().fold(0.0f32, |a, &x| a.max(x.abs()));
            self.sample_peak = self.sample_peak.max(m);
            let bound = m.max(self.prev_block_max) * self.gain_bound;
            self.prev_block_max = m;
            if bound <= self.peak {
                self.skipped = true;
            } else {
                if self.skipped && !self.tail.is_empty() {
                    self.meter
                        .seed_frames_f32(&self.tail)
                        .map_err(|e| AnalysisError::internal("ebur128", e))?;
                }
                self.skipped = false;
                self.meter
                    .add_frames_f32(block)
                    .map_err(|e| AnalysisError::internal("ebur128", e))?;
                for c in 0..ch as u32 {
                    if let Ok(p) = self.meter.true_peak(c) {
                        self.peak = self.peak.max(p as f32);
                    }
                }
            }
            // Keep the last TP_HISTORY frames seen (across short blocks too).
            self.tail.extend_from_slice(block);
            let keep = TP_HISTORY * ch;
            if self.tail.len() > keep {
                self.tail.drain(..self.tail.len() - keep);
            }
        }
        Ok(())
    }

    /// Sample peak over all channels so far (linear): a by-product of the gate.
    pub fn sample_peak(&self) -> f32 {
        self.sample_peak
    }

    /// True peak of one channel so far (linear).
    pub fn true_peak(&self, channel: u32) -> Result<f64, ebur128::Error> {
        self.meter.true_peak(channel)
    }
}

/// The largest sum of absolute weights of any phase of ebur128's true-peak
/// interpolator (48-tap Hann-windowed sinc; its formula, recomputed here).
fn interpolator_gain_bound(factor: usize) -> f32 {
    const TAPS: usize = 48;
    let window = TAPS as f64;
    let mut phase_sums = vec![0.0f64; factor];
    for j in 0..TAPS {
        let jf = j as f64;
        let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * jf / window).cos());
        let m = jf - window / 2.0;
        let x = m * std::f64::consts::PI / factor as f64;
        let c = if m.abs() > 1e-6 { w * x.sin() / x } else { w };
        phase_sums[j % factor] += c.abs();
    }
    phase_sums.iter().cloned().fold(1.0, f64::max) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gated_true_peak_equals_feeding_everything() {
        // Quiet passages, then an inter-sample peak (fs/4 sine at 45°: samples at 0.707 of
        // the crest), then quiet again, then a louder one: every skip and re-seed is exercised.
        let rate = 44100;
        let mut x = Vec::new();
        for (amp, len, phase) in [
            (0.1, 30000, 0.0),
            (0.8, 5000, 0.25),
            (0.05, 60000, 0.0),
            (0.95, 3001, 0.25),
        ] {
            for i in 0..len {
                let a: f64 = std::f64::consts::PI / 2.0 * (i as f64 + phase * 2.0);
                let v = (amp * a.sin()) as f32;
                x.extend([v, -v * 0.5]);
            }
        }
        let mut whole = EbuR128::new(2, rate, Mode::TRUE_PEAK).unwrap();
        whole.add_frames_f32(&x).unwrap();
        let want = whole.true_peak(0).unwrap().max(whole.true_peak(1).unwrap());
        let mut gate = TpGate::new(rate, 2).unwrap();
        for c in x.chunks(2 * 777) {
            gate.push(c).unwrap();
        }
        let got = gate.meter.true_peak(0).unwrap().max(gate.meter.true_peak(1).unwrap());
        assert_eq!(got, want);
        assert!(want > 0.9, "{want}");
    }
}

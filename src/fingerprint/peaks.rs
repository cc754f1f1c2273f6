//! Peak picking: the constellation points.
//!
//! A peak is a spectrogram cell that is the strict maximum of its
//! neighbourhood (±`freq_radius` bins × ±`time_radius` frames), louder than
//! the floor. The frequency-direction maximum is computed per frame with a
//! sliding max; the time direction is checked only for cells that survive
//! it, so picking stays linear. Then only the strongest `per_second` peaks
//! of each one-second block are kept: in noise this keeps the music's loud
//! tonal peaks and drops the noise's many weak ones, and in quiet passages
//! it keeps density up.
//!
//! Frequencies are refined by parabolic interpolation to 1/16 bin, which
//! lets a query be rescaled for speed hypotheses without re-analysis.

use std::collections::VecDeque;

use sonica_schema::Peak;

use super::maxfilter::SlidingMax;
use super::params::{PeakParams, FRAMES_PER_SECOND, MAX_BIN, MIN_BIN};
use crate::dsp::power_db;

/// One frame: linear power per bin, and its frequency-direction maxima.
struct Frame {
    power: Vec<f32>,
    fmax: Vec<f32>,
}

#[derive(Clone, Copy)]
struct Candidate {
    time: u32,
    freq16: u16,
    db: f32,
}

pub struct PeakPicker {
    p: PeakParams,
    /// Frames `base ..` still needed for decisions.
    frames: VecDeque<Frame>,
    base: u32,
    /// Next frame to decide.
    next: u32,
    /// Frames received so far.
    received: u32,
    block_len: u32,
    block: Vec<Candidate>,
    block_index: u32,
    maxer: SlidingMax,
    /// Frames already dropped from the window, reused to avoid allocation.
    spare: Vec<Frame>,
    found: Vec<Candidate>,
}

impl PeakPicker {
    pub fn new(p: PeakParams) -> Self {
        PeakPicker {
            block_len: FRAMES_PER_SECOND.round() as u32,
            p,
            frames: VecDeque::new(),
            base: 0,
            next: 0,
            received: 0,
            block: Vec::new(),
            block_index: 0,
            maxer: SlidingMax::default(),
            spare: Vec::new(),
            found: Vec::new(),
        }
    }

    /// Adds one spectrogram frame (linear power per bin, from bin 0).
    pub fn push_frame(&mut self, power: &[f32], out: &mut Vec<Peak>) {
        let hi = (MAX_BIN + 1).min(power.len());
        let mut frame = self.spare.pop().unwrap_or(Frame {
            power: Vec::new(),
            fmax: Vec::new(),
        });
        frame.power.clear();
        frame.power.extend_from_slice(&power[..hi]);
        self.maxer.run(&frame.power, self.p.freq_radius, &mut frame.fmax);
        self.frames.push_back(frame);
        self.received += 1;
        let r = self.p.time_radius as u32;
        while self.next + r < self.received {
            self.decide(self.next, out);
            self.next += 1;
        }
        self.trim();
    }

    /// Decides the remaining frames and flushes the last block.
    pub fn finish(&mut self, out: &mut Vec<Peak>) {
        while self.next < self.received {
            self.decide(self.next, out);
            self.next += 1;
        }
        self.flush_block(out);
    }

    fn trim(&mut self) {
        let r = self.p.time_radius as u32;
        while self.base + r < self.next {
            let Some(f) = self.frames.pop_front() else {
                break;
            };
            self.spare.push(f);
            self.base += 1;
        }
    }

    fn frame(&self, t: u32) -> Option<&Frame> {
        t.checked_sub(self.base).and_then(|i| self.frames.get(i as usize))
    }

    fn decide(&mut self, t: u32, out: &mut Vec<Peak>) {
        let blk = t / self.block_len;
        if blk != self.block_index {
            self.flush_block(out);
            self.block_index = blk;
        }
        let r = self.p.time_radius as u32;
        let mut found = std::mem::take(&mut self.found);
        let floor = 10f32.powf(self.p.floor_db / 10.0);
        let Some(cur) = self.frame(t) else { return };
        let hi = (MAX_BIN + 1).min(cur.power.len());
        for f in MIN_BIN..hi.saturating_sub(1) {
            let v = cur.power[f];
            if v < floor || v < cur.fmax[f] || cur.power[f - 1] >= v {
                continue;
            }
            let lo_t = t.saturating_sub(r);
            let mut is_peak = true;
            for u in lo_t..=t + r {
                if u == t {
                    continue;
                }
                let Some(other) = self.frame(u) else { continue };
                let m = other.fmax[f];
                // Ties go to the earlier frame.
                if m > v || (u < t && m >= v) {
                    is_peak = false;
                    break;
                }
            }
            if !is_peak {
                continue;
            }
            // Parabolic interpolation works on the log spectrum.
            let (a, v, b) = (power_db(cur.power[f - 1]), power_db(v), power_db(cur.power[f + 1]));
            let denom = a - 2.0 * v + b;
            let delta = if denom < 0.0 {
                (0.5 * (a - b) / denom).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let freq16 = ((f as f32 + delta) * 16.0).round() as u16;
            found.push(Candidate { time: t, freq16, db: v });
        }
        self.block.extend_from_slice(&found);
        found.clear();
        self.found = found;
    }

    fn flush_block(&mut self, out: &mut Vec<Peak>) {
        if self.block.is_empty() {
            return;
        }
        let keep = self.p.per_second.max(1);
        if self.block.len() > keep {
            self.block
                .sort_unstable_by(|a, b| b.db.partial_cmp(&a.db).unwrap_or(std::cmp::Ordering::Equal));
            self.block.truncate(keep);
        }
        self.block.sort_unstable_by_key(|c| (c.time, c.freq16));
        out.extend(self.block.drain(..).map(|c| Peak {
            time: c.time,
            freq16: c.freq16,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{extract_peaks, FingerprintParams};
    use crate::fingerprint::FINGERPRINT_RATE;

    fn tone(freqs: &[f32], secs: f32, amp: f32) -> Vec<f32> {
        let n = (FINGERPRINT_RATE as f32 * secs) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / FINGERPRINT_RATE as f32;
                freqs
                    .iter()
                    .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                    .sum::<f32>()
                    * amp
            })
            .collect()
    }

    #[test]
    fn silence_has_no_peaks() {
        let p = FingerprintParams::index().peaks;
        assert!(extract_peaks(&vec![0.0; 40_000], &p).is_empty());
        // Dither-level noise stays under the floor.
        let dither: Vec<f32> = (0..40_000)
            .map(|i| ((i * 7919 % 65536) as f32 / 65536.0 - 0.5) * 1e-5)
            .collect();
        assert!(extract_peaks(&dither, &p).is_empty());
    }

    #[test]
    fn steady_tone_peaks_sit_on_its_frequency() {
        let p = FingerprintParams::index().peaks;
        // 1 kHz = bin 128 exactly; 1003.9 Hz sits a half bin higher.
        let peaks = extract_peaks(&tone(&[1003.9], 3.0, 0.5), &p);
        assert!(!peaks.is_empty());
        for pk in &peaks {
            assert!((pk.bin() - 128.5).abs() < 0.2, "bin {}", pk.bin());
        }
    }

    #[test]
    fn density_is_capped_per_second() {
        let p = FingerprintParams::index().peaks;
        let noise: Vec<f32> = {
            let mut s = 12345u32;
            (0..80_000)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    (s as f32 / u32::MAX as f32) - 0.5
                })
                .collect()
        };
        let peaks = extract_peaks(&noise, &p);
        let secs = 80_000.0 / FINGERPRINT_RATE as f32;
        assert!(
            peaks.len() as f32 <= p.per_second as f32 * (secs + 1.0),
            "{} peaks",
            peaks.len()
        );
        assert!(peaks.len() > 50);
        assert!(peaks.windows(2).all(|w| w[0].time <= w[1].time));
    }

    #[test]
    fn chunked_input_gives_identical_peaks() {
        let p = FingerprintParams::query().peaks;
        let x = tone(&[300.0, 710.0, 1500.0], 2.0, 0.3);
        let whole = extract_peaks(&x, &p);
        let mut ex = super::super::PeakExtractor::new(&p);
        for c in x.chunks(333) {
            ex.push(c);
        }
        assert_eq!(ex.finish(), whole);
    }
}

//! The BS.1770 K-weighting filter, with the per-channel weights, summing
//! the weighted energy of what it filters.
//!
//! The ebur128 crate runs this filter as a fourth-order direct form whose
//! feedback sum starts with the newest state, so every sample waits for a
//! multiply and four dependent subtractions (≈ 20 cycles), channel after
//! channel; it was an eighth of a whole reindex. Here the feedback term of
//! the newest state comes last (one fused multiply-add on the dependency
//! chain) and all channels of a frame are filtered in one pass, so the
//! channels' chains overlap. Same coefficients (BS.1770's pre-filter shelf
//! and RLB high-pass, derived for any rate as libebur128 does), same channel
//! weights; energies agree with the crate to rounding (the tests hold them
//! to it).

/// Frames per inner run; the states are flushed of tiny values between runs
/// so long silences never reach subnormal floats (which are ~100× slower).
const RUN: usize = 4096;
/// States below this are set to zero between runs (their energy is < 1e-400).
const FLUSH_BELOW: f64 = 1e-200;

/// One K-weighting filter per channel, and each channel's BS.1770 weight.
pub struct KWeighting {
    b: [f64; 5],
    a: [f64; 5],
    /// Per channel: the four delayed states w[n-1..n-4].
    state: Vec<[f64; 4]>,
    weight: Vec<f64>,
}

impl KWeighting {
    pub fn new(rate: u32, channels: usize) -> Self {
        let (b, a) = coefficients(f64::from(rate));
        KWeighting {
            b,
            a,
            state: vec![[0.0; 4]; channels.max(1)],
            weight: channel_weights(channels.max(1)),
        }
    }

    /// Filters whole interleaved frames and returns Σ over channels of
    /// weight × Σ y² (not yet divided by the frame count).
    pub fn energy(&mut self, interleaved: &[f32]) -> f64 {
        let ch = self.state.len();
        let mut total = 0.0;
        for run in interleaved.chunks(RUN * ch) {
            total += match ch {
                1 => self.run::<1>(run),
                2 => self.run::<2>(run),
                _ => self.run_any(run),
            };
            for s in self.state.iter_mut().flatten() {
                if s.abs() < FLUSH_BELOW {
                    *s = 0.0;
                }
            }
        }
        total
    }

    /// Mono and stereo, with the channel count known to the compiler.
    fn run<const C: usize>(&mut self, run: &[f32]) -> f64 {
        let (b, a) = (self.b, self.a);
        let mut st: [[f64; 4]; C] = std::array::from_fn(|c| self.state[c]);
        let mut sums = [0.0f64; C];
        for frame in run.chunks_exact(C) {
            for c in 0..C {
                let y = step(&b, &a, &mut st[c], frame[c]);
                sums[c] += y * y;
            }
        }
        self.state[..C].copy_from_slice(&st);
        sums.iter().zip(&self.weight).map(|(s, w)| s * w).sum()
    }

    /// Any channel count (surround files), channel by channel.
    fn run_any(&mut self, run: &[f32]) -> f64 {
        let (b, a) = (self.b, self.a);
        let ch = self.state.len();
        let mut total = 0.0;
        for (c, st) in self.state.iter_mut().enumerate() {
            if self.weight[c] == 0.0 {
                continue;
            }
            let mut sum = 0.0;
            for &x in run.iter().skip(c).step_by(ch) {
                let y = step(&b, &a, st, x);
                sum += y * y;
            }
            total += sum * self.weight[c];
        }
        total
    }
}

/// One sample through the fourth-order direct form: the feedback term of
/// the newest state is subtracted last, so only that multiply-add sits on
/// the sample-to-sample dependency chain.
#[inline(always)]
fn step(b: &[f64; 5], a: &[f64; 5], st: &mut [f64; 4], x: f32) -> f64 {
    let [w1, w2, w3, w4] = *st;
    let w0 = (f64::from(x) - a[4] * w4 - a[3] * w3 - a[2] * w2) - a[1] * w1;
    *st = [w0, w1, w2, w3];
    b[0] * w0 + b[1] * w1 + b[2] * w2 + b[3] * w3 + b[4] * w4
}

/// BS.1770 weights of the default channel order (L, R, C, LFE, Ls, Rs; four
/// channels are L, R, Ls, Rs; five L, R, C, Ls, Rs): 1 for front channels,
/// 1.41 for surrounds, 0 for the LFE and anything past the sixth channel.
fn channel_weights(channels: usize) -> Vec<f64> {
    const SURROUND: f64 = 1.41;
    match channels {
        4 => vec![1.0, 1.0, SURROUND, SURROUND],
        5 => vec![1.0, 1.0, 1.0, SURROUND, SURROUND],
        n => {
            let order = [1.0, 1.0, 1.0, 0.0, SURROUND, SURROUND];
            (0..n).map(|c| order.get(c).copied().unwrap_or(0.0)).collect()
        }
    }
}

/// The cascade of BS.1770's high-shelf pre-filter and RLB high-pass as one
/// fourth-order filter (numerator, denominator with a[0] = 1), re-derived
/// from the analogue prototypes for `rate`.
#[allow(non_snake_case)]
fn coefficients(rate: f64) -> ([f64; 5], [f64; 5]) {
    use std::f64::consts::PI;
    // Shelf: centre 1681.97 Hz, +4 dB, Q 0.7072.
    let (f0, gain_db, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let K = (PI * f0 / rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + K / q + K * K;
    let shelf_b = [
        (vh + vb * K / q + K * K) / a0,
        2.0 * (K * K - vh) / a0,
        (vh - vb * K / q + K * K) / a0,
    ];
    let shelf_a = [1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / q + K * K) / a0];
    // High-pass: 38.14 Hz, Q 0.5003.
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let K = (PI * f0 / rate).tan();
    let d = 1.0 + K / q + K * K;
    let hp_b = [1.0, -2.0, 1.0];
    let hp_a = [1.0, 2.0 * (K * K - 1.0) / d, (1.0 - K / q + K * K) / d];
    (convolve(shelf_b, hp_b), convolve(shelf_a, hp_a))
}

/// Product of two second-order polynomials (coefficients of z⁰..z⁻²).
fn convolve(p: [f64; 3], r: [f64; 3]) -> [f64; 5] {
    let mut out = [0.0; 5];
    for (i, pi) in p.iter().enumerate() {
        for (j, rj) in r.iter().enumerate() {
            out[i + j] += pi * rj;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    /// Noise-like test signal with a level that changes, per channel.
    fn signal(frames: usize, channels: usize) -> Vec<f32> {
        let mut seed = 0x2545_f491u32;
        (0..frames * channels)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let noise = (seed as f32 / u32::MAX as f32) * 2.0 - 1.0;
                let frame = i / channels;
                let env = if (frame / 9000) % 2 == 0 { 0.5 } else { 0.02 };
                noise * env * (1.0 + (i % channels) as f32 * 0.3)
            })
            .collect()
    }

    /// The crate's 400 ms momentary energy, against ours over the same last 400 ms.
    fn agree(rate: u32, channels: usize) {
        let frames = rate as usize * 3;
        let x = signal(frames, channels);
        let mut ebu = EbuR128::new(channels as u32, rate, Mode::M).unwrap();
        ebu.add_frames_f32(&x).unwrap();
        let want = ebu.loudness_momentary().unwrap();
        let mut kw = KWeighting::new(rate, channels);
        let window = rate as usize * 400 / 1000;
        let head = kw.energy(&x[..(frames - window) * channels]);
        assert!(head > 0.0);
        let e = kw.energy(&x[(frames - window) * channels..]) / window as f64;
        let got = -0.691 + 10.0 * e.log10();
        assert!((got - want).abs() < 1e-9, "{channels} ch @ {rate}: {got} vs {want}");
    }

    #[test]
    fn energies_match_the_crate() {
        for (rate, ch) in [
            (44100, 1),
            (44100, 2),
            (48000, 2),
            (22050, 1),
            (48000, 6),
            (96000, 5),
            (32000, 4),
        ] {
            agree(rate, ch);
        }
    }

    #[test]
    fn a_long_silence_decays_to_exact_zero() {
        let mut kw = KWeighting::new(44100, 2);
        kw.energy(&signal(4410, 2));
        let silent = vec![0.0f32; 44100 * 2 * 20];
        kw.energy(&silent);
        assert!(kw.state.iter().flatten().all(|&s| s == 0.0));
        assert_eq!(kw.energy(&silent[..8820]), 0.0);
    }

    #[test]
    fn the_lfe_does_not_count() {
        let mut x = vec![0.0f32; 48000 * 6];
        for (i, f) in x.chunks_exact_mut(6).enumerate() {
            f[3] = if i % 2 == 0 { 0.9 } else { -0.9 };
        }
        assert_eq!(KWeighting::new(48000, 6).energy(&x), 0.0);
    }
}

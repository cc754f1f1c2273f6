//! Short-time log-power spectrum with rustfft, as a streaming stage.
//!
//! Frames are Hann-windowed, `FFT_SIZE` long, `HOP` apart, and reported as
//! power relative to a full-scale sine (1.0 = 0 dB), so a fixed floor means
//! the same thing for every file. Power stays linear: maxima are the same
//! in dB or linear terms, and the picker converts only the few cells it
//! keeps, which saved a logarithm per cell. Only bins up to `MAX_BIN + 1`
//! are computed: the picker never looks higher.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::params::{FFT_SIZE, HOP, MAX_BIN};

/// Number of dB values per emitted frame (bins 0..=MAX_BIN+1).
pub const FRAME_BINS: usize = MAX_BIN + 2;

pub struct Spectrogram {
    /// Half-length complex FFT: a real frame of N samples is transformed as
    /// N/2 complex ones and untangled, about twice as fast as a full FFT.
    fft: Arc<dyn Fft<f32>>,
    twiddles: Vec<Complex32>,
    window: Vec<f32>,
    buf: Vec<f32>,
    scratch: Vec<Complex32>,
    work: Vec<Complex32>,
    frame: Vec<f32>,
    /// 1 / (power of a full-scale sine's bin).
    inv_ref: f32,
    /// Samples at the front of `buf` already fully used.
    consumed: usize,
}

impl Default for Spectrogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Spectrogram {
    pub fn new() -> Self {
        let half = FFT_SIZE / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(half);
        let twiddles = (0..half)
            .map(|k| {
                let a = -2.0 * std::f32::consts::PI * k as f32 / FFT_SIZE as f32;
                Complex32::new(a.cos(), a.sin())
            })
            .collect();
        let window: Vec<f32> = (0..FFT_SIZE)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / FFT_SIZE as f32).cos())
            .collect();
        // A full-scale sine through a Hann window peaks at |X| = N/4.
        let ref_power = (FFT_SIZE as f32 / 4.0).powi(2);
        Spectrogram {
            scratch: vec![Complex32::default(); fft.get_inplace_scratch_len()],
            fft,
            twiddles,
            window,
            buf: Vec::with_capacity(FFT_SIZE * 4),
            work: vec![Complex32::default(); FFT_SIZE / 2],
            frame: vec![0.0; FRAME_BINS],
            inv_ref: 1.0 / ref_power,
            consumed: 0,
        }
    }

    /// Feeds samples; calls `on_frame(db)` for each completed frame.
    pub fn push(&mut self, samples: &[f32], on_frame: &mut dyn FnMut(&[f32])) {
        self.buf.extend_from_slice(samples);
        let mut start = self.consumed;
        while self.buf.len() - start >= FFT_SIZE {
            self.compute(start);
            on_frame(&self.frame);
            start += HOP;
        }
        // Drop consumed samples only occasionally: draining per packet was
        // a visible memmove cost.
        self.consumed = start;
        if self.consumed >= 8 * FFT_SIZE {
            self.buf.drain(..self.consumed);
            self.consumed = 0;
        }
    }

    fn compute(&mut self, start: usize) {
        let x = &self.buf[start..start + FFT_SIZE];
        let w = &self.window;
        for (k, c) in self.work.iter_mut().enumerate() {
            *c = Complex32::new(x[2 * k] * w[2 * k], x[2 * k + 1] * w[2 * k + 1]);
        }
        self.fft.process_with_scratch(&mut self.work, &mut self.scratch);
        // Untangle: with Z the FFT of the packed even/odd samples,
        // X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[M-k]) / 2,
        // O = -i (Z[k] - conj Z[M-k]) / 2.
        let m = FFT_SIZE / 2;
        let z = &self.work;
        for (k, o) in self.frame.iter_mut().enumerate() {
            let a = z[k % m];
            let b = z[(m - k % m) % m].conj();
            let e = (a + b) * 0.5;
            let d = (a - b) * 0.5;
            let od = Complex32::new(d.im, -d.re);
            let xk = e + self.twiddles[k % m] * od;
            *o = xk.norm_sqr() * self.inv_ref;
        }
    }
}

/// 10·log10(p), via the exponent bits and a polynomial for the mantissa's log (error well under 0.01 dB); the exact log
/// was a visible share of ingest time.
#[inline]
pub fn power_db(p: f32) -> f32 {
    let p = p.max(1e-12);
    let bits = p.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Polynomial for ln(m), m in [1, 2).
    let ln_m = -1.741_793_9 + (2.821_202_6 + (-1.469_956_8 + (0.447_179_55 - 0.056_570_85 * m) * m) * m) * m;
    3.010_3 * exp as f32 + 4.342_944_8 * ln_m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::ANALYSIS_RATE;

    #[test]
    fn fast_db_is_accurate() {
        for p in [1e-9f32, 0.001, 0.5, 1.0, 3.0, 12345.0, 6.5e4] {
            assert!((power_db(p) - 10.0 * p.log10()).abs() < 0.01, "{p}");
        }
    }

    #[test]
    fn full_scale_sine_peaks_near_0_db_in_the_right_bin() {
        let f = 1000.0f32;
        let x: Vec<f32> = (0..8000)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / ANALYSIS_RATE as f32).sin())
            .collect();
        let mut s = Spectrogram::new();
        let mut frames = Vec::new();
        s.push(&x, &mut |fr| frames.push(fr.to_vec()));
        assert_eq!(frames.len(), (8000 - FFT_SIZE) / HOP + 1);
        let fr = &frames[10];
        let (bin, &p) = fr
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
            .unwrap();
        assert_eq!(bin, 128, "1 kHz is bin 128 at 8 kHz / 1024");
        assert!(power_db(p).abs() < 0.5, "{}", power_db(p));
        assert!(power_db(fr[300]) < -60.0);
    }

    #[test]
    fn packed_real_fft_matches_a_full_complex_fft() {
        let x: Vec<f32> = (0..FFT_SIZE)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0) - 0.5)
            .collect();
        let mut s = Spectrogram::new();
        let mut got = Vec::new();
        s.push(&x, &mut |f| got = f.to_vec());
        let fft = FftPlanner::<f32>::new().plan_fft_forward(FFT_SIZE);
        let mut full: Vec<Complex32> = x
            .iter()
            .zip(&s.window)
            .map(|(v, w)| Complex32::new(v * w, 0.0))
            .collect();
        fft.process(&mut full);
        for (k, g) in got.iter().enumerate() {
            let want = power_db(full[k].norm_sqr() * s.inv_ref);
            let g = power_db(*g);
            assert!((g - want).abs() < 0.05 || want < -90.0, "bin {k}: {g} vs {want}");
        }
    }

    #[test]
    fn chunking_does_not_change_frames() {
        let x: Vec<f32> = (0..5000).map(|i| ((i * i) % 97) as f32 / 97.0 - 0.5).collect();
        let mut a = Vec::new();
        Spectrogram::new().push(&x, &mut |f| a.push(f.to_vec()));
        let mut b = Vec::new();
        let mut s = Spectrogram::new();
        for c in x.chunks(77) {
            s.push(c, &mut |f| b.push(f.to_vec()));
        }
        assert_eq!(a, b);
    }
}

//! The power spectrum of one real frame.
//!
//! A real frame of `n` samples is transformed as `n/2` complex ones (even
//! samples as real parts, odd as imaginary) and untangled, about twice as
//! fast as a full complex FFT. Power is relative to a full-scale sine
//! (1.0 = 0 dB), so a fixed floor means the same thing for every file and
//! every frame size. A consumer that never looks above some bin asks for
//! only that many ([`PowerSpectrum::low_bins`]): the fingerprint reads the
//! bottom 0–3.6 kHz and skips the rest of the untangling.
//!
//! Twiddles and the window are single precision, as the fingerprint always
//! computed them: the stored peaks depend on them to the last bit.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::window::hann;

/// Power spectrum of Hann-windowed real frames of one fixed size.
pub struct PowerSpectrum {
    n: usize,
    fft: Arc<dyn Fft<f32>>,
    twiddles: Vec<Complex32>,
    window: Vec<f32>,
    work: Vec<Complex32>,
    scratch: Vec<Complex32>,
    power: Vec<f32>,
    inv_ref: f32,
}

impl PowerSpectrum {
    /// All `n/2 + 1` bins of frames of `n` samples (`n` even; every caller
    /// uses a power of two).
    pub fn new(n: usize) -> Self {
        let n = n.max(4) & !1;
        Self::low_bins(n, n / 2 + 1)
    }

    /// Only bins `0..bins` of frames of `n` samples.
    pub fn low_bins(n: usize, bins: usize) -> Self {
        let n = n.max(4) & !1;
        let half = n / 2;
        let bins = bins.clamp(1, half + 1);
        let fft = FftPlanner::<f32>::new().plan_fft_forward(half);
        let twiddles = (0..half)
            .map(|k| {
                let a = -2.0 * std::f32::consts::PI * k as f32 / n as f32;
                Complex32::new(a.cos(), a.sin())
            })
            .collect();
        // A full-scale sine through a Hann window peaks at |X| = N/4.
        let ref_power = (n as f32 / 4.0).powi(2);
        PowerSpectrum {
            n,
            scratch: vec![Complex32::default(); fft.get_inplace_scratch_len()],
            fft,
            twiddles,
            window: hann(n),
            work: vec![Complex32::default(); half],
            power: vec![0.0; bins],
            inv_ref: 1.0 / ref_power,
        }
    }

    /// The frame size.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Number of power values each frame yields.
    pub fn bins(&self) -> usize {
        self.power.len()
    }

    /// The window applied to each frame.
    pub fn window(&self) -> &[f32] {
        &self.window
    }

    /// Windowed power spectrum of `x` (exactly `n` samples).
    pub fn compute(&mut self, x: &[f32]) -> &[f32] {
        debug_assert_eq!(x.len(), self.n);
        for ((c, xs), ws) in self
            .work
            .iter_mut()
            .zip(x.chunks_exact(2))
            .zip(self.window.chunks_exact(2))
        {
            *c = Complex32::new(xs[0] * ws[0], xs[1] * ws[1]);
        }
        self.fft.process_with_scratch(&mut self.work, &mut self.scratch);
        // Untangle: with Z the FFT of the packed even/odd samples,
        // X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[M-k]) / 2, O = -i (Z[k] - conj Z[M-k]) / 2.
        let m = self.n / 2;
        let z = &self.work;
        let inv_ref = self.inv_ref;
        // k = 0 and k = m (Nyquist) from Z[0]: X[0] = re + im, X[m] = re - im.
        self.power[0] = (z[0].re + z[0].im).powi(2) * inv_ref;
        let inner = (self.power.len() - 1).min(m - 1);
        let pairs = z[1..].iter().zip(z[1..].iter().rev());
        for (((a, b), t), o) in pairs.zip(&self.twiddles[1..]).zip(&mut self.power[1..1 + inner]) {
            let b = b.conj();
            let e = (a + b) * 0.5;
            let d = (a - b) * 0.5;
            let od = Complex32::new(d.im, -d.re);
            *o = (e + t * od).norm_sqr() * inv_ref;
        }
        if self.power.len() > m {
            self.power[m] = (z[0].re - z[0].im).powi(2) * inv_ref;
        }
        &self.power
    }
}

/// Hz of FFT bin `k` for a frame of `n` samples at `rate`.
pub fn bin_hz(k: usize, n: usize, rate: f64) -> f64 {
    k as f64 * rate / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_is_zero_db_at_its_bin() {
        let n = 1024;
        let mut ps = PowerSpectrum::new(n);
        // Bin-centred sine: bin 64.
        let x: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * 64.0 * i as f64 / n as f64).sin() as f32)
            .collect();
        let p = ps.compute(&x);
        let peak = p
            .iter()
            .cloned()
            .enumerate()
            .fold((0, 0.0f32), |a, b| if b.1 > a.1 { b } else { a });
        assert_eq!(peak.0, 64);
        assert!((peak.1 - 1.0).abs() < 0.01, "peak power {}", peak.1);
    }

    #[test]
    fn matches_a_direct_dft() {
        let n = 64;
        let mut ps = PowerSpectrum::new(n);
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.4).collect();
        let p = ps.compute(&x).to_vec();
        assert_eq!(p.len(), n / 2 + 1);
        let w = hann(n);
        for (k, &got) in p.iter().enumerate() {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (i, (&v, &wi)) in x.iter().zip(&w).enumerate() {
                let a = -2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
                re += f64::from(v * wi) * a.cos();
                im += f64::from(v * wi) * a.sin();
            }
            let want = (re * re + im * im) / (n as f64 / 4.0).powi(2);
            assert!(
                (f64::from(got) - want).abs() < 1e-4 * (1.0 + want),
                "bin {k}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn low_bins_are_the_same_values() {
        let n = 256;
        let x: Vec<f32> = (0..n).map(|i| ((i * i) % 97) as f32 / 97.0 - 0.5).collect();
        let all = PowerSpectrum::new(n).compute(&x).to_vec();
        let mut low = PowerSpectrum::low_bins(n, 40);
        assert_eq!(low.bins(), 40);
        assert_eq!(low.compute(&x), &all[..40]);
    }
}

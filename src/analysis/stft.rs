//! Framing, windowing and the power spectrum, shared by every spectral stage.
//!
//! [`PowerSpectrum`] turns one real frame into `n/2 + 1` power values with a
//! half-length complex FFT (the packed even/odd trick of the fingerprint's
//! spectrogram, about twice as fast as a full complex FFT), reusing its
//! buffers. Power is relative to a full-scale sine (1.0 = 0 dB), so fixed
//! floors mean the same thing for every file. [`Framer`] cuts a stream into
//! frames `hop` apart without keeping more than a few frames of samples.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

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
    /// `n` must be even (all callers use powers of two).
    pub fn new(n: usize) -> Self {
        let n = n.max(4) & !1;
        let half = n / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(half);
        let twiddles = (0..half)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex32::new(a.cos() as f32, a.sin() as f32)
            })
            .collect();
        let window = hann(n);
        // A full-scale sine through a Hann window peaks at |X| = N/4.
        let ref_power = (n as f32 / 4.0).powi(2);
        PowerSpectrum {
            n,
            scratch: vec![Complex32::default(); fft.get_inplace_scratch_len()],
            fft,
            twiddles,
            window,
            work: vec![Complex32::default(); half],
            power: vec![0.0; half + 1],
            inv_ref: 1.0 / ref_power,
        }
    }

    pub fn size(&self) -> usize {
        self.n
    }

    /// Number of power bins: `n/2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
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
        // k = 0 and k = m (Nyquist) from Z[0]: X[0] = re + im, X[m] = re - im.
        self.power[0] = (z[0].re + z[0].im).powi(2) * self.inv_ref;
        self.power[m] = (z[0].re - z[0].im).powi(2) * self.inv_ref;
        let inv_ref = self.inv_ref;
        let pairs = z[1..].iter().zip(z[1..].iter().rev());
        for (((a, b), t), o) in pairs.zip(&self.twiddles[1..]).zip(&mut self.power[1..m]) {
            let b = b.conj();
            let e = (a + b) * 0.5;
            let d = (a - b) * 0.5;
            let od = Complex32::new(d.im, -d.re);
            *o = (e + t * od).norm_sqr() * inv_ref;
        }
        &self.power
    }
}

/// Periodic Hann window.
pub fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

/// Cuts a sample stream into frames of `size`, `hop` apart; the first frame
/// starts at sample 0.
pub struct Framer {
    size: usize,
    hop: usize,
    buf: Vec<f32>,
    /// Start of the next frame within `buf`.
    next: usize,
}

impl Framer {
    pub fn new(size: usize, hop: usize) -> Self {
        Framer {
            size,
            hop: hop.max(1),
            buf: Vec::with_capacity(size * 4),
            next: 0,
        }
    }

    /// Feeds samples; calls `on_frame(frame)` for each completed frame.
    pub fn push(&mut self, samples: &[f32], on_frame: &mut dyn FnMut(&[f32])) {
        self.buf.extend_from_slice(samples);
        while self.buf.len() >= self.next + self.size {
            on_frame(&self.buf[self.next..self.next + self.size]);
            self.next += self.hop;
        }
        // Drop used samples only now and then: a memmove per packet shows.
        let used = self.next.min(self.buf.len());
        if used >= 4 * self.size.max(self.hop) {
            self.buf.drain(..used);
            self.next -= used;
        }
    }

    /// Emits the last partial frame zero-padded, when at least `min_fill` of it is real audio.
    pub fn finish(&mut self, min_fill: usize, on_frame: &mut dyn FnMut(&[f32])) {
        if self.buf.len() > self.next && self.buf.len() - self.next >= min_fill.max(1) {
            let mut last = self.buf[self.next..].to_vec();
            last.resize(self.size, 0.0);
            on_frame(&last);
            self.next += self.hop;
        }
        self.buf.clear();
        self.next = 0;
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
    fn framer_emits_hop_spaced_frames() {
        let mut f = Framer::new(8, 4);
        let mut starts = Vec::new();
        let data: Vec<f32> = (0..40).map(|i| i as f32).collect();
        for c in data.chunks(3) {
            f.push(c, &mut |fr| starts.push(fr[0] as usize));
        }
        assert_eq!(starts, vec![0, 4, 8, 12, 16, 20, 24, 28, 32]);
    }
}

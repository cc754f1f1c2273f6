//! The fingerprint's short-time power spectrum, as a streaming stage: the
//! DSP layer's framer and spectrum at the fingerprint's frame size and hop.
//!
//! Frames are Hann-windowed, `FFT_SIZE` long, `HOP` apart, and reported as
//! power relative to a full-scale sine (1.0 = 0 dB), so a fixed floor means
//! the same thing for every file. Power stays linear: maxima are the same
//! in dB or linear terms, and the picker converts only the few cells it
//! keeps. Only bins up to `MAX_BIN + 1` are computed: the picker never
//! looks higher.

use crate::dsp::{Framer, PowerSpectrum};

use super::params::{FFT_SIZE, HOP, MAX_BIN};

/// Number of power values per emitted frame (bins 0..=MAX_BIN+1).
pub const FRAME_BINS: usize = MAX_BIN + 2;

pub struct Spectrogram {
    framer: Framer,
    spectrum: PowerSpectrum,
}

impl Default for Spectrogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Spectrogram {
    pub fn new() -> Self {
        Spectrogram {
            framer: Framer::new(FFT_SIZE, HOP),
            spectrum: PowerSpectrum::low_bins(FFT_SIZE, FRAME_BINS),
        }
    }

    /// Feeds samples; calls `on_frame(power)` for each completed frame.
    pub fn push(&mut self, samples: &[f32], on_frame: &mut dyn FnMut(&[f32])) {
        let spectrum = &mut self.spectrum;
        self.framer
            .push(samples, &mut |frame| on_frame(spectrum.compute(frame)));
    }
}

#[cfg(test)]
mod tests {
    use rustfft::num_complex::Complex32;
    use rustfft::FftPlanner;

    use super::*;
    use crate::dsp::{hann, power_db};
    use crate::fingerprint::FINGERPRINT_RATE;

    #[test]
    fn full_scale_sine_peaks_near_0_db_in_the_right_bin() {
        let f = 1000.0f32;
        let x: Vec<f32> = (0..8000)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / FINGERPRINT_RATE as f32).sin())
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
            .zip(&hann(FFT_SIZE))
            .map(|(v, w)| Complex32::new(v * w, 0.0))
            .collect();
        fft.process(&mut full);
        for (k, g) in got.iter().enumerate() {
            let want = power_db(full[k].norm_sqr() / (FFT_SIZE as f32 / 4.0).powi(2));
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

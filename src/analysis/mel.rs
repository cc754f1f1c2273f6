//! A mel filterbank: the perceptual frequency axis that the onset envelope
//! and the MFCCs are computed on.
//!
//! Triangular filters evenly spaced on the HTK mel scale, each normalised to
//! unit area (Slaney style) so a band's value is a mean power density and the
//! log-mel values of wide and narrow bands are comparable. Stored sparsely:
//! each filter touches only a handful of bins.

/// Mel bands of the onset envelope and the timbre statistics.
pub const N_MELS: usize = 40;

pub struct MelBank {
    /// Per filter: first bin and its weights.
    filters: Vec<(usize, Vec<f32>)>,
    centres: Vec<f64>,
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

impl MelBank {
    /// `n_mels` filters between `fmin` and `fmax` Hz, for an FFT of `n_fft` at `rate`.
    pub fn new(n_fft: usize, rate: f64, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let bins = n_fft / 2 + 1;
        let bin_hz = rate / n_fft as f64;
        let (m0, m1) = (hz_to_mel(fmin), hz_to_mel(fmax.min(rate / 2.0)));
        let edges: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(m0 + (m1 - m0) * i as f64 / (n_mels + 1) as f64))
            .collect();
        let mut filters = Vec::with_capacity(n_mels);
        for m in 0..n_mels {
            let (lo, c, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let first = ((lo / bin_hz).floor() as usize).min(bins - 1);
            let last = ((hi / bin_hz).ceil() as usize).min(bins - 1);
            let mut w: Vec<f32> = (first..=last)
                .map(|k| {
                    let f = k as f64 * bin_hz;
                    let v = if f <= c {
                        (f - lo) / (c - lo)
                    } else {
                        (hi - f) / (hi - c)
                    };
                    v.max(0.0) as f32
                })
                .collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else {
                // Narrower than a bin: take the nearest bin whole.
                w.iter_mut().for_each(|v| *v = 0.0);
                let k = ((c / bin_hz).round() as usize).clamp(first, last);
                w[k - first] = 1.0;
            }
            filters.push((first, w));
        }
        MelBank {
            filters,
            centres: edges[1..=n_mels].to_vec(),
        }
    }

    pub fn len(&self) -> usize {
        self.filters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Centre frequency of each filter, Hz.
    pub fn centres(&self) -> &[f64] {
        &self.centres
    }

    /// Mel powers of one power spectrum, into `out` (same length as the bank).
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for ((first, w), o) in self.filters.iter().zip(out.iter_mut()) {
            *o = power[*first..*first + w.len()].iter().zip(w).map(|(p, w)| p * w).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_cover_the_range_in_order() {
        let bank = MelBank::new(1024, 22050.0, 40, 30.0, 11000.0);
        assert_eq!(bank.len(), 40);
        assert!(bank.centres().windows(2).all(|w| w[1] > w[0]));
        // A flat spectrum gives the same density in every band.
        let flat = vec![1.0f32; 513];
        let mut out = vec![0.0; 40];
        bank.apply(&flat, &mut out);
        assert!(out.iter().all(|&v| (v - 1.0).abs() < 1e-4), "{out:?}");
    }
}

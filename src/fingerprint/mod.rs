//! The constellation fingerprint, in the style of Wang (2003): a log-power
//! spectrogram, its strongest local maxima ("peaks"), and hashes of peak
//! pairs.
//!
//! Each stage is a small file behind a plain function or streaming struct:
//! [`spectrogram`] frames → [`peaks`] picks maxima → [`hashes`] pairs them.
//! The index keeps the peaks as the canonical fingerprint; hashes are
//! derived from them (and can be rebuilt).

pub mod hashes;
pub mod maxfilter;
pub mod params;
pub mod peaks;
pub mod spectrogram;

pub use hashes::{hash_peaks, HashedPeak, ScaledPeak};
pub use params::{FingerprintParams, PeakParams, FFT_SIZE, FRAMES_PER_SECOND, HOP};
pub use peaks::PeakPicker;
pub use spectrogram::Spectrogram;

use sonica_schema::Peak;

/// Streaming extractor: samples at the analysis rate in, peaks out.
pub struct PeakExtractor {
    spec: Spectrogram,
    picker: PeakPicker,
    peaks: Vec<Peak>,
}

impl PeakExtractor {
    pub fn new(p: &PeakParams) -> Self {
        PeakExtractor {
            spec: Spectrogram::new(),
            picker: PeakPicker::new(p.clone()),
            peaks: Vec::new(),
        }
    }

    pub fn push(&mut self, samples: &[f32]) {
        let picker = &mut self.picker;
        let peaks = &mut self.peaks;
        self.spec
            .push(samples, &mut |frame| picker.push_frame(frame, peaks));
    }

    /// Flushes the last frames and returns every peak, sorted by time.
    pub fn finish(mut self) -> Vec<Peak> {
        self.picker.finish(&mut self.peaks);
        self.peaks
    }
}

/// Peaks of a whole buffer of analysis-rate samples.
pub fn extract_peaks(samples: &[f32], p: &PeakParams) -> Vec<Peak> {
    let mut x = PeakExtractor::new(p);
    x.push(samples);
    x.finish()
}

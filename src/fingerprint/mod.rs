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
pub mod triplets;

pub use hashes::{hash_peaks, HashedPeak, ScaledPeak};
pub use params::{FingerprintParams, PeakParams, FFT_SIZE, FINGERPRINT_RATE, FRAMES_PER_SECOND, HOP};
pub use peaks::PeakPicker;
pub use spectrogram::Spectrogram;

use sonica_schema::Peak;

use crate::dsp::{ResampleError, Resampler};

/// Everything the index stores for a track's peaks: the exact family's
/// pairs and the tolerant family's triplets, as (hash, anchor frame).
pub fn track_hashes(peaks: &[Peak]) -> Vec<(u32, u32)> {
    let mut out = hashes::index_hashes(peaks, &FingerprintParams::index().pairs);
    out.extend(triplets::index_triplets(peaks, &triplets::TripletParams::index()));
    out
}

/// The streaming resampler from a source rate to [`FINGERPRINT_RATE`].
pub fn resampler(from: u32) -> Result<Resampler, ResampleError> {
    Resampler::new(from, FINGERPRINT_RATE, params::RESAMPLER_CHUNK)
}

/// Streaming extractor: samples at the fingerprint rate in, peaks out.
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
        self.spec.push(samples, &mut |frame| picker.push_frame(frame, peaks));
    }

    /// Flushes the last frames and returns every peak, sorted by time.
    pub fn finish(mut self) -> Vec<Peak> {
        self.picker.finish(&mut self.peaks);
        self.peaks
    }
}

/// Peaks of a whole buffer of fingerprint-rate samples.
pub fn extract_peaks(samples: &[f32], p: &PeakParams) -> Vec<Peak> {
    let mut x = PeakExtractor::new(p);
    x.push(samples);
    x.finish()
}

/// A clip's spectrogram, kept so several peak pickers can run over it
/// without recomputing the FFTs (identification tries two parameter sets).
pub struct ClipSpectrum {
    /// Frames back to back, `FRAME_BINS` values each.
    cells: Vec<f32>,
}

impl ClipSpectrum {
    pub fn new(samples: &[f32]) -> Self {
        let frames = samples.len().saturating_sub(FFT_SIZE) / HOP + 1;
        let mut cells = Vec::with_capacity(frames * spectrogram::FRAME_BINS);
        Spectrogram::new().push(samples, &mut |f| cells.extend_from_slice(f));
        ClipSpectrum { cells }
    }

    pub fn peaks(&self, p: &PeakParams) -> Vec<Peak> {
        let mut picker = PeakPicker::new(p.clone());
        let mut out = Vec::new();
        for f in self.cells.chunks_exact(spectrogram::FRAME_BINS) {
            picker.push_frame(f, &mut out);
        }
        picker.finish(&mut out);
        out
    }
}

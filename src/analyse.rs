//! One file in, its fingerprint out: decode → resample → peaks → hashes.
//!
//! This is the pure, parallelisable part of ingest and of identification;
//! it never touches the store.

use std::path::Path;

use sonica_schema::Peak;

use crate::decode::{self, AudioInfo};
use crate::fingerprint::{hashes::index_hashes, FingerprintParams, PeakExtractor};
use crate::resample::ANALYSIS_RATE;
use crate::SonicaError;

/// Shortest audio worth fingerprinting, in seconds.
pub const MIN_DURATION_S: f64 = 1.0;

/// A fingerprinted file, ready to be stored.
#[derive(Debug, Clone)]
pub struct Analysed {
    pub info: AudioInfo,
    pub peaks: Vec<Peak>,
    pub hashes: Vec<(u32, u32)>,
}

/// Decodes and fingerprints a file with the index parameters.
pub fn analyse_file(path: &Path, params: &FingerprintParams) -> Result<Analysed, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let mut ex = PeakExtractor::new(&params.peaks);
    let mut samples = 0usize;
    let info = decode::decode_for_analysis(path, &mut |s| {
        samples += s.len();
        ex.push(s);
    })?;
    // A handful of source samples may resample to none; judge by the source.
    let secs = if samples == 0 {
        info.duration_s
    } else {
        samples as f64 / f64::from(ANALYSIS_RATE)
    };
    if secs < MIN_DURATION_S {
        return Err(SonicaError::TooShort {
            secs,
            min: MIN_DURATION_S,
        });
    }
    let peaks = ex.finish();
    let hashes = index_hashes(&peaks, &params.pairs);
    if hashes.is_empty() {
        return Err(SonicaError::Silent);
    }
    Ok(Analysed { info, peaks, hashes })
}

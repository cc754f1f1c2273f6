//! One file in, everything we learn from it out: decode once, then
//! fingerprint (8 kHz mono → peaks → hashes) and analyse the music
//! (source rate, up to two channels) from the same decoded chunks.
//!
//! This is the pure, parallelisable part of ingest and of identification;
//! it never touches the store.

use std::cell::RefCell;
use std::path::Path;

use sonica_schema::{Peak, TrackAnalysis};

use crate::analysis::{Analyser, AnalysisError};
use crate::chromaprint::AcoustIdPrint;
use crate::decode::{self, AudioInfo, DecodeError, Frames, MAX_DURATION_S};
use crate::fingerprint::{hashes::index_hashes, FingerprintParams, PeakExtractor};
use crate::resample::{ToAnalysisRate, ANALYSIS_RATE};
use crate::SonicaError;

/// Shortest audio worth fingerprinting, in seconds.
pub const MIN_DURATION_S: f64 = 1.0;

/// A fingerprinted (and, when it could be, analysed) file, ready to store.
#[derive(Debug, Clone)]
pub struct Analysed {
    pub info: AudioInfo,
    pub peaks: Vec<Peak>,
    pub hashes: Vec<(u32, u32)>,
    /// `None` when the music analysis failed (too short for a tempo, say):
    /// the track can still be recognised, so ingest does not fail for it.
    pub analysis: Option<TrackAnalysis>,
    /// Why there is no analysis, for the log.
    pub analysis_error: Option<AnalysisError>,
    /// sha256 of the file's bytes.
    pub sha256: [u8; 32],
    /// The compressed AcoustID Chromaprint of the first two minutes.
    pub chromaprint: Option<Vec<u8>>,
}

/// Decodes a file once, fingerprints it with the index parameters and
/// analyses its music.
pub fn analyse_file(path: &Path, params: &FingerprintParams) -> Result<Analysed, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let sha256 = crate::digest::file_sha256(path).map_err(DecodeError::Io)?;
    let ex = RefCell::new(PeakExtractor::new(&params.peaks));
    let acoustid: RefCell<Option<AcoustIdPrint>> = RefCell::new(None);
    let resampler: RefCell<Option<ToAnalysisRate>> = RefCell::new(None);
    let analyser: RefCell<Option<Result<Analyser, AnalysisError>>> = RefCell::new(None);
    let mut samples = 0usize;
    let max_samples = (MAX_DURATION_S * f64::from(ANALYSIS_RATE)) as usize;
    let info = decode::decode_frames(
        path,
        true,
        &mut |rate, channels| {
            *resampler.borrow_mut() = Some(ToAnalysisRate::new(rate)?);
            *analyser.borrow_mut() = Some(Analyser::new(rate, channels));
            *acoustid.borrow_mut() = Some(AcoustIdPrint::new(rate, usize::from(channels.clamp(1, 2))));
            Ok(())
        },
        &mut |f: &Frames| {
            if samples > max_samples {
                return Err(DecodeError::TooLong { max_s: MAX_DURATION_S });
            }
            if let Some(r) = resampler.borrow_mut().as_mut() {
                r.push(f.mono, &mut |o| {
                    samples += o.len();
                    ex.borrow_mut().push(o);
                })?;
            }
            if let Some(Ok(a)) = analyser.borrow_mut().as_mut() {
                a.push(f.stereo.unwrap_or(f.mono));
            }
            if let Some(p) = acoustid.borrow_mut().as_mut() {
                p.push(f.stereo.unwrap_or(f.mono));
            }
            Ok(())
        },
    )?;
    if let Some(r) = resampler.borrow_mut().as_mut() {
        r.finish(&mut |o| {
            samples += o.len();
            ex.borrow_mut().push(o);
        })
        .map_err(DecodeError::from)?;
    }
    if info.duration_s > MAX_DURATION_S {
        return Err(DecodeError::TooLong { max_s: MAX_DURATION_S }.into());
    }
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
    let peaks = ex.into_inner().finish();
    let hashes = index_hashes(&peaks, &params.pairs);
    if hashes.is_empty() {
        return Err(SonicaError::Silent);
    }
    let (analysis, analysis_error) = match analyser.into_inner() {
        Some(Ok(a)) => match a.finish(0.0) {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e)),
        },
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    Ok(Analysed {
        info,
        peaks,
        hashes,
        analysis,
        analysis_error,
        sha256,
        chromaprint: acoustid.into_inner().and_then(AcoustIdPrint::finish),
    })
}

/// Analyses the music of `path` between `start_s` and `end_s` (seconds from
/// the start; either may be omitted) without fingerprinting it: what
/// `sonica analyze` and `POST /analyze` run. Decoding stops at `end_s`, and
/// at most `max_s` seconds of audio are analysed.
pub fn analyse_music(
    path: &Path,
    start_s: Option<f64>,
    end_s: Option<f64>,
    max_s: f64,
) -> Result<TrackAnalysis, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let start = start_s.unwrap_or(0.0);
    let end = end_s.unwrap_or(f64::INFINITY);
    if !(start >= 0.0 && end > start) {
        return Err(SonicaError::BadRange { start, end });
    }
    let analyser: RefCell<Option<Result<Analyser, AnalysisError>>> = RefCell::new(None);
    // Set by the first callback, read by the second.
    let rate = std::cell::Cell::new(0u32);
    let channels = std::cell::Cell::new(1usize);
    // Source-rate frames decoded so far, to cut the range out of the stream.
    let mut seen = 0u64;
    let mut reached_end = false;
    let limit = end.min(start + max_s);
    let decoded = decode::decode_frames(
        path,
        true,
        &mut |r, ch| {
            rate.set(r);
            channels.set(usize::from(ch).max(1));
            *analyser.borrow_mut() = Some(Analyser::new(r, ch));
            Ok(())
        },
        &mut |f: &Frames| {
            let data = f.stereo.unwrap_or(f.mono);
            let (rate, channels) = (rate.get(), channels.get());
            let n = (data.len() / channels) as u64;
            let first = (start * f64::from(rate)).round() as u64;
            let last = (limit * f64::from(rate)).round() as u64;
            let from = first.saturating_sub(seen).min(n) as usize;
            let to = last.saturating_sub(seen).min(n) as usize;
            seen += n;
            if to > from {
                if let Some(Ok(a)) = analyser.borrow_mut().as_mut() {
                    a.push(&data[from * channels..to * channels]);
                }
            }
            if seen >= last {
                reached_end = true;
                // Everything asked for has been read: stop decoding here.
                return Err(DecodeError::TooLong { max_s: limit });
            }
            Ok(())
        },
    );
    match decoded {
        Ok(_) => {}
        Err(DecodeError::TooLong { .. }) if reached_end => {
            // More audio follows the range: fine when the caller set an
            // end, too long when the whole file was asked for.
            if end > limit {
                return Err(DecodeError::TooLong { max_s }.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    let decoded_s = seen as f64 / f64::from(rate.get().max(1));
    if start >= decoded_s {
        return Err(SonicaError::BadRange { start, end: decoded_s });
    }
    match analyser.into_inner() {
        Some(Ok(a)) => Ok(a.finish(start)?),
        Some(Err(e)) => Err(e.into()),
        None => Err(DecodeError::NoAudio.into()),
    }
}

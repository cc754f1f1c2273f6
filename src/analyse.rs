//! One file in, everything we learn from it out: decode once, then
//! fingerprint (8 kHz mono → peaks → hashes) and analyse the music
//! (source rate, up to two channels) from the same decoded chunks. The
//! fingerprint and the music analysis each run on a thread beside the
//! decoder ([`Beside`]), so one file spreads over the cores.
//!
//! This is the pure, parallelisable part of ingest and of identification;
//! it never touches the store.

use std::cell::RefCell;
use std::path::Path;

use sonica_schema::{Peak, TrackAnalysis};

use crate::analysis::{Analyser, AnalysisError};
use crate::beside::{Beside, Stage};
use crate::chromaprint::AcoustIdPrint;
use crate::decode::{self, AudioInfo, DecodeError, Frames, MAX_DURATION_S};
use crate::fingerprint::{hashes::index_hashes, FingerprintParams, PeakExtractor};
use crate::resample::{ResampleError, ToAnalysisRate, ANALYSIS_RATE};
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
/// analyses its music; the fingerprint and the music run on threads of
/// their own beside the decoder.
pub fn analyse_file(path: &Path, params: &FingerprintParams) -> Result<Analysed, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let sha256 = crate::digest::file_sha256(path).map_err(DecodeError::Io)?;
    let prints: RefCell<Option<Beside<PrintStage>>> = RefCell::new(None);
    let music: RefCell<Option<Beside<MusicStage>>> = RefCell::new(None);
    let rate = std::cell::Cell::new(0u32);
    let mut frames = 0u64;
    let info = decode::decode_frames(
        path,
        true,
        MAX_DURATION_S,
        &mut |r, channels| {
            rate.set(r);
            let print = PrintStage {
                resampler: ToAnalysisRate::new(r)?,
                peaks: PeakExtractor::new(&params.peaks),
                samples: 0,
                failed: None,
            };
            let tune = move || MusicStage {
                analyser: Analyser::new(r, channels),
                acoustid: AcoustIdPrint::new(r, usize::from(channels.clamp(1, 2))),
            };
            let started =
                Beside::start("fingerprint", move || print).and_then(|p| Ok((p, Beside::start("music", tune)?)));
            let (p, m) = started.map_err(|e| DecodeError::Io(std::io::Error::other(e)))?;
            *prints.borrow_mut() = Some(p);
            *music.borrow_mut() = Some(m);
            Ok(())
        },
        &mut |f: &Frames| {
            frames += f.mono.len() as u64;
            if frames as f64 > MAX_DURATION_S * f64::from(rate.get()) {
                return Err(DecodeError::TooLong { max_s: MAX_DURATION_S });
            }
            if let Some(p) = prints.borrow_mut().as_mut() {
                p.push(f.mono);
            }
            if let Some(m) = music.borrow_mut().as_mut() {
                m.push(f.stereo.unwrap_or(f.mono));
            }
            Ok(())
        },
    )?;
    if info.duration_s > MAX_DURATION_S {
        return Err(DecodeError::TooLong { max_s: MAX_DURATION_S }.into());
    }
    let (Some(prints), Some(music)) = (prints.into_inner(), music.into_inner()) else {
        return Err(DecodeError::NoAudio.into());
    };
    let (peaks, samples) = prints.finish()?.map_err(DecodeError::from)?;
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
    let hashes = index_hashes(&peaks, &params.pairs);
    if hashes.is_empty() {
        return Err(SonicaError::Silent);
    }
    let (analysis, chromaprint) = music.finish()?;
    let (analysis, analysis_error) = match analysis {
        Ok(a) => (Some(a), None),
        Err(e) => (None, Some(e)),
    };
    Ok(Analysed {
        info,
        peaks,
        hashes,
        analysis,
        analysis_error,
        sha256,
        chromaprint,
    })
}

/// Source-rate mono → 8 kHz → spectral peaks, on its own thread.
struct PrintStage {
    resampler: ToAnalysisRate,
    peaks: PeakExtractor,
    /// 8 kHz samples produced.
    samples: usize,
    failed: Option<ResampleError>,
}

impl Stage for PrintStage {
    /// The peaks and the number of 8 kHz samples they came from.
    type Output = Result<(Vec<Peak>, usize), ResampleError>;

    fn push(&mut self, mono: &[f32]) {
        if self.failed.is_some() {
            return;
        }
        let mut sink = resampled(&mut self.peaks, &mut self.samples);
        if let Err(e) = self.resampler.push(mono, &mut sink) {
            self.failed = Some(e);
        }
    }

    fn finish(mut self) -> Self::Output {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.resampler
            .finish(&mut resampled(&mut self.peaks, &mut self.samples))?;
        Ok((self.peaks.finish(), self.samples))
    }
}

/// Where 8 kHz audio goes: counted, then into the peak extractor.
fn resampled<'a>(peaks: &'a mut PeakExtractor, samples: &'a mut usize) -> impl FnMut(&[f32]) + 'a {
    move |o| {
        *samples += o.len();
        peaks.push(o);
    }
}

/// Source-rate audio (up to two channels) → music analysis and the
/// AcoustID Chromaprint, on its own thread.
struct MusicStage {
    analyser: Result<Analyser, AnalysisError>,
    acoustid: AcoustIdPrint,
}

impl Stage for MusicStage {
    type Output = (Result<TrackAnalysis, AnalysisError>, Option<Vec<u8>>);

    fn push(&mut self, interleaved: &[f32]) {
        if let Ok(a) = self.analyser.as_mut() {
            a.push(interleaved);
        }
        self.acoustid.push(interleaved);
    }

    fn finish(self) -> Self::Output {
        (self.analyser.and_then(|a| a.finish(0.0)), self.acoustid.finish())
    }
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
    // A header claiming more than the range can hold is refused up front
    // only when the whole file was asked for.
    let declared_limit = if end_s.is_some() { f64::INFINITY } else { limit };
    let decoded = decode::decode_frames(
        path,
        true,
        declared_limit,
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

//! The music of one range of a file, without fingerprinting it: what
//! `sonica analyze` and `POST /analyze` run. Decoding stops at the end of
//! the range, and at most the route's cap of audio is analysed.

use std::cell::{Cell, RefCell};
use std::path::Path;

use sonica_schema::TrackAnalysis;

use crate::analysis::{Analyser, AnalysisError, AnalysisOptions};
use crate::decode::{self, DecodeError, Frames};
use crate::SonicaError;

/// Analyses the music of `path` between `start_s` and `end_s` (seconds from
/// the start; either may be omitted) without fingerprinting it: what
/// `sonica analyze` and `POST /analyze` run. Decoding stops at `end_s`, and
/// at most `max_s` seconds of audio are analysed.
pub fn analyse_music(
    path: &Path,
    start_s: Option<f64>,
    end_s: Option<f64>,
    max_s: f64,
    options: AnalysisOptions,
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
    let rate = Cell::new(0u32);
    let channels = Cell::new(1usize);
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
            *analyser.borrow_mut() = Some(Analyser::with_options(r, ch, options));
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

//! A short stretch of a file's audio, decoded: what a pattern preview
//! plays. Decoding stops at the end of the stretch, and the stretch is
//! capped, so a preview of a section near the end of a long file costs one
//! decode up to there and a few megabytes at most.

use std::cell::Cell;
use std::path::Path;

use crate::decode::{self, DecodeError, Frames, MAX_DURATION_S};
use crate::SonicaError;

/// Interleaved samples (one or two channels) at the file's rate.
pub struct Excerpt {
    pub rate: u32,
    pub channels: usize,
    pub samples: Vec<f32>,
}

/// Up to `max_s` seconds of `path` from `start_s` on.
pub fn excerpt(path: &Path, start_s: f64, max_s: f64) -> Result<Excerpt, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    if !(start_s.is_finite() && start_s >= 0.0 && max_s > 0.0) {
        return Err(SonicaError::BadRange {
            start: start_s,
            end: start_s + max_s,
        });
    }
    let rate = Cell::new(0u32);
    let channels = Cell::new(1usize);
    let mut seen = 0u64;
    let mut out = Vec::new();
    let mut done = false;
    let decoded = decode::decode_frames(
        path,
        true,
        MAX_DURATION_S,
        &mut |r, ch| {
            rate.set(r);
            channels.set(usize::from(ch).clamp(1, 2));
            Ok(())
        },
        &mut |f: &Frames| {
            let data = f.stereo.unwrap_or(f.mono);
            let (r, ch) = (f64::from(rate.get()), channels.get());
            let n = (data.len() / ch) as u64;
            let first = (start_s * r).round() as u64;
            let last = ((start_s + max_s) * r).round() as u64;
            let from = first.saturating_sub(seen).min(n) as usize;
            let to = last.saturating_sub(seen).min(n) as usize;
            seen += n;
            if to > from {
                out.extend_from_slice(&data[from * ch..to * ch]);
            }
            if seen >= last {
                done = true;
                return Err(DecodeError::TooLong { max_s });
            }
            Ok(())
        },
    );
    match decoded {
        Ok(_) => {}
        Err(DecodeError::TooLong { .. }) if done => {}
        Err(e) => return Err(e.into()),
    }
    if out.is_empty() {
        return Err(SonicaError::BadRange {
            start: start_s,
            end: seen as f64 / f64::from(rate.get().max(1)),
        });
    }
    Ok(Excerpt {
        rate: rate.get(),
        channels: channels.get(),
        samples: out,
    })
}

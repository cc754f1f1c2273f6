//! Files in and out of the mastering assistant: measure a file as it
//! decodes, load one (at most [`MAX_MASTER_S`]) to render, and write the
//! rendered audio as a WAV file.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::path::Path;

use sonica_schema::mastering::MasteringProfile;

use super::measure::MasteringMeter;
use crate::analysis::error::AnalysisError;
use crate::decode::{self, DecodeError, Frames};
use crate::SonicaError;

/// Longest mix the assistant takes: 20 minutes.
pub const MAX_MASTER_S: f64 = 20.0 * 60.0;

/// Measures the file at `path`.
pub fn measure_file(path: &Path) -> Result<MasteringProfile, SonicaError> {
    Ok(measure_and_keep(path, 0.0)?.0)
}

/// Measures the file at `path` and keeps its first `keep_s` seconds (one
/// decode for both: the analysis and its preview).
pub fn measure_and_keep(path: &Path, keep_s: f64) -> Result<(MasteringProfile, Loaded), SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let meter: RefCell<Option<Result<MasteringMeter, AnalysisError>>> = RefCell::new(None);
    let rate = Cell::new(1u32);
    let channels = Cell::new(1usize);
    let mut frames = 0u64;
    let mut kept = Vec::new();
    decode::decode_frames(
        path,
        true,
        MAX_MASTER_S,
        &mut |r, ch| {
            rate.set(r);
            channels.set(usize::from(ch.clamp(1, 2)));
            *meter.borrow_mut() = Some(MasteringMeter::new(r, ch));
            Ok(())
        },
        &mut |f: &Frames| {
            frames += f.mono.len() as u64;
            if frames as f64 > MAX_MASTER_S * f64::from(rate.get()) {
                return Err(DecodeError::TooLong { max_s: MAX_MASTER_S });
            }
            let chunk = f.stereo.unwrap_or(f.mono);
            let want = (keep_s.min(MAX_MASTER_S) * f64::from(rate.get())) as usize * channels.get();
            let room = want.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if let Some(Ok(m)) = meter.borrow_mut().as_mut() {
                if let Err(e) = m.push(chunk) {
                    return Err(DecodeError::Io(std::io::Error::other(e.to_string())));
                }
            }
            Ok(())
        },
    )?;
    let profile = match meter.into_inner() {
        Some(m) => m?.finish()?,
        None => return Err(DecodeError::NoAudio.into()),
    };
    let loaded = Loaded {
        samples: kept,
        rate: rate.get(),
        channels: channels.get(),
    };
    Ok((profile, loaded))
}

/// Decoded audio at the source rate: interleaved, one or two channels.
pub struct Loaded {
    pub samples: Vec<f32>,
    pub rate: u32,
    pub channels: usize,
}

/// Loads at most the first `max_s` seconds of `path` (and never more than
/// [`MAX_MASTER_S`]).
pub fn load(path: &Path, max_s: f64) -> Result<Loaded, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let max_s = max_s.min(MAX_MASTER_S);
    let rate = Cell::new(1u32);
    let channels = Cell::new(1usize);
    let mut samples = Vec::new();
    let r = decode::decode_frames(
        path,
        true,
        MAX_MASTER_S,
        &mut |r, ch| {
            rate.set(r);
            channels.set(usize::from(ch.clamp(1, 2)));
            Ok(())
        },
        &mut |f: &Frames| {
            let want = (max_s * f64::from(rate.get())) as usize * channels.get();
            let chunk = f.stereo.unwrap_or(f.mono);
            let room = want.saturating_sub(samples.len());
            samples.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if samples.len() >= want {
                // Enough: stop the decode (told apart below).
                return Err(DecodeError::TooLong { max_s });
            }
            Ok(())
        },
    );
    match r {
        Ok(_) => {}
        Err(DecodeError::TooLong { .. }) if !samples.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Loaded {
        samples,
        rate: rate.get(),
        channels: channels.get(),
    })
}

/// Writes interleaved float samples as a 32-bit float WAV file.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32, channels: usize) -> std::io::Result<()> {
    let ch = channels.clamp(1, 2) as u16;
    let data_len = (samples.len() * 4) as u32;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"RIFF")?;
    out.write_all(&(36 + data_len).to_le_bytes())?;
    out.write_all(b"WAVEfmt ")?;
    out.write_all(&16u32.to_le_bytes())?;
    out.write_all(&3u16.to_le_bytes())?; // IEEE float
    out.write_all(&ch.to_le_bytes())?;
    out.write_all(&rate.to_le_bytes())?;
    out.write_all(&(rate * 4 * u32::from(ch)).to_le_bytes())?;
    out.write_all(&(4 * ch).to_le_bytes())?;
    out.write_all(&32u16.to_le_bytes())?;
    out.write_all(b"data")?;
    out.write_all(&data_len.to_le_bytes())?;
    for s in samples {
        out.write_all(&s.to_le_bytes())?;
    }
    out.flush()
}

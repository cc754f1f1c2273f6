//! Decoding any audio file to mono PCM at the analysis rate.
//!
//! symphonia decodes natively (MP3, WAV, FLAC, OGG Vorbis, AAC/M4A, ALAC,
//! AIFF, CAF, MKV/WebM). Formats it cannot decode (Opus, WMA, …) fall back
//! to an `ffmpeg` executable when one is on PATH; without it the error names
//! the format and says to install ffmpeg. Output is streamed through a
//! callback so a 3-hour file never sits in memory whole.

mod ffmpeg;
pub mod guard;
mod native;
mod sniff;
mod tags;

use std::path::Path;

pub use sniff::sniff_format;
pub use tags::{Tags, MAX_TAG_BYTES};

use crate::dsp::Resampler;
use crate::fingerprint::FINGERPRINT_RATE;

/// Longest audio accepted, in seconds: past this a file is refused rather
/// than tying up a worker (a whole-day radio log is not a track).
pub const MAX_DURATION_S: f64 = 6.0 * 3600.0;

/// What was learnt while decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub codec: String,
    /// Duration actually decoded, in seconds.
    pub duration_s: f64,
    pub tags: Tags,
    /// Which decoder did the work: "symphonia" or "ffmpeg".
    pub decoder: &'static str,
}

/// Why a file could not be decoded. Messages are one line and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("file is empty (0 bytes)")]
    Empty,
    #[error("not a recognised audio format ({0})")]
    Unrecognised(String),
    #[error("{format} audio cannot be decoded by the built-in decoders; install ffmpeg (e.g. `apt-get install ffmpeg`) and put it on PATH")]
    NeedsFfmpeg { format: String },
    #[error("corrupt {format} data: {why}")]
    Corrupt { format: String, why: String },
    #[error("truncated {format} file: decoded {decoded_s:.1} s of the {declared_s:.1} s it declares")]
    Truncated {
        format: String,
        decoded_s: f64,
        declared_s: f64,
    },
    #[error("truncated {format} file: the stream stops after {decoded_s:.1} s without its end-of-stream marker")]
    Unterminated { format: String, decoded_s: f64 },
    #[error("contains no audio samples")]
    NoAudio,
    #[error("audio is longer than the {} limit", fmt_limit(*max_s))]
    TooLong { max_s: f64 },
    #[error(
        "sample rate {rate} Hz is outside the {}–{} Hz Sonica decodes",
        guard::MIN_SAMPLE_RATE,
        guard::MAX_SAMPLE_RATE
    )]
    SampleRate { rate: u32 },
    #[error("{channels} channels is outside the 1–{} Sonica decodes", guard::MAX_CHANNELS)]
    Channels { channels: u32 },
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
    #[error(transparent)]
    Resample(#[from] crate::dsp::ResampleError),
}

/// One decoded chunk at the source rate.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a> {
    /// The average of every channel: what fingerprinting hears.
    pub mono: &'a [f32],
    /// The first two channels interleaved (front left/right), when asked
    /// for and the source has two or more; music analysis measures stereo
    /// width and loudness on these.
    pub stereo: Option<&'a [f32]>,
}

/// Decodes `path` to mono samples at the source rate, calling `sink(samples)`
/// for each chunk. The sample rate is fixed for the stream and reported in
/// the returned [`AudioInfo`], but also passed to `on_start` before any
/// samples so that a resampler can be set up.
pub fn decode_mono(
    path: &Path,
    max_s: f64,
    on_start: &mut dyn FnMut(u32) -> Result<(), DecodeError>,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
) -> Result<AudioInfo, DecodeError> {
    decode_frames(path, false, max_s, &mut |rate, _| on_start(rate), &mut |f| sink(f.mono))
}

/// Decodes `path` at the source rate, giving each chunk as mono and, when
/// `want_stereo`, as two interleaved channels too. `on_start(rate,
/// channels)` comes before any samples; `channels` is 2 when stereo chunks
/// will follow, else 1.
///
/// Every decode of user audio comes through here, behind [`guard`]: a
/// declared sample rate or channel count outside the caps, or a header
/// claiming more than `max_declared_s` seconds, is refused before anything
/// is sized from it; a panic inside a third-party decoder becomes this
/// file's `Corrupt` error. The sink enforces the decoded length itself.
pub fn decode_frames(
    path: &Path,
    want_stereo: bool,
    max_declared_s: f64,
    on_start: &mut dyn FnMut(u32, u16) -> Result<(), DecodeError>,
    sink: &mut dyn FnMut(&Frames) -> Result<(), DecodeError>,
) -> Result<AudioInfo, DecodeError> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(DecodeError::Io(std::io::Error::other("is a directory")));
    }
    if meta.len() == 0 {
        return Err(DecodeError::Empty);
    }
    let format = sniff_format(path)?;
    if let Err(why) = sniff::check_tag_lengths(path, &format)? {
        return Err(DecodeError::Corrupt { format, why });
    }
    let native = guard::contain_panics(&format, || {
        match native::decode(path, &format, want_stereo, max_declared_s, on_start, sink) {
            Ok(info) => Ok(Ok(info)),
            Err(native::Failure::Error(e)) => Err(e),
            Err(other) => Ok(Err(other)),
        }
    })?;
    match native {
        Ok(info) => Ok(info),
        Err(why) => {
            if matches!(why, native::Failure::Unrecognised) && !sniff::looks_like_known_media(&format) {
                return Err(DecodeError::Unrecognised(format));
            }
            match why {
                // One of symphonia's own formats: its word (truncated, corrupt
                // at byte N) is the most precise there is.
                native::Failure::Probe(e) if sniff::natively_decoded(&format) => Err(e),
                // Anything else symphonia could not take (WMA, AC-3, Opus in an
                // odd container, whatever its probe said) goes to ffmpeg, and
                // only ffmpeg's own failure says the file is corrupt.
                _ if ffmpeg::available() => ffmpeg::decode(path, &format, want_stereo, max_declared_s, on_start, sink),
                _ => Err(DecodeError::NeedsFfmpeg { format }),
            }
        }
    }
}

fn fmt_limit(s: f64) -> String {
    if s >= 3600.0 {
        format!("{} h", s / 3600.0)
    } else {
        format!("{s} s")
    }
}

/// Decodes `path` and streams mono samples at [`FINGERPRINT_RATE`] into `sink`.
pub fn decode_for_fingerprint(path: &Path, sink: &mut dyn FnMut(&[f32])) -> Result<AudioInfo, DecodeError> {
    decode_limited(path, MAX_DURATION_S, sink)
}

/// [`decode_for_fingerprint`] with a caller's length limit in seconds: decoding
/// stops with [`DecodeError::TooLong`] as soon as the limit is passed, so an
/// over-long upload costs no more than the limit's worth of work.
pub fn decode_limited(path: &Path, max_s: f64, sink: &mut dyn FnMut(&[f32])) -> Result<AudioInfo, DecodeError> {
    decode_within(path, max_s, max_s, false, sink)
}

/// Decodes the opening `secs` seconds of `path` at the fingerprint rate
/// into `sink` (all of it when shorter) and stops there: what a view of a
/// section needs without paying for the rest of a long file.
pub fn decode_opening(path: &Path, secs: f64, sink: &mut dyn FnMut(&[f32])) -> Result<(), DecodeError> {
    match decode_within(path, secs, MAX_DURATION_S, false, sink) {
        Ok(_) | Err(DecodeError::TooLong { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`decode_limited`] where the header's declared length is held to
/// `declared_limit` (a probe reads the first second of a long file). With
/// `clocked`, its CPU time is charged to the recognition stages
/// ([`crate::cpu_stages`]): resampling, and the rest as decoding.
fn decode_within(
    path: &Path,
    max_s: f64,
    declared_limit: f64,
    clocked: bool,
    sink: &mut dyn FnMut(&[f32]),
) -> Result<AudioInfo, DecodeError> {
    decode_stopping(path, max_s, declared_limit, clocked, &mut |s| {
        sink(s);
        Ok(())
    })
}

/// Decodes a recording of any length (up to `max_s` seconds) at
/// [`FINGERPRINT_RATE`] into `sink`, which may stop it by returning an
/// error: what a monitor scanning a day-long file uses.
pub fn decode_recording(
    path: &Path,
    max_s: f64,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
) -> Result<AudioInfo, DecodeError> {
    decode_stopping(path, max_s, max_s, false, sink)
}

fn decode_stopping(
    path: &Path,
    max_s: f64,
    declared_limit: f64,
    clocked: bool,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
) -> Result<AudioInfo, DecodeError> {
    use crate::cpu_stages::{charge, thread_cpu_ns, Stage};
    use std::cell::{Cell, RefCell};
    let clock = || if clocked { thread_cpu_ns() } else { 0 };
    let started = clock();
    let resampling = Cell::new(0u64);
    // Both decoder callbacks reach the resampler, so it lives in a RefCell.
    let resampler: RefCell<Option<Resampler>> = RefCell::new(None);
    let produced = Cell::new(0usize);
    let sink = RefCell::new(sink);
    // The sink's refusal, kept until the decoder's callback can return it.
    let stopped: RefCell<Option<DecodeError>> = RefCell::new(None);
    let emit = |s: &[f32]| {
        if stopped.borrow().is_some() {
            return;
        }
        produced.set(produced.get() + s.len());
        if let Err(e) = (sink.borrow_mut())(s) {
            *stopped.borrow_mut() = Some(e);
        }
    };
    let max_samples = (max_s * f64::from(FINGERPRINT_RATE)) as usize;
    let info = decode_mono(
        path,
        declared_limit,
        &mut |rate| {
            *resampler.borrow_mut() = Some(crate::fingerprint::resampler(rate)?);
            Ok(())
        },
        &mut |s| {
            if produced.get() > max_samples {
                return Err(DecodeError::TooLong { max_s });
            }
            if let Some(r) = resampler.borrow_mut().as_mut() {
                let t = clock();
                r.push(s, &mut |o| emit(o))?;
                resampling.set(resampling.get() + clock().saturating_sub(t));
            }
            match stopped.borrow_mut().take() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        },
    )?;
    if let Some(r) = resampler.borrow_mut().as_mut() {
        let t = clock();
        r.finish(&mut |o| emit(o))?;
        resampling.set(resampling.get() + clock().saturating_sub(t));
    }
    if clocked {
        let whole = clock().saturating_sub(started);
        charge(Stage::Resample, resampling.get());
        charge(Stage::Decode, whole.saturating_sub(resampling.get()));
    }
    if info.duration_s > max_s || produced.get() > max_samples {
        return Err(DecodeError::TooLong { max_s });
    }
    if produced.get() == 0 && info.duration_s <= 0.0 {
        return Err(DecodeError::NoAudio);
    }
    // A few source samples can resample to none: the caller judges length.
    Ok(info)
}

/// Decodes a whole file into memory at the analysis rate (for short clips).
pub fn load_clip(path: &Path) -> Result<(Vec<f32>, AudioInfo), DecodeError> {
    load_clip_limited(path, MAX_DURATION_S)
}

/// [`load_clip`] refusing audio longer than `max_s` seconds.
pub fn load_clip_limited(path: &Path, max_s: f64) -> Result<(Vec<f32>, AudioInfo), DecodeError> {
    let mut pcm = Vec::new();
    let info = decode_within(path, max_s, max_s, true, &mut |s| pcm.extend_from_slice(s))?;
    Ok((pcm, info))
}

/// Checks that `path` is audio Sonica can decode by decoding its first
/// second, so an upload of the wrong kind is refused before it is queued.
/// Damage further in is found by the full decode of the job.
pub fn probe(path: &Path) -> Result<(), DecodeError> {
    const PROBE_S: f64 = 1.0;
    match decode_within(path, PROBE_S, MAX_DURATION_S, false, &mut |_| {}) {
        // Ok: a short file decoded whole; TooLong: its first second did.
        Ok(_) | Err(DecodeError::TooLong { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Decodes a live byte stream (an HTTP or Icecast response body: MP3, AAC
/// in ADTS, Ogg) as it arrives, streaming mono samples at
/// [`FINGERPRINT_RATE`] into `sink`; `sink` stops it by returning an
/// error. `ext` hints the format (from the response's content type). The
/// same guard as files: format caps checked before anything is sized, and
/// a decoder's panic is this stream's error.
pub fn decode_stream(
    reader: Box<dyn std::io::Read + Send + Sync>,
    ext: Option<&str>,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
) -> Result<AudioInfo, DecodeError> {
    use std::cell::RefCell;
    let format = "audio stream";
    let resampler: RefCell<Option<Resampler>> = RefCell::new(None);
    let sink = RefCell::new(sink);
    let source = Box::new(symphonia::core::io::ReadOnlySource::new(reader));
    let decoded = guard::contain_panics(format, || {
        match native::decode_source(
            source,
            ext,
            format,
            false,
            f64::INFINITY,
            &mut |rate, _| {
                *resampler.borrow_mut() = Some(crate::fingerprint::resampler(rate)?);
                Ok(())
            },
            &mut |f| match resampler.borrow_mut().as_mut() {
                Some(r) => {
                    let mut failed = None;
                    r.push(f.mono, &mut |o| {
                        if failed.is_none() {
                            failed = (sink.borrow_mut())(o).err();
                        }
                    })?;
                    failed.map_or(Ok(()), Err)
                }
                None => Ok(()),
            },
        ) {
            Ok(info) => Ok(Ok(info)),
            Err(native::Failure::Error(e)) | Err(native::Failure::Probe(e)) => Err(e),
            Err(native::Failure::Unsupported) | Err(native::Failure::Unrecognised) => Ok(Err(())),
        }
    })?;
    match decoded {
        Ok(info) => Ok(info),
        Err(()) => Err(DecodeError::Unrecognised(format!(
            "the stream is not MP3, AAC (ADTS) or Ogg audio{}",
            ext.map(|e| format!(" (content type says {e})")).unwrap_or_default()
        ))),
    }
}

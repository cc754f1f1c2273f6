//! Errors of the audio-side library, and their stable codes.
//!
//! Each layer has its own enum ([`DecodeError`], [`IndexError`]); this one
//! wraps them for callers of the library. [`SonicaError::code`] is the one
//! table of machine-readable codes: the CLI prints them in JSON, and the
//! HTTP service maps the same codes to statuses.

use crate::decode::DecodeError;
use sonica_index::{IndexError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SonicaError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("audio too short: {secs:.2} s, at least {min:.1} s is needed to fingerprint it")]
    TooShort { secs: f64, min: f64 },
    #[error("no fingerprint landmarks: the audio is silent or too quiet")]
    Silent,
    #[error("no such file or folder")]
    Missing,
    #[error("folder contains no audio files")]
    EmptyFolder,
}

impl From<StoreError> for SonicaError {
    fn from(e: StoreError) -> Self {
        SonicaError::Index(IndexError::Store(e))
    }
}

impl SonicaError {
    /// A stable, machine-readable code. Exhaustive on purpose: a new
    /// variant must be given a code here.
    pub fn code(&self) -> &'static str {
        match self {
            SonicaError::Decode(d) => match d {
                DecodeError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => "not_found",
                DecodeError::Io(_) => "io_error",
                DecodeError::Empty => "empty_file",
                DecodeError::Unrecognised(_) => "unsupported_media",
                DecodeError::NeedsFfmpeg { .. } => "decoder_missing",
                DecodeError::Corrupt { .. } => "corrupt_media",
                DecodeError::Truncated { .. } => "truncated_media",
                DecodeError::Unterminated { .. } => "truncated_media",
                DecodeError::NoAudio => "no_audio",
                DecodeError::TooLong { .. } => "audio_too_long",
                DecodeError::Ffmpeg(_) => "corrupt_media",
                DecodeError::Resample(_) => "unsupported_media",
            },
            SonicaError::Index(i) => match i {
                IndexError::Store(StoreError::Locked { .. }) => "store_locked",
                IndexError::Store(StoreError::Backend(_)) | IndexError::Store(StoreError::Io(_)) => "store_error",
                IndexError::Corrupt(_) => "store_corrupt",
                IndexError::IncompatibleFormat { .. } => "store_incompatible",
                IndexError::UnknownTrack(_) => "unknown_track",
                IndexError::IdsExhausted => "store_full",
            },
            SonicaError::TooShort { .. } => "audio_too_short",
            SonicaError::Silent => "audio_silent",
            SonicaError::Missing => "not_found",
            SonicaError::EmptyFolder => "no_audio_files",
        }
    }
}

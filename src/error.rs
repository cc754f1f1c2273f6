//! Errors of the audio-side library, and their stable codes.
//!
//! Each layer has its own enum ([`DecodeError`], [`IndexError`]); this one
//! wraps them for callers of the library. [`SonicaError::code`] is the one
//! table of machine-readable codes: the CLI prints them in JSON, and the
//! HTTP service maps the same codes to statuses.

use crate::analysis::AnalysisError;
use crate::decode::DecodeError;
use crate::search::ParamError;
use sonica_index::{IndexError, MusicError, StoreError};
use sonica_schema::TrackId;

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
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error("bad time range: start {start} s, end {end} s (need 0 <= start < end, and start inside the audio)")]
    BadRange { start: f64, end: f64 },
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Music(#[from] MusicError),
    #[error("track {0} is not ready yet (still queued or processing, or failed)")]
    NotReady(TrackId),
    #[error("track {0} has no music analysis: it is shorter than analysis needs, or was added before analysis existed (re-add it to analyse it)")]
    NotAnalysed(TrackId),
    #[error("track {0} is recognisable but its music analysis is still running; try again shortly")]
    AnalysisPending(TrackId),
    #[error(transparent)]
    Stage(#[from] crate::pipeline::stage::StageFailed),
    #[error(transparent)]
    Mastering(#[from] crate::mastering::MasteringError),
    #[error("no drum pattern {0}: no such track or section, or the section has no drums")]
    UnknownPattern(u64),
    #[error("the audio has no drum pattern to search with: no section has steady enough drums")]
    NoPattern,
    #[error(transparent)]
    Monitor(#[from] crate::monitor::MonitorError),
}

impl From<StoreError> for SonicaError {
    fn from(e: StoreError) -> Self {
        SonicaError::Index(IndexError::Store(e))
    }
}

impl SonicaError {
    /// A stable, machine-readable code. Exhaustive on purpose: a new
    /// variant must be given a code here.
    pub fn code(&self) -> ErrorCode {
        match self {
            SonicaError::Decode(d) => match d {
                DecodeError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => ErrorCode::NotFound,
                DecodeError::Io(_) => ErrorCode::IoError,
                DecodeError::Empty => ErrorCode::EmptyFile,
                DecodeError::Unrecognised(_) => ErrorCode::UnsupportedMedia,
                DecodeError::NeedsFfmpeg { .. } => ErrorCode::DecoderMissing,
                DecodeError::Corrupt { .. } => ErrorCode::CorruptMedia,
                DecodeError::Truncated { .. } => ErrorCode::TruncatedMedia,
                DecodeError::Unterminated { .. } => ErrorCode::TruncatedMedia,
                DecodeError::NoAudio => ErrorCode::NoAudio,
                DecodeError::TooLong { .. } => ErrorCode::AudioTooLong,
                DecodeError::SampleRate { .. } => ErrorCode::SampleRateOutOfRange,
                DecodeError::Channels { .. } => ErrorCode::ChannelsOutOfRange,
                DecodeError::Ffmpeg(_) => ErrorCode::CorruptMedia,
                DecodeError::Resample(_) => ErrorCode::UnsupportedMedia,
            },
            SonicaError::Index(i) => index_code(i),
            SonicaError::TooShort { .. } => ErrorCode::AudioTooShort,
            SonicaError::Silent => ErrorCode::AudioSilent,
            SonicaError::Missing => ErrorCode::NotFound,
            SonicaError::EmptyFolder => ErrorCode::NoAudioFiles,
            SonicaError::Analysis(_) => ErrorCode::AnalysisFailed,
            SonicaError::BadRange { .. } => ErrorCode::BadRange,
            SonicaError::Param(_) => ErrorCode::InvalidParameter,
            SonicaError::Music(MusicError::Index(i)) => index_code(i),
            SonicaError::Music(MusicError::Vector(_)) | SonicaError::Music(MusicError::Text(_)) => {
                ErrorCode::SearchIndexError
            }
            SonicaError::NotReady(_) => ErrorCode::TrackNotReady,
            SonicaError::NotAnalysed(_) => ErrorCode::AnalysisMissing,
            SonicaError::AnalysisPending(_) => ErrorCode::AnalysisPending,
            SonicaError::Stage(_) => ErrorCode::Internal,
            SonicaError::UnknownPattern(_) => ErrorCode::UnknownPattern,
            SonicaError::NoPattern => ErrorCode::NoPattern,
            SonicaError::Monitor(m) => {
                use crate::monitor::MonitorError as M;
                use crate::net::UrlError as U;
                match m {
                    M::Params(_) => ErrorCode::InvalidParameter,
                    M::Url(U::HostNotAllowed(_) | U::PrivateAddress { .. }) => ErrorCode::UrlNotAllowed,
                    M::Url(_) => ErrorCode::InvalidUrl,
                    M::Source(_) => ErrorCode::SourceUnavailable,
                }
            }
            SonicaError::Mastering(m) => {
                use crate::mastering::MasteringError as M;
                match m {
                    M::UnknownReference(_) => ErrorCode::UnknownReference,
                    M::UnknownGenre { .. } => ErrorCode::UnknownGenre,
                    M::UnknownAnalysis(_) | M::NoPreview(_) => ErrorCode::UnknownAnalysis,
                    M::Silent { .. } => ErrorCode::AudioSilent,
                    M::BadGenre(_) | M::NoTarget | M::TooManyReferences { .. } => ErrorCode::InvalidParameter,
                }
            }
        }
    }
}

/// The code of an index-layer error.
pub fn index_code(e: &IndexError) -> ErrorCode {
    match e {
        IndexError::Store(StoreError::Locked { .. }) => ErrorCode::StoreLocked,
        IndexError::Store(StoreError::Backend(_)) | IndexError::Store(StoreError::Io(_)) => ErrorCode::StoreError,
        IndexError::Corrupt(_) => ErrorCode::StoreCorrupt,
        IndexError::IncompatibleFormat { .. } | IndexError::NeedsRebuild { .. } => ErrorCode::StoreIncompatible,
        IndexError::UnknownTrack(_) => ErrorCode::UnknownTrack,
        IndexError::IdsExhausted => ErrorCode::StoreFull,
    }
}

/// Every machine-readable error code Sonica emits, from the CLI's JSON and
/// from the HTTP API. This is the one list: the service maps each code to an
/// HTTP status in one exhaustive table (`service::error`), so a new code
/// cannot ship without a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // Media: what the user sent.
    NotFound,
    EmptyFile,
    UnsupportedMedia,
    DecoderMissing,
    CorruptMedia,
    TruncatedMedia,
    NoAudio,
    AudioTooLong,
    SampleRateOutOfRange,
    ChannelsOutOfRange,
    AudioTooShort,
    AudioSilent,
    NoAudioFiles,
    AnalysisFailed,
    // Requests: how the user sent it.
    MissingField,
    BadRequest,
    PayloadTooLarge,
    UnsupportedContentType,
    Unauthorized,
    ForbiddenOrigin,
    RateLimited,
    /// Over a key's quota: each names the quota.
    QuotaRequestsPerHour,
    QuotaAnalysesPerMonth,
    QuotaUploadsPerDay,
    /// A feature above the key's tier: each names the tier needed.
    TierStarterRequired,
    TierProducerRequired,
    TierStudioRequired,
    /// An admin route with a stored (not a configured) key.
    AdminRequired,
    UnknownKey,
    UnknownTier,
    UnknownTrack,
    UnknownReference,
    UnknownGenre,
    UnknownAnalysis,
    UnknownPattern,
    NoPattern,
    /// Webhooks: no such subscription; a subscription's body is wrong;
    /// the subscription limit is reached.
    UnknownWebhook,
    InvalidWebhook,
    TooManyWebhooks,
    RouteNotFound,
    MethodNotAllowed,
    BadRange,
    RangeNotSatisfiable,
    InvalidParameter,
    /// A URL that is not one (or not http/https, or has a password in it).
    InvalidUrl,
    /// A URL the network policy refuses: a private address, or a host off
    /// the allow-list.
    UrlNotAllowed,
    UnknownMonitor,
    /// `max_monitors` are registered already.
    TooManyMonitors,
    AnalysisMissing,
    AnalysisPending,
    TrackNotReady,
    Duplicate,
    // The server's side.
    IoError,
    StoreLocked,
    StoreError,
    StoreCorrupt,
    StoreIncompatible,
    StoreFull,
    SearchIndexError,
    /// A monitored stream that cannot be reached or read.
    SourceUnavailable,
    ShuttingDown,
    /// A job whose worker died under it `job_attempts` times (shown on the
    /// job, never as a response status).
    CrashedWorker,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::EmptyFile => "empty_file",
            ErrorCode::UnsupportedMedia => "unsupported_media",
            ErrorCode::DecoderMissing => "decoder_missing",
            ErrorCode::CorruptMedia => "corrupt_media",
            ErrorCode::TruncatedMedia => "truncated_media",
            ErrorCode::NoAudio => "no_audio",
            ErrorCode::AudioTooLong => "audio_too_long",
            ErrorCode::SampleRateOutOfRange => "sample_rate_out_of_range",
            ErrorCode::ChannelsOutOfRange => "channels_out_of_range",
            ErrorCode::AudioTooShort => "audio_too_short",
            ErrorCode::AudioSilent => "audio_silent",
            ErrorCode::NoAudioFiles => "no_audio_files",
            ErrorCode::AnalysisFailed => "analysis_failed",
            ErrorCode::BadRange => "bad_range",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::UrlNotAllowed => "url_not_allowed",
            ErrorCode::UnknownMonitor => "unknown_monitor",
            ErrorCode::TooManyMonitors => "too_many_monitors",
            ErrorCode::SourceUnavailable => "source_unavailable",
            ErrorCode::AnalysisMissing => "analysis_missing",
            ErrorCode::AnalysisPending => "analysis_pending",
            ErrorCode::UnknownReference => "unknown_reference",
            ErrorCode::UnknownGenre => "unknown_genre",
            ErrorCode::UnknownAnalysis => "unknown_analysis",
            ErrorCode::UnknownPattern => "unknown_pattern",
            ErrorCode::NoPattern => "no_pattern",
            ErrorCode::UnknownWebhook => "unknown_webhook",
            ErrorCode::InvalidWebhook => "invalid_webhook",
            ErrorCode::TooManyWebhooks => "too_many_webhooks",
            ErrorCode::TrackNotReady => "track_not_ready",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::SearchIndexError => "search_index_error",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedContentType => "unsupported_content_type",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaRequestsPerHour => "quota_requests_per_hour",
            ErrorCode::QuotaAnalysesPerMonth => "quota_analyses_per_month",
            ErrorCode::QuotaUploadsPerDay => "quota_uploads_per_day",
            ErrorCode::TierStarterRequired => "tier_starter_required",
            ErrorCode::TierProducerRequired => "tier_producer_required",
            ErrorCode::TierStudioRequired => "tier_studio_required",
            ErrorCode::AdminRequired => "admin_required",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::UnknownTier => "unknown_tier",
            ErrorCode::UnknownTrack => "unknown_track",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::IoError => "io_error",
            ErrorCode::StoreLocked => "store_locked",
            ErrorCode::StoreError => "store_error",
            ErrorCode::StoreCorrupt => "store_corrupt",
            ErrorCode::StoreIncompatible => "store_incompatible",
            ErrorCode::StoreFull => "store_full",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::CrashedWorker => "crashed_worker",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_code_is_its_name() {
        for c in [ErrorCode::CorruptMedia, ErrorCode::RateLimited, ErrorCode::UnknownTrack] {
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.as_str()));
        }
        // The index layer writes this code on a job; it must be in the list.
        assert_eq!(ErrorCode::CrashedWorker.as_str(), sonica_index::CRASHED_WORKER);
    }
}

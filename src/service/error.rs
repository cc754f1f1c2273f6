//! The HTTP face of every error: one [`ApiError`] type, and one exhaustive
//! table from [`ErrorCode`] to status. Bodies are always
//! `{"error": {"code": …, "message": …}}`.
//!
//! The rule the table encodes: what the client sent wrong is a 4xx that says
//! what to fix; only the server's own failures are 5xx.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{index_code, ErrorCode};
use crate::service::tiers::Tier;
use crate::SonicaError;
use sonica_index::IndexError;
use sonica_schema::quota::Quota;

/// Every error body: `{"error": {"code", "message"}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `corrupt_media`.
    pub code: String,
    /// One line saying what went wrong and what to do.
    pub message: String,
}

/// The status for each code. Exhaustive, with no catch-all arm: a new code
/// does not compile until it is given a status here.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::EmptyFile => StatusCode::BAD_REQUEST,
        ErrorCode::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::DecoderMissing => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::CorruptMedia => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::TruncatedMedia => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::NoAudio => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::AudioTooLong => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::SampleRateOutOfRange => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ChannelsOutOfRange => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::AudioTooShort => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::AudioSilent => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::NoAudioFiles => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::AnalysisFailed => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::BadRange => StatusCode::BAD_REQUEST,
        ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidUrl => StatusCode::BAD_REQUEST,
        ErrorCode::UrlNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::UnknownMonitor => StatusCode::NOT_FOUND,
        ErrorCode::TooManyMonitors => StatusCode::CONFLICT,
        ErrorCode::SourceUnavailable => StatusCode::BAD_GATEWAY,
        ErrorCode::AnalysisMissing => StatusCode::NOT_FOUND,
        ErrorCode::TrackNotReady => StatusCode::CONFLICT,
        ErrorCode::AnalysisPending => StatusCode::CONFLICT,
        ErrorCode::Duplicate => StatusCode::CONFLICT,
        ErrorCode::SearchIndexError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::MissingField => StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::ForbiddenOrigin => StatusCode::FORBIDDEN,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::QuotaRequestsPerHour => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::QuotaAnalysesPerMonth => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::QuotaUploadsPerDay => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TierStarterRequired => StatusCode::FORBIDDEN,
        ErrorCode::TierProducerRequired => StatusCode::FORBIDDEN,
        ErrorCode::TierStudioRequired => StatusCode::FORBIDDEN,
        ErrorCode::AdminRequired => StatusCode::FORBIDDEN,
        ErrorCode::UnknownKey => StatusCode::NOT_FOUND,
        ErrorCode::UnknownTier => StatusCode::BAD_REQUEST,
        ErrorCode::UnknownTrack => StatusCode::NOT_FOUND,
        ErrorCode::UnknownReference => StatusCode::NOT_FOUND,
        ErrorCode::UnknownGenre => StatusCode::NOT_FOUND,
        ErrorCode::UnknownAnalysis => StatusCode::NOT_FOUND,
        ErrorCode::UnknownPattern => StatusCode::NOT_FOUND,
        ErrorCode::NoPattern => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnknownWebhook => StatusCode::NOT_FOUND,
        ErrorCode::InvalidWebhook => StatusCode::BAD_REQUEST,
        ErrorCode::TooManyWebhooks => StatusCode::CONFLICT,
        ErrorCode::RouteNotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::IoError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::StoreLocked => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StoreError => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StoreCorrupt => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::StoreIncompatible => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StoreFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::CrashedWorker => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Everything a route can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Sonica(#[from] SonicaError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("missing field `{0}` in the multipart form")]
    MissingField(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedContentType(String),
    #[error("upload is larger than the {limit_mb} MB limit")]
    TooLarge { limit_mb: f64 },
    /// A part of a request (a WebSocket frame) over its own cap.
    #[error("{0}")]
    TooLargeFrame(String),
    #[error("a cross-site request from {origin} may not change this library (the Origin must be this server)")]
    ForbiddenOrigin { origin: String },
    #[error("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")]
    Unauthorized,
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("this API key was revoked")]
    Revoked,
    #[error("this key's {} quota ({limit}) is used up; retry in {retry_after_s} s", .quota.limit_name())]
    Quota {
        quota: Quota,
        limit: u64,
        retry_after_s: u64,
    },
    #[error("this needs an API key of the {0} tier or above")]
    TierRequired(Tier),
    #[error("this route needs an admin key (one of the configured api_keys)")]
    AdminRequired,
    #[error("no API key with id {0}")]
    UnknownKey(u64),
    #[error("{0}")]
    UnknownTier(String),
    #[error("no track with id {0}")]
    UnknownTrack(u32),
    #[error("no webhook with id {0}")]
    UnknownWebhook(u64),
    /// A subscription's body, the message naming the field.
    #[error("{0}")]
    InvalidWebhook(String),
    #[error("there are {0} webhooks already, the most a server keeps; delete one first")]
    TooManyWebhooks(usize),
    #[error("the range asked for lies outside the file ({len} bytes)")]
    RangeNotSatisfiable { len: u64 },
    #[error("no route {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("the server is shutting down")]
    ShuttingDown,
    /// Refused under the `reject` duplicate policy.
    #[error("{} of track {} ({}); not added (on_duplicate=reject)", .0[0].kind, .0[0].of, .0[0].of_path)]
    Duplicate(Vec<sonica_schema::Duplicate>),
    #[error("no monitor with id {0}")]
    UnknownMonitor(u64),
    #[error("{0}")]
    TooManyMonitors(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Sonica(e) => e.code(),
            ApiError::Index(e) => index_code(e),
            ApiError::MissingField(_) => ErrorCode::MissingField,
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::UnsupportedContentType(_) => ErrorCode::UnsupportedContentType,
            ApiError::TooLarge { .. } | ApiError::TooLargeFrame(_) => ErrorCode::PayloadTooLarge,
            ApiError::ForbiddenOrigin { .. } => ErrorCode::ForbiddenOrigin,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Revoked => ErrorCode::Unauthorized,
            ApiError::Quota { quota, .. } => match quota {
                Quota::Requests => ErrorCode::QuotaRequestsPerHour,
                Quota::Analyses => ErrorCode::QuotaAnalysesPerMonth,
                Quota::Uploads => ErrorCode::QuotaUploadsPerDay,
            },
            ApiError::TierRequired(t) => match t {
                // Every key is free or above: a gate at free is "any key".
                Tier::Free => ErrorCode::Unauthorized,
                Tier::Starter => ErrorCode::TierStarterRequired,
                Tier::Producer => ErrorCode::TierProducerRequired,
                Tier::Studio => ErrorCode::TierStudioRequired,
            },
            ApiError::AdminRequired => ErrorCode::AdminRequired,
            ApiError::UnknownKey(_) => ErrorCode::UnknownKey,
            ApiError::UnknownTier(_) => ErrorCode::UnknownTier,
            ApiError::UnknownTrack(_) => ErrorCode::UnknownTrack,
            ApiError::UnknownWebhook(_) => ErrorCode::UnknownWebhook,
            ApiError::InvalidWebhook(_) => ErrorCode::InvalidWebhook,
            ApiError::TooManyWebhooks(_) => ErrorCode::TooManyWebhooks,
            ApiError::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            ApiError::RouteNotFound { .. } => ErrorCode::RouteNotFound,
            ApiError::ShuttingDown => ErrorCode::ShuttingDown,
            ApiError::Duplicate(_) => ErrorCode::Duplicate,
            ApiError::UnknownMonitor(_) => ErrorCode::UnknownMonitor,
            ApiError::TooManyMonitors(_) => ErrorCode::TooManyMonitors,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The JSON body, also used for WebSocket error frames.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let ApiError::Duplicate(d) = self {
            // What it duplicates, for a client to link to.
            body["error"]["duplicates"] = serde_json::json!(d);
        }
        body
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code())
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = %self.code(), error = %self, "request failed");
        }
        let mut r = HttpResponse::build(status);
        if let ApiError::RateLimited { retry_after_s } | ApiError::Quota { retry_after_s, .. } = self {
            r.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
        }
        if let ApiError::RangeNotSatisfiable { len } = self {
            r.insert_header((header::CONTENT_RANGE, format!("bytes */{len}")));
        }
        r.json(self.body())
    }
}

/// Turns actix's own extractor failures (bad JSON, query or path) into our
/// body, so no error leaves the service in another shape.
pub fn extractor_error(message: String) -> actix_web::Error {
    ApiError::BadRequest(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_mistakes_are_never_5xx() {
        for code in [
            ErrorCode::EmptyFile,
            ErrorCode::UnsupportedMedia,
            ErrorCode::CorruptMedia,
            ErrorCode::TruncatedMedia,
            ErrorCode::AudioTooLong,
            ErrorCode::AudioTooShort,
            ErrorCode::MissingField,
            ErrorCode::BadRequest,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnknownTrack,
            ErrorCode::UnknownReference,
            ErrorCode::UnknownGenre,
            ErrorCode::UnknownAnalysis,
            ErrorCode::UnknownPattern,
            ErrorCode::NoPattern,
            ErrorCode::AudioSilent,
            ErrorCode::SampleRateOutOfRange,
            ErrorCode::ChannelsOutOfRange,
            ErrorCode::ForbiddenOrigin,
            ErrorCode::UnknownWebhook,
            ErrorCode::InvalidWebhook,
            ErrorCode::TooManyWebhooks,
        ] {
            assert!(status_of(code).is_client_error(), "{code}");
        }
    }

    #[test]
    fn quotas_and_tiers_name_themselves() {
        let q = ApiError::Quota {
            quota: Quota::Analyses,
            limit: 3,
            retry_after_s: 60,
        };
        let r = q.error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "60");
        assert_eq!(q.code().as_str(), "quota_analyses_per_month");
        assert!(q.to_string().contains("analyses_per_month"), "{q}");
        let t = ApiError::TierRequired(Tier::Producer);
        assert_eq!(
            (t.status_code(), t.code().as_str()),
            (StatusCode::FORBIDDEN, "tier_producer_required")
        );
        assert_eq!(ApiError::AdminRequired.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::Revoked.code(), ErrorCode::Unauthorized);
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let r = ApiError::RateLimited { retry_after_s: 3 }.error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "3");
    }
}

//! The OpenAPI document, generated from the route annotations (utoipa) so
//! it cannot drift from the handlers' types.

use std::sync::OnceLock;

use serde::Serialize;
use utoipa::OpenApi;

use crate::service::recognition::{MatchView, RecognizeAnswer};
use crate::service::routes;
use crate::service::state::{TrackFailure, TrackView};

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sonica",
        description = "Self-hosted audio search: upload tracks, recognise clips and live streams, analyse music \
(tempo, key, loudness, bands, drum pattern), find tracks that sound alike and search text with filters. \
Errors are always `{\"error\": {\"code\", \"message\"}}`. When API keys are configured, POST and DELETE \
need `Authorization: Bearer <key>` or `X-API-Key: <key>`."
    ),
    paths(
        routes::health::health,
        routes::songs::list,
        routes::duplicates::list,
        routes::tracks::upload,
        routes::tracks::get,
        routes::tracks::delete,
        routes::recognize::recognize,
        routes::analysis::get,
        routes::analysis::analyze,
        routes::analysis::pattern,
        routes::similar::by_track,
        routes::similar::by_body,
        routes::search::text,
        routes::search::mixed,
        routes::stream::stream,
        routes::metrics::metrics,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        TrackView,
        TrackFailure,
        MatchView,
        RecognizeAnswer,
        routes::health::Health,
        routes::songs::SongList,
        routes::duplicates::DuplicateGroups,
        routes::tracks::Deleted,
        routes::similar::SimilarAnswer,
        crate::search::TrackHit,
        crate::search::TextAnswer,
        crate::search::Facets,
        crate::search::FacetCount,
        crate::search::combined::CombinedAnswer,
        crate::search::combined::RankedHit,
        crate::search::combined::Reason
    ))
)]
struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        // `/upload` is the same handler as `POST /tracks`, under the seed's name.
        if let Some(item) = doc.paths.paths.get("/tracks").cloned() {
            doc.paths.paths.insert("/upload".into(), item);
        }
        doc.info.version = env!("CARGO_PKG_VERSION").into();
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented() {
        let v: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        for p in [
            "/health",
            "/songs",
            "/tracks",
            "/upload",
            "/tracks/{id}",
            "/recognize",
            "/ws/stream",
            "/metrics",
        ] {
            assert!(v["paths"].get(p).is_some(), "{p} missing");
        }
        assert!(v["components"]["schemas"].get("ErrorBody").is_some());
    }
}

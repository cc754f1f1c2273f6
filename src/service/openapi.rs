//! The OpenAPI document, generated from the route annotations (utoipa) so
//! it cannot drift from the handlers' types.

use std::sync::OnceLock;

use serde::Serialize;
use utoipa::OpenApi;

use crate::service::auth::Access;
use crate::service::policy;
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
        let mut v = serde_json::to_value(&doc).unwrap_or_default();
        add_guard_answers(&mut v);
        serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into())
    })
}

fn error_response(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds the answers the guard in front of every route gives before any
/// handler runs, read from the same table the guard applies
/// ([`policy::ROUTES`]), so the document cannot promise less than the
/// server does: 401 where a key can be required, 403 `forbidden_origin` on
/// routes that change the library or open a stream, 429 (with
/// `Retry-After`) on rate-limited routes, and the server's own failures
/// (5XX) everywhere. Write routes also name the key schemes.
fn add_guard_answers(doc: &mut serde_json::Value) {
    use serde_json::json;
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer",
            "description": "`Authorization: Bearer <key>`, when the server has API keys"},
        "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "`X-API-Key: <key>`, when the server has API keys"}
    });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            let m = method.to_ascii_uppercase();
            let Some((_, _, policy)) = policy::ROUTES.iter().find(|(rm, rp, _)| *rm == m && rp == path) else {
                continue;
            };
            let responses = &mut op["responses"];
            let mut put = |status: &str, body: serde_json::Value| {
                if responses.get(status).is_none() {
                    responses[status] = body;
                }
            };
            if let Some(access) = policy.access {
                put(
                    "401",
                    error_response(if access == Access::Write {
                        "`unauthorized`: the server has API keys and none valid was sent"
                    } else {
                        "`unauthorized`: the server protects reads (`protect_reads`) and no valid key was sent"
                    }),
                );
            }
            // The guard's origin check: writes, and the stream (policy.rs).
            if m != "GET" || path == "/ws/stream" {
                put(
                    "403",
                    error_response("`forbidden_origin`: a browser page from another site (its `Origin`) may not do this"),
                );
            }
            if policy.limited {
                let mut r = error_response("`rate_limited`: over this client's rate limit");
                r["headers"] = json!({"Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer", "minimum": 1}
                }});
                put("429", r);
            }
            put(
                "5XX",
                error_response(
                    "The server's own failure: the store unavailable or locked, shutting down (503), full (507), or an internal error (500)",
                ),
            );
            if policy.access == Some(Access::Write) {
                op["security"] = json!([{"bearer": []}, {"api_key": []}]);
            }
        }
    }
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

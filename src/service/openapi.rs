//! The OpenAPI document, generated from the route annotations (utoipa) so
//! it cannot drift from the handlers' types.

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::answer::{MatchView, RecognizeAnswer};
use crate::service::auth::Access;
use crate::service::error::{ErrorBody, ErrorDetail};
use crate::service::policy;
use crate::service::routes;
use crate::service::state::{TrackFailure, TrackView};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sonica",
        description = "Self-hosted audio search: upload tracks, recognise clips and live streams, analyse music \
(tempo, key, loudness, bands, drum pattern), find tracks that sound alike and search text with filters. \
Errors are always `{\"error\": {\"code\", \"message\"}}`. When API keys are configured, POST and DELETE \
need `Authorization: Bearer <key>` or `X-API-Key: <key>`. Configured keys are admin keys; stored keys \
(`/admin/keys`, `sonica keys add`) belong to a tier (free, starter, producer, studio) whose quotas are counted \
and reported on every answer in `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers)."
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
        routes::media::waveform,
        routes::media::spectrogram,
        routes::media::audio,
        routes::mastering::analyze,
        routes::mastering::get,
        routes::mastering::preview,
        routes::mastering::list_references,
        routes::mastering::mark,
        routes::mastering::unmark,
        routes::mastering::similarity,
        routes::admin::list,
        routes::admin::create,
        routes::admin::revoke,
        routes::monitors::create,
        routes::monitors::list,
        routes::monitors::get,
        routes::monitors::delete,
        routes::monitors::plays,
        routes::monitors::events,
        routes::monitors::all_events,
        routes::webhooks::create,
        routes::webhooks::list,
        routes::webhooks::get,
        routes::webhooks::delete,
        routes::webhooks::deliveries,
        routes::webhooks::ping,
        routes::patterns::get,
        routes::patterns::midi,
        routes::patterns::preview,
        routes::patterns::search,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        TrackView,
        TrackFailure,
        MatchView,
        RecognizeAnswer,
        routes::recognize::ExplainedAnswer,
        crate::explain::Explanation,
        crate::explain::CandidateVotes,
        crate::explain::Histogram,
        routes::media::WaveformAnswer,
        routes::media::SpectrogramAnswer,
        routes::mastering::MarkBody,
        routes::admin::KeyView,
        routes::admin::KeyList,
        routes::admin::NewKeyBody,
        routes::monitors::MonitorView,
        routes::monitors::MonitorList,
        routes::monitors::NewMonitorBody,
        routes::monitors::PlayPage,
        crate::service::monitors::MonitorStatus,
        routes::webhooks::WebhookView,
        routes::webhooks::WebhookList,
        routes::webhooks::NewWebhookBody,
        routes::webhooks::DeliveryView,
        routes::webhooks::DeliveryLog,
        routes::webhooks::PingAnswer,
        routes::patterns::PatternSearchJson,
        routes::patterns::PatternSearchForm,
        crate::search::patterns::PatternFilters,
        crate::search::patterns::PatternAnswer,
        crate::search::patterns::TrackPatterns,
        crate::search::patterns::PatternMatch,
        crate::search::patterns::QueryInfo,
        routes::health::Health,
        routes::health::WatchView,
        routes::songs::SongList,
        routes::duplicates::DuplicateGroups,
        routes::tracks::Deleted,
        routes::similar::SimilarAnswer,
        routes::similar::KindName,
        routes::tracks::OnDuplicateName,
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
        refine(&mut v);
        serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into())
    })
}

/// What the derive cannot say: a unique `operationId` per operation (the
/// handlers share names such as `list`, and `/upload` is `/tracks` again),
/// and the "at least one of" rules of the search bodies.
fn refine(doc: &mut serde_json::Value) {
    use serde_json::json;
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in ops.iter_mut() {
                let name: String = format!("{method}{path}")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                op["operationId"] = json!(name.trim_end_matches('_'));
                // These routes read a blank query parameter as not given
                // (`search::params`), as HTML forms send them.
                if matches!(
                    path.as_str(),
                    "/search" | "/tracks/{id}/similar" | "/tracks/{id}/pattern.mid"
                ) {
                    for p in op
                        .get_mut("parameters")
                        .and_then(|p| p.as_array_mut())
                        .into_iter()
                        .flatten()
                    {
                        if p["in"] == "query" {
                            p["allowEmptyValue"] = json!(true);
                        }
                    }
                }
            }
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    // Forms: a part with a name no route reads is drained and ignored,
    // whatever it holds; its name must be a plain token (the
    // Content-Disposition header carries it).
    // Every part but the audio is text: a number or `true` arrives as its
    // text, and a blank field counts as not sent.
    for form in ["UploadForm", "ClipForm", "AnalyzeForm", "SimilarForm", "SearchForm"] {
        if schemas.get(form).is_none() {
            continue;
        }
        schemas[form]["propertyNames"] = json!({"pattern": "^[A-Za-z0-9_.-]{1,64}$"});
        let Some(props) = schemas[form]["properties"].as_object_mut() else {
            continue;
        };
        for (name, prop) in props.iter_mut() {
            if prop["format"] == "binary" {
                continue;
            }
            if ["title", "artist", "album", "genre", "q"].contains(&name.as_str()) {
                prop["type"] = json!(["string", "number", "boolean"]);
            }
            // A blank `q` or `track_id` is not sent, so it cannot satisfy
            // the "one of" rules below: those two stay strict.
            if name == "q" || name == "track_id" {
                continue;
            }
            let description = prop.as_object_mut().and_then(|o| o.remove("description"));
            *prop = json!({"anyOf": [prop.clone(), {"type": "string", "pattern": "^[ \\t\\r\\n]*$"}]});
            if let Some(d) = description {
                prop["description"] = d;
            }
        }
    }
    // JSON bodies: other fields are ignored when they are strings, numbers
    // or null (booleans, lists and objects are refused, `invalid_parameter`).
    for body in ["SimilarJson", "SearchJson"] {
        if schemas.get(body).is_some() {
            schemas[body]["additionalProperties"] = json!({"type": ["string", "number", "null"]});
        }
    }
    // Text fields of JSON bodies take a number as its text.
    for (body, field) in [("SearchJson", "q"), ("SearchJson", "genre"), ("Filters", "genre")] {
        if let Some(t) = schemas[body]["properties"][field].get_mut("type") {
            let nullable = t.as_array().is_some_and(|a| a.contains(&json!("null")));
            *t = if nullable {
                json!(["string", "number", "null"])
            } else {
                json!(["string", "number"])
            };
        }
    }
    // A clip or a track, never both (`invalid_parameter` otherwise).
    if schemas.get("SimilarForm").is_some() {
        schemas["SimilarForm"]["oneOf"] = json!([{"required": ["file"]}, {"required": ["track_id"]}]);
    }
    // Text, a clip, or both.
    if schemas.get("SearchForm").is_some() {
        schemas["SearchForm"]["anyOf"] = json!([{"required": ["q"]}, {"required": ["file"]}]);
    }
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
                    error_response(match access {
                        Access::Write => "`unauthorized`: the server has API keys and none valid was sent",
                        Access::Admin => "`unauthorized`: no valid admin key (one of the configured `api_keys`) was sent",
                        _ => "`unauthorized`: the server protects reads (`protect_reads`) and no valid key was sent, or a key sent is unknown or revoked",
                    }),
                );
            }
            // The guard's origin check (policy.rs decides which routes).
            let method = actix_web::http::Method::from_bytes(m.as_bytes()).unwrap_or(actix_web::http::Method::POST);
            if crate::service::policy::changes_state_or_streams(&method, path) {
                put(
                    "403",
                    error_response(
                        "`forbidden_origin`: a browser page from another site (its `Origin`) may not do this",
                    ),
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
            add_key_answers(responses, policy);
            if matches!(policy.access, Some(Access::Write | Access::Admin)) {
                op["security"] = json!([{"bearer": []}, {"api_key": []}]);
            }
        }
    }
}

/// Adds `text` to the answer documented for `status`, or documents it.
fn join(responses: &mut serde_json::Value, status: &str, text: &str) {
    match responses[status]["description"].as_str() {
        Some(d) if d.contains(text) => {}
        Some(d) => responses[status]["description"] = format!("{d}; or {text}").into(),
        None => responses[status] = error_response(text),
    }
}

/// What the guard answers a stored key (`policy.rs`, `admission.rs`):
/// 403 for the admin routes and a feature above its tier, 429 over one of
/// its quotas, and the `RateLimit-Policy` / `RateLimit` headers on every
/// answer.
fn add_key_answers(responses: &mut serde_json::Value, policy: &policy::Policy) {
    use serde_json::json;
    let Some(access) = policy.access else {
        return;
    };
    if access == Access::Admin {
        join(
            responses,
            "403",
            "`admin_required`: a stored key (only configured keys manage keys and webhooks)",
        );
    }
    if let Some(tier) = policy.tier {
        let code = crate::service::error::ApiError::TierRequired(tier).code();
        let text = format!("`{code}`: a stored key below the {tier} tier");
        join(responses, "403", &text);
    }
    let mut quotas = "`quota_requests_per_hour`".to_string();
    if let Some(q) = policy.counts {
        quotas.push_str(&format!(" or `quota_{}`", q.limit_name()));
    }
    join(
        responses,
        "429",
        &format!("{quotas}: over a stored key's quota (`Retry-After` says when its window resets)"),
    );
    let headers = json!({
        "RateLimit-Policy": {"description": "A stored key's quotas: `\"requests\";q=100;w=3600, …` (q the limit, w the window in seconds)", "schema": {"type": "string"}},
        "RateLimit": {"description": "Where each stands: `\"requests\";r=42;t=1800, …` (r left, t seconds until it resets)", "schema": {"type": "string"}}
    });
    let Some(all) = responses.as_object_mut() else {
        return;
    };
    for (status, r) in all.iter_mut() {
        if !(status.starts_with('2') || status == "429") {
            continue;
        }
        for (name, h) in headers.as_object().into_iter().flatten() {
            r["headers"][name] = h.clone();
        }
        if status == "429" {
            r["headers"]["Retry-After"] = json!({
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 1}
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_tiers_and_quotas_are_documented() {
        let v: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        let midi = &v["paths"]["/tracks/{id}/pattern.mid"]["get"]["responses"];
        assert!(midi["403"]["description"]
            .as_str()
            .unwrap()
            .contains("tier_producer_required"));
        let upload = &v["paths"]["/tracks"]["post"]["responses"];
        let d = upload["429"]["description"].as_str().unwrap();
        assert!(d.contains("rate_limited") && d.contains("quota_uploads_per_day"), "{d}");
        assert!(upload["201"]["headers"].get("RateLimit").is_some());
        let admin = &v["paths"]["/admin/keys"]["post"]["responses"];
        assert!(admin["403"]["description"].as_str().unwrap().contains("admin_required"));
        assert!(v["paths"]["/admin/keys/{id}"]["delete"]["responses"]
            .get("404")
            .is_some());
    }

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

    #[test]
    fn every_documented_route_declares_its_guard() {
        let doc: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(!paths.is_empty());
        for (path, ops) in paths {
            for method in ops.as_object().unwrap().keys() {
                let m = method.to_ascii_uppercase();
                assert!(
                    super::policy::ROUTES.iter().any(|(rm, rp, _)| *rp == path && *rm == m),
                    "{m} {path} has no line in policy::ROUTES"
                );
            }
        }
    }
}

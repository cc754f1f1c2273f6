//! `GET /tracks/{id}/similar` and `POST /search/similar`: tracks that sound
//! alike, filtered by genre, key and tempo.
//!
//! `POST /search/similar` takes either a multipart form (an audio clip in
//! `file`/`audio`, or a `track_id` field, plus the filters as fields) or a
//! JSON object with `track_id` (or `id`) and the filters at the top level or
//! inside `filters`, numbers or strings alike.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::pipeline::analyse_music;
use crate::search::params::{json_fields, Fields};
use crate::search::{similar, ParamError, RawSimilar, SimilarTo, TrackHit};
use crate::service::error::ApiError;
use crate::service::routes::analysis::MAX_ANALYZE_S;
use crate::service::routes::{blocking, parse_id};
use crate::service::state::AppState;
use crate::service::upload::read_form;
use crate::SonicaError;

/// Largest JSON body accepted.
const MAX_JSON: usize = 64 * 1024;

/// `{"query": …, "results": […]}`, as the CLI prints it too.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimilarAnswer {
    /// `{"id": N}` or `{"file": NAME}`.
    #[schema(value_type = Object)]
    pub query: serde_json::Value,
    pub results: Vec<TrackHit>,
}

/// Which sound vector a similarity search compares.
/// Only the OpenAPI schema reads it (the values a form field takes).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum KindName {
    Timbre,
    Rhythm,
    Mixed,
}

/// The multipart form of `POST /search/similar` (documentation only):
/// exactly one of `file` and `track_id`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SimilarForm {
    /// A clip to compare with (also accepted as `audio`).
    #[schema(required = false, value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// A track to compare with (also accepted as `id`).
    #[schema(required = false, minimum = 1, maximum = 4294967295.0)]
    pub track_id: i64,
    #[schema(required = false, max_length = 200)]
    pub genre: String,
    #[schema(
        required = false,
        pattern = r"^ *([A-Ga-g](#|b|♯|♭)? *([Mm]([Aa][Jj]([Oo][Rr])?|[Ii][Nn]([Oo][Rr])?)?)?)? *$"
    )]
    pub key: String,
    #[schema(required = false, minimum = 0, maximum = 1000)]
    pub tempo_min: f64,
    #[schema(required = false, minimum = 0, maximum = 1000)]
    pub tempo_max: f64,
    #[schema(required = false, minimum = 1, maximum = 1000)]
    pub top_k: u32,
    #[schema(required = false, minimum = -1, maximum = 1)]
    pub min_similarity: f64,
    #[schema(required = false, inline)]
    pub kind: KindName,
}

/// The JSON body of `POST /search/similar` (documentation only). The
/// filters may also stand at the top level; numbers may be sent as strings.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SimilarJson {
    /// The track to compare with (also accepted as `id`).
    #[schema(minimum = 1, maximum = 4294967295.0)]
    pub track_id: i64,
    #[schema(minimum = 1, maximum = 1000)]
    pub top_k: Option<u32>,
    #[schema(minimum = -1, maximum = 1)]
    pub min_similarity: Option<f64>,
    #[schema(inline)]
    pub kind: Option<KindName>,
    pub filters: Option<Filters>,
}

/// Filters on genre, key and tempo.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Filters {
    /// Genre, whole and case-insensitive.
    #[schema(max_length = 200)]
    pub genre: Option<String>,
    /// Key, e.g. "A minor", "Eb major", "F#m".
    #[schema(pattern = r"^ *([A-Ga-g](#|b|♯|♭)? *([Mm]([Aa][Jj]([Oo][Rr])?|[Ii][Nn]([Oo][Rr])?)?)?)? *$")]
    pub key: Option<String>,
    /// Lowest tempo, BPM (at most tempo_max).
    #[schema(minimum = 0, maximum = 1000)]
    pub tempo_min: Option<f64>,
    /// Highest tempo, BPM.
    #[schema(minimum = 0, maximum = 1000)]
    pub tempo_max: Option<f64>,
}

#[utoipa::path(get, path = "/tracks/{id}/similar", tag = "similarity",
    params(("id" = i64, Path, minimum = 1, maximum = 4294967295.0, description = "Track id"),
        ("genre" = Option<String>, Query, max_length = 200, description = "Genre, whole and case-insensitive (\"rock\")"),
        ("key" = Option<String>, Query, pattern = r"^ *([A-Ga-g](#|b|♯|♭)? *([Mm]([Aa][Jj]([Oo][Rr])?|[Ii][Nn]([Oo][Rr])?)?)?)? *$", description = "Key, e.g. \"A minor\", \"Eb major\", \"F#m\""),
        ("tempo_min" = Option<f64>, Query, minimum = 0, maximum = 1000, description = "Lowest tempo, BPM (inclusive; at most tempo_max)"),
        ("tempo_max" = Option<f64>, Query, minimum = 0, maximum = 1000, description = "Highest tempo, BPM (inclusive)"),
        ("top_k" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "How many results (default 10)"),
        ("min_similarity" = Option<f64>, Query, minimum = -1, maximum = 1, description = "Drop results less similar than this (cosine similarity)"),
        ("kind" = Option<KindName>, Query, description = "Which sound vector to compare (default mixed)")),
    responses(
        (status = 200, body = SimilarAnswer),
        (status = 400, description = "`bad_request` (bad id) or `invalid_parameter` (tempo_min > tempo_max, unknown key, top_k out of 1–1000, …)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`, or `analysis_missing`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`, or `analysis_pending` (recognisable, analysis still running)", body = crate::service::error::ErrorBody)))]
pub async fn by_track(
    state: web::Data<AppState>,
    id: web::Path<String>,
    raw: web::Query<RawSimilar>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let p = raw.parse().map_err(SonicaError::from)?;
    let st = state.clone();
    let results = blocking(move || Ok(similar(&st.index, &st.music, &SimilarTo::Track(id), &p)?)).await?;
    Ok(HttpResponse::Ok().json(SimilarAnswer {
        query: serde_json::json!({"id": id}),
        results,
    }))
}

/// The parts of a request body that a search route may read.
pub struct Body {
    pub fields: Fields,
    pub audio: Option<crate::service::upload::Received>,
}

/// Reads a multipart form or a JSON object; anything else is a 415.
pub async fn read_body(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Body, ApiError> {
    let ctype = crate::service::routes::content_type(req);
    if ctype.starts_with("application/json") {
        let v = crate::service::routes::json_value(payload, MAX_JSON).await?;
        let fields = json_fields(&v).map_err(SonicaError::from)?;
        return Ok(Body { fields, audio: None });
    }
    if ctype.starts_with("multipart/form-data") {
        let mut form = read_form(req, payload, &state.tmp_dir, state.config.max_upload_bytes).await?;
        return Ok(Body {
            fields: std::mem::take(&mut form.text),
            audio: form.audio.take(),
        });
    }
    Err(ApiError::UnsupportedContentType(
        "send multipart/form-data (with an audio `file`) or application/json".into(),
    ))
}

/// `track_id` (or `id`) from the fields, if given.
pub fn track_id_field(f: &mut Fields) -> Result<Option<u32>, ApiError> {
    match f.remove("track_id").or_else(|| f.remove("id")) {
        Some(raw) => Ok(Some(parse_id(raw.trim())?)),
        None => Ok(None),
    }
}

#[utoipa::path(post, path = "/search/similar", tag = "similarity",
    request_body(description = "A multipart form with an audio `file` (or `audio`) or a `track_id`, plus the filters as fields; or JSON `{\"track_id\": N, \"top_k\": 10, \"kind\": \"mixed\", \"filters\": {\"genre\", \"key\", \"tempo_min\", \"tempo_max\"}, \"min_similarity\"}`",
        content((SimilarForm = "multipart/form-data"), (SimilarJson = "application/json"))),
    responses(
        (status = 200, body = SimilarAnswer),
        (status = 400, description = "`invalid_parameter` (both or neither of a clip and a track_id, tempo_min > tempo_max, a bad filter), `bad_request` (bad track_id, malformed body), `missing_field` or `empty_file`", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`, or `analysis_missing`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`, or `analysis_pending` (recognisable, analysis still running)", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` or `unsupported_content_type` (neither a multipart form nor JSON)", body = crate::service::error::ErrorBody),
        (status = 422, description = "The clip is corrupt or too short to analyse", body = crate::service::error::ErrorBody)))]
pub async fn by_body(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut body = read_body(&req, payload, &state).await?;
    let track = track_id_field(&mut body.fields)?;
    let p = RawSimilar::from_fields(&mut body.fields)
        .parse()
        .map_err(SonicaError::from)?;
    let st = state.clone();
    let answer = match (track, body.audio) {
        (Some(_), Some(_)) => {
            return Err(
                SonicaError::from(ParamError("send either an audio clip or a track_id, not both".into())).into(),
            )
        }
        (Some(id), None) => {
            let results = blocking(move || Ok(similar(&st.index, &st.music, &SimilarTo::Track(id), &p)?)).await?;
            SimilarAnswer {
                query: serde_json::json!({"id": id}),
                results,
            }
        }
        (None, Some(audio)) => {
            let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
            let name = audio.name.clone().unwrap_or_else(|| "upload".into());
            let results = blocking(move || {
                let a = analyse_music(audio.file.path(), None, None, MAX_ANALYZE_S, Default::default()).or_else(
                    |e| match e {
                        // A long upload: its first stretch is plenty to compare.
                        SonicaError::Decode(crate::decode::DecodeError::TooLong { .. }) => analyse_music(
                            audio.file.path(),
                            None,
                            Some(MAX_ANALYZE_S),
                            MAX_ANALYZE_S,
                            Default::default(),
                        ),
                        e => Err(e),
                    },
                )?;
                Ok(similar(&st.index, &st.music, &SimilarTo::Clip(Box::new(a)), &p)?)
            })
            .await?;
            SimilarAnswer {
                query: serde_json::json!({"file": name}),
                results,
            }
        }
        (None, None) => {
            return Err(SonicaError::from(ParamError(
                "send an audio clip (multipart field `file` or `audio`) or a `track_id`".into(),
            ))
            .into())
        }
    };
    Ok(HttpResponse::Ok().json(answer))
}

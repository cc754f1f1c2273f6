//! Section drum patterns as objects: `GET /patterns/{id}`, its MIDI, a
//! ≤ 15 s preview of the section's audio, and `POST /search/patterns`.
//!
//! A pattern's id is its track's id × 32 + the section's index
//! (`sonica_schema::PatternId`); the pattern itself lives in the track's
//! analysis record, so these routes read one record and never a second
//! tree that could disagree with it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sonica_schema::{PatternId, TrackAnalysis, TrackRecord};

use crate::analysis::{pattern_json, pattern_midi, section_json};
use crate::mastering::assistant::wav16;
use crate::pipeline::analyse_music;
use crate::pipeline::excerpt::excerpt;
use crate::search::patterns::{search_patterns, PatternAnswer, PatternFilters, PatternParams, PatternSource};
use crate::search::{track_analysis, ParamError};
use crate::service::error::ApiError;
use crate::service::routes::analysis::MAX_ANALYZE_S;
use crate::service::routes::{blocking, json_value};
use crate::service::state::AppState;
use crate::service::upload::read_form;
use crate::SonicaError;

/// Longest preview, seconds.
pub const PREVIEW_S: f64 = 15.0;
/// Largest JSON body of `POST /search/patterns`.
const MAX_JSON: usize = 64 * 1024;

/// A pattern id from the path: a positive whole number.
pub fn parse_pattern_id(raw: &str) -> Result<PatternId, ApiError> {
    raw.parse::<u64>()
        .ok()
        .map(PatternId)
        .filter(|p| p.0 >= sonica_schema::MAX_SECTIONS as u64)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "pattern id must be a whole number of at least 32 (track id × 32 + section), not {:?}",
                raw.chars().take(40).collect::<String>()
            ))
        })
}

/// The track, its analysis and the section index of a stored pattern.
fn stored(state: &AppState, id: PatternId) -> Result<(TrackRecord, TrackAnalysis, usize), ApiError> {
    let track = id.track().ok_or(SonicaError::UnknownPattern(id.0))?;
    let a = track_analysis(&state.index, track).map_err(|e| match e {
        SonicaError::Index(sonica_index::IndexError::UnknownTrack(_)) => SonicaError::UnknownPattern(id.0),
        e => e,
    })?;
    let s = id.section();
    if a.sections.get(s).and_then(|x| x.pattern.as_ref()).is_none() {
        return Err(SonicaError::UnknownPattern(id.0).into());
    }
    let r = state.index.get(track)?.ok_or(SonicaError::UnknownPattern(id.0))?;
    Ok((r, a, s))
}

#[utoipa::path(get, path = "/patterns/{id}", tag = "patterns",
    params(("id" = i64, Path, minimum = 32, description = "Pattern id (track id × 32 + section index)")),
    responses(
        (status = 200, description = "The section (start, end, label, function) and its pattern: grid, `midi_data` (hits in beats), tempo, key, time signature, quality; with its track", body = Object),
        (status = 400, description = "`bad_request`: not a pattern id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_pattern`, or `analysis_missing`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready` or `analysis_pending`", body = crate::service::error::ErrorBody)))]
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_pattern_id(&id)?;
    let st = state.clone();
    let body = blocking(move || {
        let (r, a, s) = stored(&st, id)?;
        let section = &a.sections[s];
        let mut v = section_json(&a, s, section, Some(id.0));
        v["pattern"] = pattern_json(section.pattern.as_ref().expect("checked by stored"), Some(id.0));
        v["id"] = serde_json::json!(id.0);
        v["track"] = serde_json::json!({
            "id": r.id, "title": r.title, "artist": r.artist, "genre": r.genre,
        });
        v["preview_url"] = serde_json::json!(format!("/patterns/{}/preview", id.0));
        v["midi_url"] = serde_json::json!(format!("/patterns/{}/midi", id.0));
        Ok(v)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/patterns/{id}/midi", tag = "patterns",
    params(("id" = i64, Path, minimum = 32, description = "Pattern id")),
    responses(
        (status = 200, description = "Standard MIDI file of the section's drum hits: kick (36), snare (38) and hi-hat (42) on channel 10, at the track's tempo", content_type = "audio/midi"),
        (status = 400, description = "`bad_request`: not a pattern id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_pattern`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready` or `analysis_pending`", body = crate::service::error::ErrorBody)))]
pub async fn midi(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_pattern_id(&id)?;
    let st = state.clone();
    let bytes = blocking(move || {
        let (_, a, s) = stored(&st, id)?;
        let sec = &a.sections[s];
        let (start, end) = (a.start_s + f64::from(sec.start_s), a.start_s + f64::from(sec.end_s));
        Ok(pattern_midi(&a, Some(start), Some(end)).map_err(SonicaError::from)?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("audio/midi")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"pattern-{}.mid\"", id.0),
        ))
        .body(bytes))
}

#[utoipa::path(get, path = "/patterns/{id}/preview", tag = "patterns",
    params(("id" = i64, Path, minimum = 32, description = "Pattern id")),
    responses(
        (status = 200, description = "At most 15 s of the section's audio, from its start, as 16-bit PCM WAV (plays in every browser)", content_type = "audio/wav"),
        (status = 400, description = "`bad_request`: not a pattern id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_pattern`, or `not_found` (the track's audio file is gone)", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready` or `analysis_pending`", body = crate::service::error::ErrorBody),
        (status = 422, description = "The track's audio no longer decodes", body = crate::service::error::ErrorBody)))]
pub async fn preview(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_pattern_id(&id)?;
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let st = state.clone();
    let bytes = blocking(move || {
        let (r, a, s) = stored(&st, id)?;
        let sec = &a.sections[s];
        let len = f64::from(sec.duration_s()).clamp(0.5, PREVIEW_S);
        let x = excerpt(std::path::Path::new(&r.path), a.start_s + f64::from(sec.start_s), len)?;
        Ok(wav16(&x.samples, x.rate, x.channels))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(bytes))
}

/// The JSON body of `POST /search/patterns`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternSearchJson {
    /// Search like this stored pattern.
    #[serde(default)]
    pub pattern_id: Option<u64>,
    /// Or like section `section` of track `track_id`.
    #[serde(default)]
    pub track_id: Option<u32>,
    #[serde(default)]
    pub section: Option<usize>,
    /// Leave out matches below this similarity (−1 to 1; default 0).
    #[serde(default)]
    pub min_similarity: Option<f64>,
    /// Most matching sections (1–100; default 20).
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub filters: PatternFilters,
}

/// The multipart form of `POST /search/patterns` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PatternSearchForm {
    /// A clip whose drum pattern to search with (also accepted as `audio`).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub min_similarity: Option<f64>,
    pub limit: Option<u32>,
    /// The filters as JSON: `{"tempo_range": [90, 110], "genre": ["rock"], "key": ["A minor"]}`.
    pub filters: Option<String>,
}

fn source_of(b: &PatternSearchJson) -> Result<Option<PatternSource>, ApiError> {
    match (b.pattern_id, b.track_id, b.section) {
        (Some(p), None, None) => Ok(Some(PatternSource::Pattern(parse_pattern_id(&p.to_string())?))),
        (None, Some(t), Some(s)) if t > 0 => Ok(Some(PatternSource::Section { track: t, section: s })),
        (None, None, None) => Ok(None),
        _ => Err(SonicaError::from(ParamError(
            "give either `pattern_id`, or `track_id` (a positive integer) with `section`, or upload a clip".into(),
        ))
        .into()),
    }
}

#[utoipa::path(post, path = "/search/patterns", tag = "patterns",
    request_body(description = "JSON `{\"pattern_id\": N}` or `{\"track_id\": N, \"section\": I}`, with optional `min_similarity`, `limit` and `filters: {tempo_range: [min, max], genre: [...], key: [...]}`; or a multipart form with an audio `file` and the same fields (`filters` as a JSON string)",
        content((PatternSearchJson = "application/json"), (PatternSearchForm = "multipart/form-data"))),
    responses(
        (status = 200, description = "Matches grouped by source track, best first, with `total_matches` and `query_info`", body = PatternAnswer),
        (status = 400, description = "`invalid_parameter` (no query or two, bad filter, limit or similarity), `bad_request` (malformed body), `missing_field` or `empty_file`", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_pattern` or `unknown_track`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready` or `analysis_pending`", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` or `unsupported_content_type`", body = crate::service::error::ErrorBody),
        (status = 422, description = "`no_pattern` (the clip has no steady drums), or a corrupt or too short clip", body = crate::service::error::ErrorBody)))]
pub async fn search(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ctype = crate::service::routes::content_type(&req);
    let (body, audio) = if ctype.starts_with("application/json") {
        let v = json_value(payload, MAX_JSON).await?;
        if !v.is_object() {
            return Err(ApiError::BadRequest("the body must be a JSON object".into()));
        }
        let b: PatternSearchJson =
            serde_json::from_value(v).map_err(|e| SonicaError::from(ParamError(format!("bad search: {e}"))))?;
        (b, None)
    } else if ctype.starts_with("multipart/form-data") {
        let mut form = read_form(&req, payload, &state.tmp_dir, state.config.max_upload_bytes).await?;
        let audio = form.take_audio()?;
        let mut f = std::mem::take(&mut form.text);
        let num = |k: &str, f: &mut std::collections::HashMap<String, String>| -> Result<Option<f64>, ApiError> {
            Ok(crate::search::params::parse_number(k, &f.remove(k)).map_err(SonicaError::from)?)
        };
        let filters = match f.remove("filters") {
            Some(raw) if !raw.trim().is_empty() => serde_json::from_str(&raw)
                .map_err(|e| SonicaError::from(ParamError(format!("filters must be a JSON object: {e}"))))?,
            _ => PatternFilters::default(),
        };
        let b = PatternSearchJson {
            min_similarity: num("min_similarity", &mut f)?,
            limit: num("limit", &mut f)?,
            filters,
            ..Default::default()
        };
        (b, Some(audio))
    } else {
        return Err(ApiError::UnsupportedContentType(
            "send application/json (a pattern or section) or multipart/form-data (with an audio `file`)".into(),
        ));
    };
    let params = PatternParams::parse(body.min_similarity, body.limit, &body.filters).map_err(SonicaError::from)?;
    let (params, midi) = tier_view(&req, params);
    let st = state.clone();
    let answer = match (source_of(&body)?, audio) {
        (Some(_), Some(_)) => {
            return Err(
                SonicaError::from(ParamError("send either a clip or a pattern/section, not both".into())).into(),
            )
        }
        (Some(source), None) => {
            blocking(move || Ok(search_patterns(&st.index, &st.music, &source, &params, midi)?)).await?
        }
        (None, Some(audio)) => {
            let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
            blocking(move || {
                // A query clip longer than the cap is refused
                // (`audio_too_long`), as its header says, before decoding.
                let a = analyse_music(audio.file.path(), None, None, MAX_ANALYZE_S, Default::default())?;
                let source = PatternSource::Clip(Box::new(a));
                Ok(search_patterns(&st.index, &st.music, &source, &params, midi)?)
            })
            .await?
        }
        (None, None) => {
            return Err(SonicaError::from(ParamError(
                "give `pattern_id`, or `track_id` with `section`, or upload a clip as `file`".into(),
            ))
            .into())
        }
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// What the caller's tier allows of a pattern search: how many results
/// (a free key's share is capped), and whether MIDI downloads are open to it.
fn tier_view(req: &HttpRequest, mut params: PatternParams) -> (PatternParams, bool) {
    if let Some(cap) = crate::service::tiers::pattern_results_limit(req) {
        params.limit = params.limit.min(cap.max(1));
    }
    (params, crate::service::tiers::midi_allowed(req))
}

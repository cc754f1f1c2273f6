//! The mastering assistant over HTTP: analyse a mix against references or
//! a genre (`POST /api/analyze`), read an analysis back with its preview
//! (`GET /api/analysis/{id}`, `…/preview.wav`), keep the reference library
//! (`GET`/`POST /api/references`, `DELETE /api/references/{track_id}`) and
//! find the closest references (`POST /api/similarity/{analysis_id}`).
//! The work is in [`crate::mastering::assistant`], shared with the CLI.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::mastering::assistant::{self, Analysis, TargetChoice};
use crate::mastering::compare::Level;
use crate::search::ParamError;
use crate::service::error::ApiError;
use crate::service::routes::{blocking, parse_id};
use crate::service::state::AppState;
use crate::service::upload::read_form;
use crate::SonicaError;

/// Largest JSON body of `POST /api/references`.
const MAX_JSON: usize = 16 * 1024;
/// Most references `/api/similarity` returns.
const MAX_TOP_K: usize = 100;

fn param(msg: String) -> ApiError {
    SonicaError::Param(ParamError(msg)).into()
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

/// An analysis id: a whole number from 1.
fn parse_analysis_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("analysis id must be a positive integer, not {:?}", short(raw))))
}

fn parse_level(raw: Option<&str>) -> Result<Level, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Level::Suggestive),
        Some(s) => Level::parse(s).ok_or_else(|| {
            param(format!(
                "recommendation_level must be informative, suggestive or prescriptive, not {:?}",
                short(s)
            ))
        }),
    }
}

/// `references` as comma-separated track ids.
fn parse_references(raw: &str) -> Result<Vec<u32>, ApiError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>().ok().filter(|&id| id > 0).ok_or_else(|| {
                param(format!(
                    "references must be track ids separated by commas, not {:?}",
                    short(s)
                ))
            })
        })
        .collect()
}

/// The target a request asks for: references win over a genre; one of
/// them is needed.
fn choice(references: Option<&str>, genre: Option<&str>) -> Result<TargetChoice, ApiError> {
    let refs = references.map(parse_references).transpose()?.unwrap_or_default();
    let genre = genre.map(str::trim).filter(|g| !g.is_empty());
    match (refs.is_empty(), genre) {
        (false, None) => Ok(TargetChoice::References(refs)),
        (true, Some(g)) => Ok(TargetChoice::Genre(g.to_string())),
        (false, Some(_)) => Err(param("give references or a genre, not both".into())),
        (true, None) => Err(SonicaError::from(crate::mastering::MasteringError::NoTarget).into()),
    }
}

/// The whole answer for an analysis.
pub fn analysis_json(a: &Analysis) -> Value {
    let r = &a.record;
    json!({
        "id": r.id,
        "created_unix": r.created_unix,
        "name": r.name,
        "recommendation_level": r.level,
        "source": r.source,
        "mix": r.profile,
        "target": r.target,
        "comparison": a.comparison,
        "preset": a.comparison.preset(),
        "preview_url": r.has_preview.then(|| format!("/api/analysis/{}/preview.wav", r.id)),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeQuery {
    /// Compare with this genre's references (or its built-in target).
    pub genre: Option<String>,
    /// Compare with these reference track ids (comma-separated).
    pub references: Option<String>,
    /// `informative`, `suggestive` (default) or `prescriptive`.
    pub recommendation_level: Option<String>,
}

#[utoipa::path(post, path = "/api/analyze", tag = "mastering",
    params(AnalyzeQuery),
    request_body(content = Object, content_type = "multipart/form-data", description = "`file` (or `audio`): the mix. `genre`, `references` and `recommendation_level` may be form fields instead of query parameters."),
    responses(
        (status = 201, description = "The stored analysis: `id`, `mix` (the profile), `target`, `comparison` (bands, recommendations, and when prescriptive the EQ curve and gain), `preset`, `preview_url`", body = Object),
        (status = 400, description = "`missing_field`, `empty_file`, `invalid_parameter` (no target, both references and a genre, a bad genre or level) or `bad_request`", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_reference` or `unknown_genre`", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` or `unsupported_content_type`", body = crate::service::error::ErrorBody),
        (status = 422, description = "`audio_silent`, corrupt or too long audio", body = crate::service::error::ErrorBody)))]
pub async fn analyze(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<AnalyzeQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let mut form = read_form(&req, payload, &state.tmp_dir, state.config.max_upload_bytes).await?;
    // A query parameter wins over a form field of the same name.
    let mut pick = |name: &str, query: Option<String>| query.or_else(|| form.text.remove(name));
    let level_raw = pick("recommendation_level", q.recommendation_level);
    let refs_raw = pick("references", q.references);
    let genre_raw = pick("genre", q.genre);
    let level = parse_level(level_raw.as_deref())?;
    let choice = choice(refs_raw.as_deref(), genre_raw.as_deref())?;
    let audio = form.take_audio()?;
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let st = state.clone();
    let body = blocking(move || {
        let a = assistant::analyze(
            &st.mastering,
            audio.file.path(),
            audio.name.clone(),
            &choice,
            level,
            st.config.analyses_keep,
        )?;
        Ok(analysis_json(&a))
    })
    .await?;
    let location = format!("/api/analysis/{}", body["id"]);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body))
}

#[utoipa::path(get, path = "/api/analysis/{id}", tag = "mastering",
    params(("id" = u64, Path, minimum = 1, description = "Analysis id")),
    responses(
        (status = 200, description = "The stored analysis, as `POST /api/analyze` answered it", body = Object),
        (status = 400, description = "`bad_request`: the id is not a positive whole number", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_analysis` (never made, or dropped by retention)", body = crate::service::error::ErrorBody)))]
pub async fn get(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = parse_analysis_id(&path)?;
    let st = state.clone();
    let body = blocking(move || Ok(analysis_json(&assistant::stored(&st.mastering, id)?))).await?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/api/analysis/{id}/preview.wav", tag = "mastering",
    params(("id" = u64, Path, minimum = 1, description = "Analysis id")),
    responses(
        (status = 200, description = "The mix's first 30 s with the suggested EQ curve and loudness change, through a true-peak limiter at −1 dBTP; 16-bit WAV", content_type = "audio/wav"),
        (status = 400, description = "`bad_request`: the id is not a positive whole number", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_analysis`", body = crate::service::error::ErrorBody),
        (status = 429, description = "`rate_limited`", body = crate::service::error::ErrorBody)))]
pub async fn preview(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = parse_analysis_id(&path)?;
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let st = state.clone();
    let wav = blocking(move || Ok(assistant::preview_wav(&st.mastering, id)?)).await?;
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"sonica-preview-{id}.wav\""),
        ))
        .body(wav))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReferencesQuery {
    /// Only this genre's references.
    pub genre: Option<String>,
}

fn reference_json(state: &AppState, r: &sonica_schema::mastering_record::ReferenceRecord) -> Value {
    let t = state.index.get(r.track_id).ok().flatten();
    json!({
        "track_id": r.track_id,
        "title": t.as_ref().map(|t| t.title.clone()),
        "artist": t.as_ref().and_then(|t| t.artist.clone()),
        "genre": r.genre,
        "marked_unix": r.marked_unix,
        "lufs": r.profile.lufs,
        "lra_lu": r.profile.lra_lu,
        "crest_db": r.profile.crest_db,
        "width": r.profile.width,
        "true_peak_dbtp": r.profile.true_peak_dbtp,
    })
}

#[utoipa::path(get, path = "/api/references", tag = "mastering",
    params(ReferencesQuery),
    responses(
        (status = 200, description = "`references` (of the genre, when given) and `genres`: every genre with its reference count and whether a built-in target exists", body = Object),
        (status = 400, description = "`invalid_parameter`: a malformed genre, or an unknown parameter", body = crate::service::error::ErrorBody)))]
pub async fn list_references(
    q: web::Query<ReferencesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let genre = q
        .into_inner()
        .genre
        .filter(|g| !g.trim().is_empty())
        .map(|g| assistant::genre(&g))
        .transpose()
        .map_err(SonicaError::from)?;
    let st = state.clone();
    let body = blocking(move || {
        let refs = st.mastering.references(genre.as_deref()).map_err(SonicaError::from)?;
        let genres: Vec<Value> = assistant::known_genres(&st.mastering)?
            .into_iter()
            .map(|(g, n, b)| json!({"genre": g, "references": n, "built_in": b}))
            .collect();
        Ok(json!({
            "references": refs.iter().map(|r| reference_json(&st, r)).collect::<Vec<_>>(),
            "genres": genres,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `{"track_id", "genre"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkBody {
    pub track_id: u32,
    pub genre: String,
}

async fn read_json<T: serde::de::DeserializeOwned>(req: &HttpRequest, payload: web::Payload) -> Result<T, ApiError> {
    let ctype = crate::service::routes::content_type(req);
    if !ctype.starts_with("application/json") {
        return Err(ApiError::UnsupportedContentType("send application/json".into()));
    }
    let v = crate::service::routes::json_value(payload, MAX_JSON).await?;
    // serde would also take the fields as an array, in order: not the
    // documented shape, so refused.
    if !v.is_object() {
        return Err(ApiError::BadRequest("the JSON body must be an object".into()));
    }
    serde_json::from_value(v).map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
}

#[utoipa::path(post, path = "/api/references", tag = "mastering",
    request_body = MarkBody,
    responses(
        (status = 201, description = "The track is a reference of the genre (marking again changes the genre); its file was measured", body = Object),
        (status = 400, description = "`bad_request` (malformed JSON) or `invalid_parameter` (a bad genre)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_content_type`", body = crate::service::error::ErrorBody),
        (status = 422, description = "`audio_silent`, or the track's file cannot be decoded", body = crate::service::error::ErrorBody)))]
pub async fn mark(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: MarkBody = read_json(&req, payload).await?;
    crate::search::live_record(&state.index, body.track_id)?;
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let st = state.clone();
    let answer = blocking(move || {
        let r = assistant::mark_reference(&st.index, &st.mastering, body.track_id, &body.genre)?;
        Ok(reference_json(&st, &r))
    })
    .await?;
    Ok(HttpResponse::Created().json(answer))
}

#[utoipa::path(delete, path = "/api/references/{track_id}", tag = "mastering",
    params(("track_id" = u32, Path, description = "Track id")),
    responses(
        (status = 204, description = "The mark is gone (the track stays)"),
        (status = 400, description = "`bad_request`: malformed id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_reference`: the track is not a reference", body = crate::service::error::ErrorBody)))]
pub async fn unmark(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let st = state.clone();
    blocking(move || {
        if st.mastering.unmark(id).map_err(SonicaError::from)? {
            Ok(())
        } else {
            Err(SonicaError::from(crate::mastering::MasteringError::UnknownReference(id)).into())
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SimilarityQuery {
    /// Only references of this genre.
    pub genre: Option<String>,
    /// How many (1–100, default 5).
    pub top_k: Option<String>,
}

#[utoipa::path(post, path = "/api/similarity/{analysis_id}", tag = "mastering",
    params(("analysis_id" = u64, Path, minimum = 1, description = "Analysis id"), SimilarityQuery),
    responses(
        (status = 200, description = "`results`: the closest references by mastering vector (cosine), each with `track_id`, `title`, `genre`, `similarity`", body = Object),
        (status = 400, description = "`bad_request` (bad id) or `invalid_parameter` (top_k, genre)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_analysis`", body = crate::service::error::ErrorBody)))]
pub async fn similarity(
    path: web::Path<String>,
    q: web::Query<SimilarityQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_analysis_id(&path)?;
    let q = q.into_inner();
    let top_k = match q.top_k.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 5,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=MAX_TOP_K).contains(k))
            .ok_or_else(|| {
                param(format!(
                    "top_k must be a whole number from 1 to {MAX_TOP_K}, not {:?}",
                    short(s)
                ))
            })?,
    };
    let genre = q.genre.filter(|g| !g.trim().is_empty());
    let st = state.clone();
    let body = blocking(move || {
        let hits = assistant::closest_references(&st.mastering, id, genre.as_deref(), top_k)?;
        let results: Vec<Value> = hits
            .iter()
            .map(|(r, sim)| {
                let mut v = reference_json(&st, r);
                v["similarity"] = json!((f64::from(*sim) * 1000.0).round() / 1000.0);
                v
            })
            .collect();
        Ok(json!({"analysis_id": id, "results": results}))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

//! `GET /search` (text with filters and facet counts) and `POST /search`
//! (text and an audio clip together: one ranked list with reasons).

use actix_web::{web, HttpRequest, HttpResponse};
use sonica_index::text::TextQuery;
use sonica_index::VectorKind;

use crate::analyse::analyse_music;
use crate::search::combined::{combined, CombinedAnswer, CombinedQuery, Identified};
use crate::search::params::{parse_count, Fields, RawFilter, MAX_OFFSET};
use crate::search::{text_search, ParamError, TextAnswer};
use crate::service::error::ApiError;
use crate::service::recognition::recognize_file;
use crate::service::routes::analysis::MAX_ANALYZE_S;
use crate::service::routes::blocking;
use crate::service::routes::similar::read_body;
use crate::service::state::AppState;
use crate::SonicaError;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page.
pub const MAX_LIMIT: usize = 1000;
/// Longest query text, in characters.
pub const MAX_TEXT: usize = 500;

/// `GET /search` parameters, as written.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawSearch {
    /// Words to find in title, artist, album and genre (prefix and typo tolerant). Optional.
    pub q: Option<String>,
    pub genre: Option<String>,
    pub key: Option<String>,
    pub tempo_min: Option<String>,
    pub tempo_max: Option<String>,
    /// Page size, 1–1000 (default 20).
    pub limit: Option<String>,
    /// Results to skip (default 0).
    pub offset: Option<String>,
}

/// Checks a query text.
fn text_param(q: Option<String>) -> Result<Option<String>, ParamError> {
    match q {
        Some(t) if t.chars().count() > MAX_TEXT => Err(ParamError(format!("q is longer than {MAX_TEXT} characters"))),
        Some(t) if t.trim().is_empty() => Ok(None),
        t => Ok(t),
    }
}

impl RawSearch {
    pub fn parse(self) -> Result<TextQuery, ParamError> {
        let filter = RawFilter {
            genre: self.genre,
            key: self.key,
            tempo_min: self.tempo_min,
            tempo_max: self.tempo_max,
        }
        .parse()?;
        Ok(TextQuery {
            text: text_param(self.q)?,
            filter,
            limit: parse_count("limit", &self.limit, 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT),
            offset: parse_count("offset", &self.offset, 0, MAX_OFFSET)?.unwrap_or(0),
        })
    }
}

#[utoipa::path(get, path = "/search", tag = "search",
    params(RawSearch),
    responses(
        (status = 200, body = TextAnswer),
        (status = 400, body = crate::service::openapi::ErrorBody)))]
pub async fn text(state: web::Data<AppState>, raw: web::Query<RawSearch>) -> Result<HttpResponse, ApiError> {
    let q = raw.into_inner().parse().map_err(SonicaError::from)?;
    let st = state.clone();
    let answer = blocking(move || Ok(text_search(&st.index, &st.music, &q)?)).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// The checked fields of `POST /search`.
fn combined_query(f: &mut Fields) -> Result<CombinedQuery, ParamError> {
    let text = text_param(f.remove("q").or_else(|| f.remove("text")))?;
    let filter = RawFilter {
        genre: f.remove("genre"),
        key: f.remove("key"),
        tempo_min: f.remove("tempo_min"),
        tempo_max: f.remove("tempo_max"),
    }
    .parse()?;
    let limit = parse_count("limit", &f.remove("limit"), 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let kind = match f.remove("kind") {
        Some(k) => VectorKind::parse(&k)
            .ok_or_else(|| ParamError(format!("kind must be timbre, rhythm or mixed, not {k:?}")))?,
        None => VectorKind::Mixed,
    };
    Ok(CombinedQuery {
        text,
        filter,
        limit,
        kind,
    })
}

#[utoipa::path(post, path = "/search", tag = "search",
    request_body(description = "multipart/form-data: `q` (text), an audio `file` (or `audio`), and optional `genre`, `key`, `tempo_min`, `tempo_max`, `limit`, `kind`; JSON with the same fields (text only) also works. A clip that is a known track is identified and leads the list; the rest are ranked by similarity to the clip, restricted to and boosted by the text."),
    responses(
        (status = 200, body = CombinedAnswer),
        (status = 400, body = crate::service::openapi::ErrorBody),
        (status = 413, body = crate::service::openapi::ErrorBody),
        (status = 415, body = crate::service::openapi::ErrorBody),
        (status = 422, body = crate::service::openapi::ErrorBody),
        (status = 429, body = crate::service::openapi::ErrorBody)))]
pub async fn mixed(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut body = read_body(&req, payload, &state).await?;
    let q = combined_query(&mut body.fields).map_err(SonicaError::from)?;
    if q.text.is_none() && body.audio.is_none() {
        return Err(SonicaError::from(ParamError("send a text `q`, an audio `file`, or both".into())).into());
    }
    let _turn = match body.audio {
        Some(_) => Some(state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?),
        None => None,
    };
    let st = state.clone();
    let audio = body.audio;
    let answer = blocking(move || {
        let (identified, clip) = match &audio {
            Some(a) => {
                let path = a.file.path();
                let identified = recognize_file(&st, path)?.map(|m| Identified {
                    id: m.id,
                    confidence: m.confidence,
                    offset_s: m.offset_s,
                });
                // A clip too short to analyse can still be identified.
                let clip = match analyse_music(path, None, Some(MAX_ANALYZE_S), MAX_ANALYZE_S) {
                    Ok(c) => Some(c),
                    Err(SonicaError::Analysis(_)) if identified.is_some() => None,
                    Err(e) => return Err(e.into()),
                };
                (identified, clip)
            }
            None => (None, None),
        };
        Ok(combined(&st.index, &st.music, &q, identified, clip.as_ref())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

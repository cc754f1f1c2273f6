//! `GET /search` (text with filters and facet counts) and `POST /search`
//! (text and an audio clip together: one ranked list with reasons).

use actix_web::{web, HttpRequest, HttpResponse};
use sonica_index::TextQuery;
use sonica_index::VectorKind;

use crate::pipeline::analyse_music;
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
    #[param(value_type = String, required = false, max_length = 500)]
    pub q: Option<String>,
    /// Genre, whole and case-insensitive ("rock").
    #[param(value_type = String, required = false, max_length = 200)]
    pub genre: Option<String>,
    /// Key, e.g. "A minor", "Eb major", "F#m".
    #[param(value_type = String, required = false, pattern = r"^ *([A-Ga-g](#|b|♯|♭)? *([Mm]([Aa][Jj]([Oo][Rr])?|[Ii][Nn]([Oo][Rr])?)?)?)? *$")]
    pub key: Option<String>,
    /// Lowest tempo, BPM (inclusive; at most tempo_max).
    #[param(value_type = f64, required = false, minimum = 0, maximum = 1000)]
    pub tempo_min: Option<String>,
    /// Highest tempo, BPM (inclusive).
    #[param(value_type = f64, required = false, minimum = 0, maximum = 1000)]
    pub tempo_max: Option<String>,
    /// Page size, 1–1000 (default 20).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Results to skip, 0–100000 (default 0).
    #[param(value_type = u32, required = false, minimum = 0, maximum = 100000)]
    pub offset: Option<String>,
}

/// The multipart form of `POST /search` (documentation only): a text `q`
/// (also accepted as `text`), an audio `file` (or `audio`), or both.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SearchForm {
    /// Words to find (not blank).
    #[schema(
        required = false,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub q: String,
    /// A clip: a known track leads the list, the rest are ranked by sound.
    #[schema(required = false, value_type = String, format = Binary)]
    pub file: Vec<u8>,
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
    pub limit: u32,
    #[schema(required = false, inline)]
    pub kind: crate::service::routes::similar::KindName,
}

/// The JSON body of `POST /search` (documentation only): text only, the
/// same fields as the form; numbers may be sent as strings.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SearchJson {
    /// Words to find (not blank; also accepted as `text`).
    #[schema(
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub q: String,
    #[schema(max_length = 200)]
    pub genre: Option<String>,
    #[schema(pattern = r"^ *([A-Ga-g](#|b|♯|♭)? *([Mm]([Aa][Jj]([Oo][Rr])?|[Ii][Nn]([Oo][Rr])?)?)?)? *$")]
    pub key: Option<String>,
    #[schema(minimum = 0, maximum = 1000)]
    pub tempo_min: Option<f64>,
    #[schema(minimum = 0, maximum = 1000)]
    pub tempo_max: Option<f64>,
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    #[schema(inline)]
    pub kind: Option<crate::service::routes::similar::KindName>,
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
        (status = 400, description = "`invalid_parameter` (a number out of range, an unknown key, tempo_min > tempo_max, q too long) or `bad_request` (a malformed query string)", body = crate::service::error::ErrorBody)))]
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
    request_body(description = "A multipart form: `q` (text), an audio `file` (or `audio`), and optional `genre`, `key`, `tempo_min`, `tempo_max`, `limit`, `kind`; JSON with the same fields (text only) also works. A clip that is a known track is identified and leads the list; the rest are ranked by similarity to the clip, restricted to and boosted by the text.",
        content((SearchForm = "multipart/form-data"), (SearchJson = "application/json"))),
    responses(
        (status = 200, body = CombinedAnswer),
        (status = 400, description = "`invalid_parameter` (neither text nor clip, a bad filter, tempo_min > tempo_max), `bad_request` (malformed body) or `empty_file`", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` or `unsupported_content_type` (neither a multipart form nor JSON)", body = crate::service::error::ErrorBody),
        (status = 422, description = "The clip is corrupt or too short to analyse", body = crate::service::error::ErrorBody)))]
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
                let clip = match analyse_music(path, None, Some(MAX_ANALYZE_S), MAX_ANALYZE_S, Default::default()) {
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

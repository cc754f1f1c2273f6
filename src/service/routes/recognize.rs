//! `POST /recognize`: one clip in, `{"match": …}` out.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::answer::MatchView;
use crate::explain::Explanation;
use crate::service::error::ApiError;
use crate::service::recognition::recognize_file_explained;
use crate::service::routes::blocking;
use crate::service::state::AppState;
use crate::service::upload::read_form;

/// The form of `POST /recognize` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ClipForm {
    /// The clip, any supported format (also accepted as `file`).
    #[schema(value_type = String, format = Binary)]
    pub audio: Vec<u8>,
}

/// `POST /recognize`'s options.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecognizeQuery {
    /// `true`: add `explain`, the evidence behind a match (peaks, agreeing pairs, candidates' votes).
    #[param(value_type = Option<bool>)]
    pub explain: Option<String>,
}

/// `{"match": …}`, and `explain` when asked for and there is a match.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExplainedAnswer {
    #[serde(rename = "match")]
    pub matched: Option<MatchView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explanation>,
}

#[utoipa::path(post, path = "/recognize", tag = "recognition",
    params(RecognizeQuery),
    request_body(content = ClipForm, content_type = "multipart/form-data", description = "`audio` (or `file`): a clip in any supported format"),
    responses(
        (status = 200, description = "`match` is null when nothing in the library matches", body = ExplainedAnswer),
        (status = 400, description = "`missing_field` (no audio part), `empty_file` or `bad_request` (malformed body, `explain` not true/false, unknown parameter)", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` or `unsupported_content_type`", body = crate::service::error::ErrorBody),
        (status = 422, description = "Corrupt, too short or longer than the clip limit", body = crate::service::error::ErrorBody)))]
pub async fn recognize(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<RecognizeQuery>,
) -> Result<HttpResponse, ApiError> {
    let explain = crate::service::routes::parse_flag("explain", q.explain.as_deref())?;
    let mut form = read_form(&req, payload, &state.tmp_dir, state.config.max_upload_bytes).await?;
    let audio = form.take_audio()?;
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let st = state.clone();
    // An empty file is refused by the decoder (empty_file).
    let (matched, explain) = blocking(move || recognize_file_explained(&st, audio.file.path(), explain)).await?;
    Ok(HttpResponse::Ok().json(ExplainedAnswer { matched, explain }))
}

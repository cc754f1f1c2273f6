//! `POST /recognize`: one clip in, `{"match": …}` out.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::error::ApiError;
use crate::service::recognition::{recognize_file, RecognizeAnswer};
use crate::service::routes::blocking;
use crate::service::state::AppState;
use crate::service::upload::read_form;

#[utoipa::path(post, path = "/recognize", tag = "recognition",
    request_body(content_type = "multipart/form-data", description = "`audio` (or `file`): a clip in any supported format"),
    responses(
        (status = 200, description = "`match` is null when nothing in the library matches", body = RecognizeAnswer),
        (status = 400, body = crate::service::openapi::ErrorBody),
        (status = 413, body = crate::service::openapi::ErrorBody),
        (status = 415, body = crate::service::openapi::ErrorBody),
        (status = 422, description = "Corrupt, too short or longer than the clip limit", body = crate::service::openapi::ErrorBody),
        (status = 429, body = crate::service::openapi::ErrorBody)))]
pub async fn recognize(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, payload, &state.tmp_dir, state.config.max_upload_bytes).await?;
    let audio = form.take_audio()?;
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let st = state.clone();
    // An empty file is refused by the decoder (empty_file).
    let matched = blocking(move || recognize_file(&st, audio.file.path())).await?;
    Ok(HttpResponse::Ok().json(RecognizeAnswer { matched }))
}

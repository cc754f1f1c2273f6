//! `POST /tracks` (and `/upload`), `GET /tracks/{id}`, `DELETE /tracks/{id}`.
//!
//! An upload is answered 201 only once its file is complete, synced and
//! renamed into the songs folder and its job is durable in the store; the
//! fingerprinting itself runs on the job queue. A refused upload leaves no
//! file and no record.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use sonica_schema::{JobRecord, JobSource, OnDuplicate};

use crate::decode::{self, sniff_format};
use crate::pipeline::writer::unix_now_s;
use crate::service::error::ApiError;
use crate::service::routes::{blocking, parse_id};
use crate::service::state::{AppState, TrackView};
use crate::service::upload::{read_form, safe_file_name, Received, META_FIELDS};
use crate::SonicaError;

/// What to do with a duplicate upload.
/// Only the OpenAPI schema reads it (the values a form field takes).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OnDuplicateName {
    Reject,
    Flag,
    Keep,
}

/// The form of `POST /tracks` (documentation only; [`read_form`] reads it).
/// Text fields are trimmed, and a blank one counts as not sent.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The audio file, any supported format (also accepted as `audio`).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Overrides the file's title tag (at most 4096 bytes of UTF-8).
    #[schema(required = false, max_length = 4096)]
    pub title: String,
    #[schema(required = false, max_length = 4096)]
    pub artist: String,
    #[schema(required = false, max_length = 4096)]
    pub album: String,
    #[schema(required = false, max_length = 4096)]
    pub genre: String,
    /// Overrides the query's `on_duplicate`.
    #[schema(required = false, inline)]
    pub on_duplicate: OnDuplicateName,
}

#[utoipa::path(post, path = "/tracks", tag = "tracks",
    params(("on_duplicate" = Option<OnDuplicateName>, Query, description = "reject, flag or keep (also accepted as a form field); default: the server's `on_duplicate` setting")),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "`file` (or `audio`): the audio file; optional `title`, `artist`, `album`, `genre` override its tags; optional `on_duplicate`"),
    responses(
        (status = 201, description = "Stored and queued. A duplicate found while fingerprinting is reported on the track: READY with `duplicate_of` (flag), or REJECTED with `duplicates` (reject)", body = TrackView,
            headers(("Location" = String, description = "`/tracks/{id}` of the new track"))),
        (status = 400, description = "`missing_field` (no `file` part), `empty_file`, `invalid_parameter` (bad `on_duplicate`) or `bad_request` (malformed body, a text field too long or not UTF-8, too many parts)", body = crate::service::error::ErrorBody),
        (status = 409, description = "An exact copy of a stored track, under on_duplicate=reject (`duplicate`; `error.duplicates` names it)", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: over the upload size limit", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` (not audio Sonica can decode) or `unsupported_content_type` (not a multipart form)", body = crate::service::error::ErrorBody),
        (status = 422, description = "Corrupt or truncated audio, or outside the sample rate and channel limits", body = crate::service::error::ErrorBody)))]
pub async fn upload(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, payload, &state.incoming_dir, state.config.max_upload_bytes).await?;
    let audio = form.take_audio()?;
    let policy = on_duplicate(&req, &form.text)?.unwrap_or(state.config.on_duplicate);
    let mut meta: Vec<(String, String)> = form
        .text
        .into_iter()
        .filter(|(k, _)| META_FIELDS.contains(&k.as_str()))
        .collect();
    meta.push(("on_duplicate".into(), policy.as_str().into()));
    let st = state.clone();
    let job = blocking(move || place(&st, audio, &meta, policy)).await?;
    let view = TrackView::pending(&job);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/tracks/{}", job.id)))
        .json(view))
}

/// The `on_duplicate` asked for, from the form or the query string.
fn on_duplicate(
    req: &HttpRequest,
    form: &std::collections::HashMap<String, String>,
) -> Result<Option<OnDuplicate>, ApiError> {
    let from_query = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("on_duplicate").cloned());
    let given = form.get("on_duplicate").cloned().or(from_query);
    match given {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|m: String| ApiError::Sonica(SonicaError::Param(crate::search::ParamError(m)))),
    }
}

/// Checks the upload decodes and is not an exact copy the policy rejects,
/// moves it into the songs folder under a free name, and stores its job.
fn place(
    state: &AppState,
    audio: Received,
    meta: &[(String, String)],
    policy: OnDuplicate,
) -> Result<JobRecord, ApiError> {
    // An empty file is refused by the probe (DecodeError::Empty).
    decode::probe(audio.file.path()).map_err(SonicaError::from)?;
    if policy == OnDuplicate::Reject {
        // Exact copies are refused at once, before any fingerprinting; other
        // kinds are found by the job (the track then shows REJECTED).
        let sha = crate::digest::file_sha256(audio.file.path())
            .map_err(|e| ApiError::Internal(format!("cannot read the upload: {e}")))?;
        if let Some(d) = state.index.exact_duplicate(&sha, &[])? {
            return Err(ApiError::Duplicate(vec![d]));
        }
    }
    audio
        .file
        .as_file()
        .sync_all()
        .map_err(|e| ApiError::Internal(format!("cannot sync the upload: {e}")))?;
    let ext = sniff_format(audio.file.path())
        .map(|f| extension_for(&f))
        .unwrap_or("bin");
    let mut name = safe_file_name(audio.name.as_deref(), &format!("upload-{}.{ext}", unix_now_s()));
    if std::path::Path::new(&name).extension().is_none() {
        name = format!("{name}.{ext}");
    }
    let (stem, suffix) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), format!(".{e}")),
        None => (name.clone(), String::new()),
    };
    let mut file = audio.file;
    let mut n = 0;
    let dest = loop {
        let candidate = if n == 0 {
            state.songs_dir.join(&name)
        } else {
            state.songs_dir.join(format!("{stem}-{n}{suffix}"))
        };
        state.claim(&candidate);
        match file.persist_noclobber(&candidate) {
            Ok(_) => break candidate,
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => {
                state.release(&candidate);
                file = e.file;
                n += 1;
            }
            Err(e) => {
                state.release(&candidate);
                return Err(ApiError::Internal(format!("cannot store the upload: {}", e.error)));
            }
        }
    };
    if let Ok(dir) = std::fs::File::open(&state.songs_dir) {
        let _ = dir.sync_all();
    }
    let result = state.accept(&dest, JobSource::Upload, meta);
    if result.is_err() {
        let _ = std::fs::remove_file(&dest);
    }
    state.release(&dest);
    Ok(result?)
}

/// The file extension for a sniffed format name.
fn extension_for(format: &str) -> &'static str {
    match format {
        "WAV" | "RIFF" => "wav",
        "FLAC" => "flac",
        "MP3" => "mp3",
        "AAC (ADTS)" => "aac",
        "MP4/M4A" => "m4a",
        "AIFF" => "aiff",
        "CAF" => "caf",
        "Matroska/WebM" => "mka",
        "WMA/ASF" => "wma",
        "Opus" => "opus",
        f if f.starts_with("OGG") => "ogg",
        _ => "bin",
    }
}

#[utoipa::path(get, path = "/tracks/{id}", tag = "tracks",
    params(("id" = i64, Path, minimum = 1, maximum = 4294967295.0, description = "Track id")),
    responses((status = 200, body = TrackView),
        (status = 400, description = "`bad_request`: the id is not a whole number from 1 to 4294967295", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`", body = crate::service::error::ErrorBody)))]
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let st = state.clone();
    let view = blocking(move || st.view(id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub id: u32,
    pub deleted: bool,
}

#[utoipa::path(delete, path = "/tracks/{id}", tag = "tracks",
    params(("id" = i64, Path, minimum = 1, maximum = 4294967295.0, description = "Track id")),
    responses((status = 200, body = Deleted),
        (status = 400, description = "`bad_request`: the id is not a whole number from 1 to 4294967295", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`", body = crate::service::error::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let st = state.clone();
    blocking(move || st.delete(id)).await?;
    Ok(HttpResponse::Ok().json(Deleted { id, deleted: true }))
}

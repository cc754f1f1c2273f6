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
use crate::ingest::unix_now_s;
use crate::service::error::ApiError;
use crate::service::routes::{blocking, parse_id};
use crate::service::state::{AppState, TrackView};
use crate::service::upload::{read_form, safe_file_name, Received, META_FIELDS};
use crate::SonicaError;

#[utoipa::path(post, path = "/tracks", tag = "tracks",
    params(("on_duplicate" = Option<String>, Query, description = "reject, flag or keep (also accepted as a form field); default: the server's `on_duplicate` setting")),
    request_body(content_type = "multipart/form-data", description = "`file` (or `audio`): the audio file; optional `title`, `artist`, `album`, `genre` override its tags; optional `on_duplicate`"),
    responses(
        (status = 201, description = "Stored and queued. A duplicate found while fingerprinting is reported on the track: READY with `duplicate_of` (flag), or REJECTED with `duplicates` (reject)", body = TrackView),
        (status = 400, description = "Missing `file` part, empty file, bad `on_duplicate` or malformed body", body = crate::service::openapi::ErrorBody),
        (status = 401, body = crate::service::openapi::ErrorBody),
        (status = 409, description = "An exact copy of a stored track, under on_duplicate=reject (`duplicate`; `error.duplicates` names it)", body = crate::service::openapi::ErrorBody),
        (status = 413, description = "Over the upload size limit", body = crate::service::openapi::ErrorBody),
        (status = 415, description = "Not audio Sonica can decode", body = crate::service::openapi::ErrorBody),
        (status = 422, description = "Corrupt or truncated audio", body = crate::service::openapi::ErrorBody),
        (status = 429, body = crate::service::openapi::ErrorBody)))]
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
    params(("id" = u32, Path, description = "Track id")),
    responses((status = 200, body = TrackView), (status = 400, body = crate::service::openapi::ErrorBody),
        (status = 404, body = crate::service::openapi::ErrorBody)))]
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
    params(("id" = u32, Path, description = "Track id")),
    responses((status = 200, body = Deleted), (status = 401, body = crate::service::openapi::ErrorBody),
        (status = 404, body = crate::service::openapi::ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let st = state.clone();
    blocking(move || st.delete(id)).await?;
    Ok(HttpResponse::Ok().json(Deleted { id, deleted: true }))
}

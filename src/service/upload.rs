//! Reading a multipart upload: the audio part streamed to a temporary file
//! with the size limit enforced as bytes arrive, small text fields kept.
//!
//! The temporary file deletes itself when dropped, so any failure (too
//! large, cut-off body, refused media) leaves nothing behind on disk.
//!
//! Bounds, so no form can cost more than its audio: at most [`MAX_PARTS`]
//! parts, text fields of [`MAX_TEXT_FIELD`] bytes, parts with a name no
//! route reads drained without being kept, and the whole body capped at the
//! upload limit plus [`FORM_OVERHEAD`].

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use actix_multipart::{Multipart, MultipartError};
use actix_web::{web, HttpRequest};
use futures_util::{Stream, StreamExt};
use tempfile::NamedTempFile;

use crate::decode::guard::Contained;
use crate::service::error::ApiError;

/// Names under which the audio part is accepted.
pub const FILE_FIELDS: [&str; 2] = ["file", "audio"];
/// Text fields an upload stores as the track's tags (other routes read
/// their own text fields from the same form).
pub const META_FIELDS: [&str; 4] = ["title", "artist", "album", "genre"];
pub const MAX_TEXT_FIELD: usize = 4096;
/// Most parts one form may have (the richest route reads about a dozen).
pub const MAX_PARTS: usize = 32;
/// Bytes a form may carry beyond its audio: text fields, headers, drained
/// parts.
pub const FORM_OVERHEAD: u64 = 1024 * 1024;
/// Every text field some route reads; a part with any other name is read
/// and dropped, never stored.
pub const TEXT_FIELDS: [&str; 23] = [
    "title",
    "artist",
    "album",
    "genre",
    "on_duplicate",
    "start_s",
    "end_s",
    "track_id",
    "id",
    "top_k",
    "kind",
    "key",
    "tempo_min",
    "tempo_max",
    "min_similarity",
    "q",
    "text",
    "limit",
    "offset",
    "references",
    "recommendation_level",
    "instrument",
    "filters",
];

/// The audio part, on disk.
pub struct Received {
    pub file: NamedTempFile,
    /// The client's file name, if it sent one.
    pub name: Option<String>,
}

pub struct Form {
    pub audio: Option<Received>,
    pub text: HashMap<String, String>,
}

impl Form {
    /// The audio part, or the 400 that says it is missing.
    pub fn take_audio(&mut self) -> Result<Received, ApiError> {
        self.audio.take().ok_or(ApiError::MissingField("file"))
    }
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::UnsupportedContentType(
            "expected a multipart/form-data body with a `file` (or `audio`) part".into(),
        ),
        other => ApiError::BadRequest(format!("malformed multipart body: {other}")),
    }
}

/// Reads the whole form. The audio part goes to a temporary file in `dir`
/// (which must be on the same file system as its final home, so that
/// keeping it is a rename).
/// How long a form may send nothing before it is refused.
pub const BODY_IDLE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// How long the parser may stay stuck after the body has ended.
const ENDED_GRACE: Duration = Duration::from_secs(10);

/// The next item of a multipart stream. A body that ended inside a part is
/// refused at once: actix-multipart 0.7 then waits for bytes that never
/// come, without a wake-up (a fuzzer found it; the request hung for good).
/// A body that sends nothing for [`BODY_IDLE`] is refused too.
async fn next_of<S: Stream + Unpin>(s: &mut S, ended: &AtomicBool) -> Result<Option<S::Item>, ApiError> {
    let waiting_since = Instant::now();
    // When the body's end was first seen during this wait: a short grace,
    // since a busy machine can delay the parser's own wake-ups.
    let mut ended_at: Option<Instant> = None;
    loop {
        match actix_web::rt::time::timeout(POLL, Contained(s.next())).await {
            Ok(Ok(item)) => return Ok(item),
            // actix-multipart 0.7 panics on some malformed bodies (a fuzzer
            // found a lone `--` line): that is the form's fault, a 400.
            Ok(Err(panic)) => {
                tracing::debug!(%panic, "multipart parser panicked");
                return Err(ApiError::BadRequest(
                    "malformed multipart body: the form parser gave up on it".into(),
                ));
            }
            Err(_) if ended.load(Ordering::Acquire) => {
                if ended_at.get_or_insert_with(Instant::now).elapsed() >= ENDED_GRACE {
                    return Err(ApiError::BadRequest(
                        "malformed multipart body: it ends inside a part (no closing boundary)".into(),
                    ));
                }
            }
            Err(_) if waiting_since.elapsed() >= BODY_IDLE => {
                return Err(ApiError::BadRequest(format!(
                    "the multipart body sent nothing for {} s",
                    BODY_IDLE.as_secs()
                )))
            }
            Err(_) => {}
        }
    }
}

pub async fn read_form(req: &HttpRequest, payload: web::Payload, dir: &Path, limit: u64) -> Result<Form, ApiError> {
    // Notes when the request body has been read to its end.
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    let body = crate::service::holdback::HoldBack::new(payload).chain(futures_util::stream::poll_fn(move |_| {
        flag.store(true, Ordering::Release);
        Poll::Ready(None)
    }));
    let mut mp = Multipart::new(req.headers(), body);
    let mut form = Form {
        audio: None,
        text: HashMap::new(),
    };
    let total_cap = limit.saturating_add(FORM_OVERHEAD);
    let mut total = 0u64;
    let mut parts = 0usize;
    // Every byte of the body passes here, whichever part it belongs to.
    let mut count = |n: usize| -> Result<(), ApiError> {
        total += n as u64;
        if total > total_cap {
            return Err(ApiError::TooLarge {
                limit_mb: limit as f64 / (1024.0 * 1024.0),
            });
        }
        Ok(())
    };
    while let Some(field) = next_of(&mut mp, &ended).await? {
        let mut field = field.map_err(multipart_error)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::BadRequest(format!(
                "the form has more than {MAX_PARTS} parts"
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        if !plain_part_name(&name) {
            return Err(ApiError::BadRequest(format!(
                "a form part's name must be 1-64 letters, digits, '_', '.' or '-', not {:?}",
                name.chars().take(64).collect::<String>()
            )));
        }
        if FILE_FIELDS.contains(&name.as_str()) {
            if form.audio.is_some() {
                return Err(ApiError::BadRequest(
                    "more than one audio part; send one `file` (or `audio`)".into(),
                ));
            }
            let client_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string);
            let mut tmp = tempfile::Builder::new()
                .prefix(".upload-")
                .tempfile_in(dir)
                .map_err(|e| ApiError::Internal(format!("cannot create a temporary file: {e}")))?;
            let mut bytes = 0u64;
            while let Some(chunk) = next_of(&mut field, &ended).await? {
                let chunk = chunk.map_err(multipart_error)?;
                count(chunk.len())?;
                bytes += chunk.len() as u64;
                if bytes > limit {
                    return Err(ApiError::TooLarge {
                        limit_mb: limit as f64 / (1024.0 * 1024.0),
                    });
                }
                tmp.write_all(&chunk)
                    .map_err(|e| ApiError::Internal(format!("cannot write the upload: {e}")))?;
            }
            tmp.flush()
                .map_err(|e| ApiError::Internal(format!("cannot write the upload: {e}")))?;
            form.audio = Some(Received {
                file: tmp,
                name: client_name,
            });
        } else if TEXT_FIELDS.contains(&name.as_str()) {
            let mut value = Vec::new();
            while let Some(chunk) = next_of(&mut field, &ended).await? {
                let chunk = chunk.map_err(multipart_error)?;
                count(chunk.len())?;
                if value.len() + chunk.len() > MAX_TEXT_FIELD {
                    return Err(ApiError::BadRequest(format!(
                        "field `{name}` is longer than {MAX_TEXT_FIELD} bytes"
                    )));
                }
                value.extend_from_slice(&chunk);
            }
            let v = String::from_utf8(value)
                .map_err(|_| ApiError::BadRequest(format!("field `{name}` is not UTF-8 text")))?;
            let v = v.trim();
            if !v.is_empty() {
                form.text.insert(name, v.to_string());
            }
        } else {
            // No route reads it: drain it, keeping nothing.
            while let Some(chunk) = next_of(&mut field, &ended).await? {
                count(chunk.map_err(multipart_error)?.len())?;
            }
        }
    }
    Ok(form)
}

/// Whether a part's name is the plain token the API document promises
/// (RFC 7578: every part has a name; an empty one is malformed).
fn plain_part_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A safe file name for the songs folder from the client's name: no
/// folders, no leading dot, only plain characters; `fallback` when nothing
/// usable is left.
pub fn safe_file_name(client: Option<&str>, fallback: &str) -> String {
    let base = client.map(|n| n.rsplit(['/', '\\']).next().unwrap_or("")).unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " ._-()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() || cleaned.len() > 200 {
        fallback.to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_are_plain_tokens() {
        assert!(plain_part_name("file") && plain_part_name("on_duplicate") && plain_part_name("a.b-c"));
        assert!(!plain_part_name("") && !plain_part_name("a b") && !plain_part_name(&"x".repeat(65)));
    }

    #[test]
    fn client_names_cannot_escape_the_folder() {
        assert_eq!(safe_file_name(Some("../../etc/passwd"), "x"), "passwd");
        assert_eq!(safe_file_name(Some("C:\\music\\My Song.mp3"), "x"), "My Song.mp3");
        assert_eq!(safe_file_name(Some(".hidden.wav"), "x"), "hidden.wav");
        assert_eq!(safe_file_name(Some("a/b/"), "x"), "x");
        assert_eq!(safe_file_name(None, "upload"), "upload");
        assert_eq!(safe_file_name(Some("ça va?.ogg"), "x"), "ça va_.ogg");
    }
}

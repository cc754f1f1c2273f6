//! `/monitors`: register live streams for the server to pull and
//! recognise continuously (admin), see each one's state, read its play
//! log by time, follow it live (server-sent events), and remove it.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Value};
use sonica_schema::monitor::{LogEntry, MonitorRecord};

use crate::monitor::MonitorError;
use crate::service::error::ApiError;
use crate::service::monitors::{AddError, MonitorStatus};
use crate::service::routes::{blocking, json_body};
use crate::service::state::AppState;
use crate::SonicaError;

/// Largest body of `POST /monitors`.
const MAX_JSON: usize = 16 * 1024;
/// Longest monitor name.
const MAX_NAME: usize = 100;

/// A monitor as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonitorView {
    pub id: u64,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unix seconds.
    pub created_unix: u64,
    pub status: MonitorStatus,
}

/// `{"monitors": [...]}`, by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonitorList {
    pub monitors: Vec<MonitorView>,
}

/// The body of `POST /monitors` (documentation; read field by field).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewMonitorBody {
    /// The stream: http or https (MP3, AAC or Ogg), at most 2048
    /// characters, no user name or password.
    url: String,
    /// 1–100 characters.
    #[schema(required = false)]
    name: String,
}

fn view(state: &AppState, r: MonitorRecord) -> MonitorView {
    let status = state.monitors.status(r.id).unwrap_or_default();
    MonitorView {
        id: r.id,
        url: r.url,
        name: r.name,
        created_unix: r.created_unix,
        status,
    }
}

fn param(msg: String) -> ApiError {
    SonicaError::Param(crate::search::ParamError(msg)).into()
}

fn monitor_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().ok().filter(|&id| id > 0).ok_or_else(|| {
        let shown: String = raw.chars().take(40).collect();
        ApiError::BadRequest(format!("monitor id must be a positive integer, not {shown:?}"))
    })
}

/// Reads `{"url", "name"?}`, each mistake named.
fn parse_new(v: Value, state: &AppState) -> Result<(url::Url, Option<String>), ApiError> {
    let Value::Object(mut o) = v else {
        return Err(ApiError::BadRequest("the JSON body must be an object".into()));
    };
    let url = match o.remove("url") {
        Some(Value::String(s)) => crate::net::check_url(&s, state.monitors.policy())
            .map_err(|e| ApiError::Sonica(MonitorError::Url(e).into()))?,
        Some(_) => return Err(param("url must be a string".into())),
        None => return Err(param("url is required: the stream's http(s) address".into())),
    };
    let name = match o.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let s = s.trim().to_string();
            if s.is_empty() || s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
                return Err(param(format!(
                    "name must be 1–{MAX_NAME} characters without control characters"
                )));
            }
            Some(s)
        }
        Some(_) => return Err(param("name must be a string".into())),
    };
    if let Some(field) = o.keys().next() {
        let shown: String = field.chars().take(40).collect();
        return Err(param(format!("unknown field {shown:?}; the body has url and name")));
    }
    Ok((url, name))
}

#[utoipa::path(post, path = "/monitors", tag = "monitors",
    request_body = NewMonitorBody,
    responses(
        (status = 201, description = "Registered and connecting: the monitor with its state", body = MonitorView),
        (status = 400, description = "`bad_request` (malformed JSON), `invalid_parameter` (a missing url, a bad name, an unknown field) or `invalid_url` (not http/https, a user name or password, too long, no host)", body = crate::service::error::ErrorBody),
        (status = 403, description = "`admin_required`, or `url_not_allowed`: a private, loopback or link-local address, or a host off the allow-list", body = crate::service::error::ErrorBody),
        (status = 409, description = "`too_many_monitors`: `max_monitors` are registered", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: over 16 KiB", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_content_type`: not `application/json`", body = crate::service::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (url, name) = parse_new(json_body(&req, payload, MAX_JSON, "{\"url\", \"name\"}").await?, &state)?;
    let st = state.clone();
    let r = blocking(move || {
        let monitors = st.monitors.clone();
        monitors.add(&url, name).map_err(|e| match e {
            AddError::Limit(_) => ApiError::TooManyMonitors(e.to_string()),
            AddError::Index(i) => ApiError::Index(i),
        })
    })
    .await?;
    tracing::info!(id = r.id, url = %r.url, "monitor added");
    Ok(HttpResponse::Created().json(view(&state, r)))
}

#[utoipa::path(get, path = "/monitors", tag = "monitors",
    responses((status = 200, description = "Every monitor with its state, by id", body = MonitorList)))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let all = blocking(move || Ok(st.monitors.store().list()?)).await?;
    let monitors = all.into_iter().map(|r| view(&state, r)).collect();
    Ok(HttpResponse::Ok().json(MonitorList { monitors }))
}

async fn record(state: &web::Data<AppState>, id: u64) -> Result<MonitorRecord, ApiError> {
    let st = state.clone();
    blocking(move || st.monitors.store().get(id)?.ok_or(ApiError::UnknownMonitor(id))).await
}

#[utoipa::path(get, path = "/monitors/{id}", tag = "monitors",
    params(("id" = u64, Path, minimum = 1, description = "Monitor id")),
    responses(
        (status = 200, description = "The monitor: state (`connecting`, `up`, `down`), last error, lag, the play in progress", body = MonitorView),
        (status = 400, description = "`bad_request`: malformed id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_monitor`", body = crate::service::error::ErrorBody)))]
pub async fn get(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = monitor_id(&path.into_inner())?;
    let r = record(&state, id).await?;
    Ok(HttpResponse::Ok().json(view(&state, r)))
}

#[utoipa::path(delete, path = "/monitors/{id}", tag = "monitors",
    params(("id" = u64, Path, minimum = 1, description = "Monitor id")),
    responses(
        (status = 204, description = "Stopped and removed, with its play log"),
        (status = 400, description = "`bad_request`: malformed id", body = crate::service::error::ErrorBody),
        (status = 403, description = "`admin_required`", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_monitor`", body = crate::service::error::ErrorBody)))]
pub async fn delete(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = monitor_id(&path.into_inner())?;
    let st = state.clone();
    let removed = blocking(move || Ok(st.monitors.remove(id)?)).await?;
    if !removed {
        return Err(ApiError::UnknownMonitor(id));
    }
    tracing::info!(id, "monitor removed");
    Ok(HttpResponse::NoContent().finish())
}

/// One page of a play log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlayPage {
    pub monitor: u64,
    /// Plays and gaps starting in the range, oldest first. Times are Unix
    /// milliseconds.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<LogEntry>,
    /// Where the next page starts (`from` for the next request); absent on
    /// the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_from: Option<u64>,
}

fn ms_param(q: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            let shown: String = v.chars().take(40).collect();
            param(format!(
                "{name} must be a Unix time in milliseconds (a whole number ≥ 0), not {shown:?}"
            ))
        }),
    }
}

#[utoipa::path(get, path = "/monitors/{id}/plays", tag = "monitors",
    params(("id" = u64, Path, minimum = 1, description = "Monitor id"),
        ("from" = Option<u64>, Query, description = "Unix ms: entries starting at or after this [default: 0]"),
        ("to" = Option<u64>, Query, description = "Unix ms: entries starting before this [default: no end]"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Entries per page [default: 100]")),
    responses(
        (status = 200, description = "A page of the play log (plays and gaps)", body = PlayPage),
        (status = 400, description = "`bad_request` (malformed id) or `invalid_parameter` (a bad from, to or limit, or from after to)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_monitor`", body = crate::service::error::ErrorBody)))]
pub async fn plays(
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = monitor_id(&path.into_inner())?;
    let q = query.into_inner();
    if let Some(k) = q.keys().find(|k| !matches!(k.as_str(), "from" | "to" | "limit")) {
        let shown: String = k.chars().take(40).collect();
        return Err(param(format!("unknown parameter {shown:?}; use from, to and limit")));
    }
    let from = ms_param(&q, "from", 0)?;
    let to = ms_param(&q, "to", u64::MAX)?;
    if from > to {
        return Err(param(format!("from ({from}) is after to ({to})")));
    }
    let limit = match q.get("limit") {
        None => 100,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=sonica_index::MAX_LOG_PAGE).contains(n))
            .ok_or_else(|| param(format!("limit must be 1–{}", sonica_index::MAX_LOG_PAGE)))?,
    };
    record(&state, id).await?;
    let st = state.clone();
    let mut entries = blocking(move || Ok(st.monitors.store().entries(id, from, to, limit + 1)?)).await?;
    let next_from = match entries.len() > limit {
        true => entries.pop().map(|e| e.start_ms),
        false => None,
    };
    Ok(HttpResponse::Ok().json(PlayPage {
        monitor: id,
        entries,
        next_from,
    }))
}

#[utoipa::path(get, path = "/monitors/{id}/events", tag = "monitors",
    params(("id" = u64, Path, minimum = 1, description = "Monitor id")),
    responses(
        (status = 200, description = "Server-sent events, as they happen: `status` first, then `play.started`, `play.ended`, `gap`, `monitor.up`, `monitor.down`; each `data` is JSON", content_type = "text/event-stream"),
        (status = 400, description = "`bad_request`: malformed id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_monitor`", body = crate::service::error::ErrorBody)))]
pub async fn events(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = monitor_id(&path.into_inner())?;
    let r = record(&state, id).await?;
    let first = format!("event: status\ndata: {}\n\n", json!(view(&state, r)));
    Ok(feed(&state, first, Some(id)))
}

#[utoipa::path(get, path = "/monitors/events", tag = "monitors",
    responses(
        (status = 200, description = "Server-sent events of every monitor (one connection for a page following many): `status` first (`{\"monitors\": [...]}`), then each monitor's events as on `/monitors/{id}/events`, each `data` naming its `monitor`", content_type = "text/event-stream")))]
pub async fn all_events(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let all = blocking(move || Ok(st.monitors.store().list()?)).await?;
    let monitors: Vec<MonitorView> = all.into_iter().map(|r| view(&state, r)).collect();
    let first = format!("event: status\ndata: {}\n\n", json!({ "monitors": monitors }));
    Ok(feed(&state, first, None))
}

/// A server-sent event stream: `first`, then the notices of monitor
/// `only` (or of all).
fn feed(state: &AppState, first: String, only: Option<u64>) -> HttpResponse {
    use futures_util::StreamExt;
    use tokio::sync::broadcast::error::RecvError;
    let rx = state.monitors.subscribe();
    let first = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(web::Bytes::from(first)) });
    let rest = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(n) if only.is_none_or(|id| n.monitor == id) => {
                    let frame = format!("event: {}\ndata: {}\n\n", n.kind, n.data);
                    return Some((Ok::<_, actix_web::Error>(web::Bytes::from(frame)), rx));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(first.chain(rest))
}

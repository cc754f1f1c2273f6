//! `/webhooks`: subscriptions to events, managed by an admin (a
//! configured key; the policy refuses everyone else before these run),
//! their delivery log, and a ping to try one out.
//!
//! The secret that signs a subscription's deliveries is shown when it is
//! made and by `GET /webhooks/{id}` (both admin-only), never in the list.
//! Every mistake in a body gets its own message under `invalid_webhook`;
//! a URL the shared guard refuses answers as for a monitor (`invalid_url`,
//! `url_not_allowed`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sonica_index::NewSubscription;
use sonica_schema::webhook::{Delivery, EventKind, Subscription};

use crate::net::NetPolicy;
use crate::pipeline::writer::unix_now_s;
use crate::service::error::ApiError;
use crate::service::routes::{blocking, json_body};
use crate::service::state::AppState;

/// Largest body of `POST /webhooks`.
const MAX_JSON: usize = 16 * 1024;
/// Subscriptions a server keeps at most.
pub const MAX_WEBHOOKS: usize = 100;
/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 200;
/// A given secret's length, in bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 16..=256;
/// Delivery log rows per page at most.
const MAX_LIMIT: usize = 1000;

/// A subscription as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: u64,
    pub url: String,
    /// The kinds it receives: `play.detected`, `track.ready`,
    /// `track.failed`, `duplicate.found`, `monitor.down`, `monitor.up`.
    #[schema(value_type = Vec<String>)]
    pub events: Vec<EventKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unix seconds.
    pub created_unix: u64,
    /// Deliveries waiting to be made (due or backing off).
    pub pending: usize,
    /// The HMAC-SHA256 key of `Sonica-Signature`; shown when made and by
    /// `GET /webhooks/{id}`, not in the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `{"webhooks": [...]}`, by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// The body of `POST /webhooks` (documentation; read field by field so
/// each mistake gets its own answer).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewWebhookBody {
    /// http or https, no user name or password, at most 2048 characters,
    /// on `allow_hosts` when set; private and loopback addresses only with
    /// `allow_private_urls`.
    url: String,
    /// One or more of `play.detected`, `track.ready`, `track.failed`,
    /// `duplicate.found`, `monitor.down`, `monitor.up`.
    events: Vec<String>,
    /// At most 200 characters.
    #[schema(required = false)]
    description: Option<String>,
    /// 16–256 printable ASCII characters; generated when absent.
    #[schema(required = false)]
    secret: Option<String>,
}

/// One delivery in the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub event_id: u64,
    /// The event's kind.
    #[schema(value_type = Option<String>)]
    pub kind: Option<EventKind>,
    /// `pending`, `delivered` or `gave_up`.
    pub state: &'static str,
    pub attempts: u32,
    /// Unix ms of the next attempt, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_unix_ms: Option<u64>,
    /// Unix ms of the last attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_unix_ms: Option<u64>,
    /// The status the receiver answered last, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix seconds of the successful attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_unix: Option<u64>,
}

/// A page of the delivery log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryLog {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// What `POST /webhooks/{id}/ping` queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PingAnswer {
    pub event_id: u64,
    pub subscription_id: u64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogPage {
    /// Rows for events after this event id (default 0: from the oldest kept).
    #[param(value_type = u64, required = false, minimum = 0)]
    pub after: Option<String>,
    /// Rows to return, 1–1000 (default 100).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::InvalidWebhook(m.into())
}

/// A refused URL answers as a monitor's does: `invalid_url` (400) for its
/// form, `url_not_allowed` (403) for where it points.
fn url_error(e: crate::net::UrlError) -> ApiError {
    ApiError::Sonica(crate::monitor::MonitorError::Url(e).into())
}

fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

fn view(state: &AppState, s: Subscription, with_secret: bool) -> WebhookView {
    WebhookView {
        pending: state.webhooks.store().pending_for(s.id),
        id: s.id,
        url: s.url,
        events: s.events,
        description: s.description,
        created_unix: s.created_unix,
        secret: with_secret.then_some(s.secret),
    }
}

/// A new subscription's checked fields.
#[derive(Debug)]
struct NewWebhook {
    url: String,
    events: Vec<EventKind>,
    description: Option<String>,
    secret: Option<String>,
}

/// Reads `{"url", "events", "description"?, "secret"?}`, each mistake named.
fn parse_new_webhook(v: Value, policy: &NetPolicy) -> Result<NewWebhook, ApiError> {
    let Value::Object(mut o) = v else {
        return Err(ApiError::BadRequest("the JSON body must be an object".into()));
    };
    let url = match o.remove("url") {
        // The shared guard: http(s), no user info, the length cap, the
        // allow-list, no private address unless allowed (names are judged
        // again as they resolve, at every attempt).
        Some(Value::String(s)) => crate::net::check_url(&s, policy).map_err(url_error)?.to_string(),
        Some(_) => return Err(invalid("url must be a string")),
        None => return Err(invalid("url is required")),
    };
    let names: Vec<&str> = EventKind::SUBSCRIBABLE.iter().map(|k| k.as_str()).collect();
    let events = match o.remove("events") {
        Some(Value::Array(a)) => {
            if a.is_empty() {
                return Err(invalid(format!(
                    "events must name at least one of {}",
                    names.join(", ")
                )));
            }
            if a.len() > 32 {
                return Err(invalid(format!(
                    "events lists {} kinds; there are {}",
                    a.len(),
                    names.len()
                )));
            }
            let mut kinds = Vec::with_capacity(a.len());
            for item in a {
                let Value::String(s) = item else {
                    return Err(invalid("events must be a list of strings"));
                };
                let k = s.parse::<EventKind>().map_err(|e| invalid(format!("events: {e}")))?;
                if k == EventKind::Ping {
                    return Err(invalid(
                        "events: ping is not subscribed to; POST /webhooks/{id}/ping sends one",
                    ));
                }
                kinds.push(k);
            }
            kinds
        }
        Some(_) => return Err(invalid(format!("events must be a list of {}", names.join(", ")))),
        None => return Err(invalid(format!("events is required: a list of {}", names.join(", ")))),
    };
    let description = match o.remove("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let d = s.trim();
            let n = d.chars().count();
            if n > MAX_DESCRIPTION {
                return Err(invalid(format!(
                    "description is {n} characters long; at most {MAX_DESCRIPTION}"
                )));
            }
            if d.chars().any(char::is_control) {
                return Err(invalid("description must not contain control characters"));
            }
            (!d.is_empty()).then(|| d.to_string())
        }
        Some(_) => return Err(invalid("description must be a string")),
    };
    let secret = match o.remove("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            if !SECRET_BYTES.contains(&s.len()) {
                return Err(invalid(format!(
                    "secret is {} bytes long; it must be {} to {}",
                    s.len(),
                    SECRET_BYTES.start(),
                    SECRET_BYTES.end()
                )));
            }
            if !s.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid("secret must be printable ASCII without spaces"));
            }
            Some(s)
        }
        Some(_) => return Err(invalid("secret must be a string")),
    };
    if let Some(field) = o.keys().next() {
        return Err(invalid(format!(
            "unknown field {:?}; the body has url, events, description and secret",
            shown(field)
        )));
    }
    Ok(NewWebhook {
        url,
        events,
        description,
        secret,
    })
}

/// A new secret: `whsec_` and 32 random bytes in hex.
fn generate_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("the operating system's random source failed: {e}")))?;
    Ok(format!("whsec_{}", sonica_schema::api_key::to_hex(&bytes)))
}

/// A webhook id from the path: a 400 when malformed.
fn parse_webhook_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("webhook id must be a positive integer, not {:?}", shown(raw))))
}

fn bad_param(m: String) -> ApiError {
    crate::SonicaError::Param(crate::search::ParamError(m)).into()
}

#[utoipa::path(post, path = "/webhooks", tag = "webhooks",
    request_body(content = NewWebhookBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The new subscription, with its `secret` (the key of `Sonica-Signature`)", body = WebhookView,
            headers(("Location" = String, description = "`/webhooks/{id}`"))),
        (status = 400, description = "`bad_request` (malformed JSON, not an object), `invalid_url` (not http/https, a user name or password, over 2048 characters, no host) or `invalid_webhook` (a missing url, missing or bad events, description or secret, an unknown event kind or field)", body = crate::service::error::ErrorBody),
        (status = 403, description = "`url_not_allowed`: a private, loopback or link-local address (without `allow_private_urls`), or a host off `allow_hosts`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`too_many_webhooks`: 100 subscriptions exist", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: over 16 KiB", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_content_type`: not `application/json`", body = crate::service::error::ErrorBody)))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let new = parse_new_webhook(
        json_body(&req, payload, MAX_JSON, "{\"url\", \"events\"}").await?,
        &state.config.net,
    )?;
    let secret = match new.secret {
        Some(s) => s,
        None => generate_secret()?,
    };
    let st = state.clone();
    let s = blocking(move || {
        st.webhooks
            .store()
            .add(
                NewSubscription {
                    url: new.url,
                    events: new.events,
                    secret,
                    created_unix: unix_now_s(),
                    description: new.description,
                },
                MAX_WEBHOOKS,
            )?
            .ok_or(ApiError::TooManyWebhooks(MAX_WEBHOOKS))
    })
    .await?;
    tracing::info!(id = s.id, url = %s.url, "webhook added");
    let location = format!("/webhooks/{}", s.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(view(&state, s, true)))
}

#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "Every subscription, by id (without secrets)", body = WebhookList),
        (status = 403, description = "`admin_required`", body = crate::service::error::ErrorBody)))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = state.webhooks.store().list();
    let webhooks = all.into_iter().map(|s| view(&state, s, false)).collect();
    Ok(HttpResponse::Ok().json(WebhookList { webhooks }))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = u64, Path, minimum = 1, description = "Webhook id")),
    responses(
        (status = 200, description = "The subscription, with its secret", body = WebhookView),
        (status = 400, description = "`bad_request`: the id is not a positive whole number", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_webhook`", body = crate::service::error::ErrorBody)))]
pub async fn get(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = parse_webhook_id(&path)?;
    let s = state.webhooks.store().get(id).ok_or(ApiError::UnknownWebhook(id))?;
    Ok(HttpResponse::Ok().json(view(&state, s, true)))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = u64, Path, minimum = 1, description = "Webhook id")),
    responses(
        (status = 204, description = "Removed, with its pending deliveries and its log"),
        (status = 400, description = "`bad_request`: the id is not a positive whole number", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_webhook`", body = crate::service::error::ErrorBody)))]
pub async fn delete(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = parse_webhook_id(&path)?;
    let st = state.clone();
    let removed = blocking(move || Ok(st.webhooks.store().remove(id)?)).await?;
    if !removed {
        return Err(ApiError::UnknownWebhook(id));
    }
    tracing::info!(id, "webhook removed");
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = u64, Path, minimum = 1, description = "Webhook id"), LogPage),
    responses(
        (status = 200, description = "The delivery log, oldest event first: attempts, last status or error, delivered or given up", body = DeliveryLog),
        (status = 400, description = "`bad_request` (a malformed id, an unknown parameter) or `invalid_parameter` (`after` or `limit` out of range)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_webhook`", body = crate::service::error::ErrorBody)))]
pub async fn deliveries(
    path: web::Path<String>,
    page: web::Query<LogPage>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_webhook_id(&path)?;
    let after = match page.after.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(raw) => raw.parse::<u64>().map_err(|_| {
            bad_param(format!(
                "after must be an event id (a whole number from 0), not {:?}",
                shown(raw)
            ))
        })?,
    };
    let limit = match page.limit.as_deref().map(str::trim) {
        None | Some("") => 100,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad_param(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}, not {:?}",
                    shown(raw)
                ))
            })?,
    };
    if state.webhooks.store().get(id).is_none() {
        return Err(ApiError::UnknownWebhook(id));
    }
    let st = state.clone();
    let rows: Vec<(Delivery, Option<EventKind>)> = blocking(move || {
        let store = st.webhooks.store();
        let rows = store.deliveries(id, after, limit)?;
        Ok(rows
            .into_iter()
            .map(|d| {
                let kind = store.event(d.event_id).ok().flatten().map(|e| e.kind);
                (d, kind)
            })
            .collect())
    })
    .await?;
    let next_after = (rows.len() == limit)
        .then(|| rows.last().map(|(d, _)| d.event_id))
        .flatten();
    let deliveries = rows
        .into_iter()
        .map(|(d, kind)| DeliveryView {
            event_id: d.event_id,
            kind,
            state: d.state(),
            attempts: d.attempts,
            next_attempt_unix_ms: d.is_pending().then_some(d.next_attempt_unix_ms),
            last_attempt_unix_ms: d.last_attempt_unix_ms,
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_unix: d.delivered_unix,
        })
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryLog { deliveries, next_after }))
}

#[utoipa::path(post, path = "/webhooks/{id}/ping", tag = "webhooks",
    params(("id" = u64, Path, minimum = 1, description = "Webhook id")),
    responses(
        (status = 202, description = "A `ping` event is stored for this subscription alone and will be delivered like any other (any body is ignored)", body = PingAnswer),
        (status = 400, description = "`bad_request`: the id is not a positive whole number", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_webhook`", body = crate::service::error::ErrorBody)))]
pub async fn ping(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = parse_webhook_id(&path)?;
    let st = state.clone();
    let event = blocking(move || st.webhooks.ping(id)?.ok_or(ApiError::UnknownWebhook(id))).await?;
    Ok(HttpResponse::Accepted().json(PingAnswer {
        event_id: event.id,
        subscription_id: id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(v: Value) -> String {
        match parse_new_webhook(v, &NetPolicy::default()) {
            Ok(_) => "ok".into(),
            Err(e) => format!("{}: {e}", e.code().as_str()),
        }
    }

    #[test]
    fn each_mistake_in_a_new_webhook_is_named() {
        let ok = parse_new_webhook(
            json!({"url": "https://example.com/h", "events": ["track.ready", "play.detected"], "description": " ci ", "secret": "0123456789abcdef"}),
            &NetPolicy::default(),
        )
        .unwrap();
        assert_eq!(ok.url, "https://example.com/h");
        assert_eq!(ok.events, [EventKind::TrackReady, EventKind::PlayDetected]);
        assert_eq!(ok.description.as_deref(), Some("ci"));
        let open = NetPolicy {
            allow_private: true,
            ..NetPolicy::default()
        };
        assert!(parse_new_webhook(json!({"url": "http://127.0.0.1:9/", "events": ["track.ready"]}), &open).is_ok());
        let listed = NetPolicy {
            allow_hosts: vec!["hooks.example.com".into()],
            ..NetPolicy::default()
        };
        assert!(parse_new_webhook(
            json!({"url": "https://hooks.example.com/", "events": ["track.ready"]}),
            &listed
        )
        .is_ok());
        let e = parse_new_webhook(
            json!({"url": "https://example.com/", "events": ["track.ready"]}),
            &listed,
        )
        .unwrap_err();
        assert!(e.to_string().contains("allow-list"), "{e}");
        let events = json!(["track.ready"]);
        for (body, want) in [
            (json!(["x"]), "bad_request"),
            (json!("x"), "bad_request"),
            (json!({"events": events}), "url is required"),
            (json!({"url": 5, "events": events}), "url must be a string"),
            (json!({"url": "file:///etc/passwd", "events": events}), "http and https"),
            (
                json!({"url": "gopher://example.com/", "events": events}),
                "http and https",
            ),
            (
                json!({"url": "https://a:b@example.com/", "events": events}),
                "user name or password",
            ),
            (
                json!({"url": format!("https://example.com/{}", "a".repeat(10_000)), "events": events}),
                "longer than 2048",
            ),
            (json!({"url": "http://127.0.0.1:9/", "events": events}), "private"),
            (json!({"url": "http://169.254.169.254/", "events": events}), "private"),
            (json!({"url": "https://example.com/"}), "events is required"),
            (
                json!({"url": "https://example.com/", "events": "track.ready"}),
                "events must be a list",
            ),
            (json!({"url": "https://example.com/", "events": []}), "at least one"),
            (json!({"url": "https://example.com/", "events": [1]}), "list of strings"),
            (
                json!({"url": "https://example.com/", "events": ["track.deleted"]}),
                "unknown event kind \"track.deleted\"",
            ),
            (
                json!({"url": "https://example.com/", "events": ["ping"]}),
                "ping is not subscribed",
            ),
            (
                json!({"url": "https://example.com/", "events": vec!["track.ready"; 33]}),
                "33 kinds",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "description": 5}),
                "description must be a string",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "description": "x".repeat(201)}),
                "at most 200",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "description": "a\u{7}b"}),
                "control",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "secret": "short"}),
                "16 to 256",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "secret": "x".repeat(257)}),
                "16 to 256",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "secret": "with spaces inside!!"}),
                "printable",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "secret": 7}),
                "secret must be a string",
            ),
            (
                json!({"url": "https://example.com/", "events": events, "admin": true}),
                "unknown field \"admin\"",
            ),
        ] {
            let got = code(body.clone());
            let expect_code = match want {
                "bad_request" => "bad_request",
                "http and https" | "user name or password" | "longer than 2048" => "invalid_url",
                "private" => "url_not_allowed",
                _ => "invalid_webhook",
            };
            assert!(got.starts_with(expect_code), "{body}: {got}");
            assert!(got.contains(want), "{body}: {got}");
        }
    }

    #[test]
    fn ids_and_secrets() {
        assert_eq!(parse_webhook_id("7").unwrap(), 7);
        for bad in ["0", "-1", "abc", "18446744073709551616", ""] {
            assert_eq!(
                parse_webhook_id(bad).unwrap_err().code().as_str(),
                "bad_request",
                "{bad}"
            );
        }
        let s = generate_secret().unwrap();
        assert!(s.starts_with("whsec_") && s.len() == 6 + 64);
        assert_ne!(s, generate_secret().unwrap());
    }
}

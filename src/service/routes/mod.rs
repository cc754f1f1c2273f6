//! The HTTP routes, one file each. This file wires them up, with the
//! fallbacks that keep every answer in the one error shape: unknown routes,
//! wrong methods and malformed query strings.

pub mod admin;
pub mod analysis;
pub mod docs;
pub mod duplicates;
pub mod health;
pub mod mastering;
pub mod media;
pub mod metrics;
pub mod monitors;
pub mod patterns;
pub mod recognize;
pub mod search;
pub mod similar;
pub mod songs;
pub mod stream;
pub mod tracks;
pub mod webapp;
pub mod webhooks;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder};

use crate::service::error::{extractor_error, ApiError};

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| extractor_error(e.to_string())))
        .app_data(web::JsonConfig::default().error_handler(|e, _| extractor_error(e.to_string())))
        .app_data(web::PathConfig::default().error_handler(|e, _| extractor_error(e.to_string())))
        .service(resource("/health").get(health::health))
        .service(resource("/songs").get(songs::list))
        .service(resource("/duplicates").get(duplicates::list))
        .service(resource("/tracks").post(tracks::upload))
        .service(resource("/upload").post(tracks::upload))
        .service(resource("/tracks/{id}").get(tracks::get).delete(tracks::delete))
        .service(resource("/tracks/{id}/analysis").get(analysis::get))
        .service(resource("/tracks/{id}/pattern.mid").get(analysis::pattern))
        .service(resource("/tracks/{id}/similar").get(similar::by_track))
        .service(resource("/tracks/{id}/waveform").get(media::waveform))
        .service(resource("/tracks/{id}/spectrogram").get(media::spectrogram))
        .service(resource("/tracks/{id}/audio").get(media::audio))
        .service(resource("/analyze").post(analysis::analyze))
        .service(resource("/search/similar").post(similar::by_body))
        .service(resource("/search").get(search::text).post(search::mixed))
        .service(resource("/recognize").post(recognize::recognize))
        .service(resource("/ws/stream").get(stream::stream))
        .service(resource("/api/analyze").post(mastering::analyze))
        .service(resource("/api/analysis/{id}").get(mastering::get))
        .service(resource("/api/analysis/{id}/preview.wav").get(mastering::preview))
        .service(
            resource("/api/references")
                .get(mastering::list_references)
                .post(mastering::mark),
        )
        .service(resource("/api/references/{track_id}").delete(mastering::unmark))
        .service(resource("/api/similarity/{analysis_id}").post(mastering::similarity))
        .service(resource("/patterns/{id}").get(patterns::get))
        .service(resource("/patterns/{id}/midi").get(patterns::midi))
        .service(resource("/patterns/{id}/preview").get(patterns::preview))
        .service(resource("/search/patterns").post(patterns::search))
        .service(resource("/admin/keys").get(admin::list).post(admin::create))
        .service(resource("/admin/keys/{id}").delete(admin::revoke))
        .service(resource("/monitors").get(monitors::list).post(monitors::create))
        .service(resource("/monitors/events").get(monitors::all_events))
        .service(resource("/monitors/{id}").get(monitors::get).delete(monitors::delete))
        .service(resource("/monitors/{id}/plays").get(monitors::plays))
        .service(resource("/monitors/{id}/events").get(monitors::events))
        .service(resource("/webhooks").get(webhooks::list).post(webhooks::create))
        .service(resource("/webhooks/{id}").get(webhooks::get).delete(webhooks::delete))
        .service(resource("/webhooks/{id}/deliveries").get(webhooks::deliveries))
        .service(resource("/webhooks/{id}/ping").post(webhooks::ping))
        .service(resource("/metrics").get(metrics::metrics))
        .service(resource("/openapi.json").get(docs::openapi))
        .service(resource("/docs").get(docs::docs))
        .service(resource("/").get(webapp::index))
        .service(resource("/app/{name}").get(webapp::asset));
}

/// A resource under construction: its routes, and the methods they answer,
/// so that any other method gets a 405 whose `Allow` names exactly those
/// (RFC 9110 requires the header on a 405).
pub struct Res {
    inner: Resource,
    methods: Vec<Method>,
}

/// Starts a resource; add its methods with [`Res::get`], [`Res::post`] and
/// [`Res::delete`].
pub fn resource(path: &str) -> Res {
    Res {
        inner: web::resource(path),
        methods: Vec::new(),
    }
}

impl Res {
    fn on<F, Args>(mut self, method: Method, handler: F) -> Res
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.inner = self.inner.route(web::route().method(method.clone()).to(handler));
        self.methods.push(method);
        self
    }

    pub fn get<F, Args>(self, handler: F) -> Res
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::GET, handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Res
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::POST, handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Res
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::DELETE, handler)
    }

    /// The `Allow` value: the methods registered, in order.
    pub fn allow(&self) -> String {
        self.methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
    }
}

impl HttpServiceFactory for Res {
    fn register(self, config: &mut AppService) {
        let allow = self.allow();
        self.inner
            .default_service(web::to(move |req: HttpRequest| {
                let allow = allow.clone();
                async move { method_not_allowed(&req, &allow) }
            }))
            .register(config)
    }
}

fn method_not_allowed(req: &HttpRequest, allow: &str) -> HttpResponse {
    let e = serde_json::json!({"error": {
        "code": crate::ErrorCode::MethodNotAllowed,
        "message": format!("{} is not allowed on {}; use {allow}", req.method(), req.path()),
    }});
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow.to_string()))
        .json(e)
}

/// The app's fallback for paths no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

/// Parses a track id from the path, as a 400 (not a 404) when malformed.
pub fn parse_id(raw: &str) -> Result<u32, ApiError> {
    raw.parse::<u32>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("track id must be a positive integer, not {raw:?}")))
}

/// The request's `Content-Type`, lower-cased (empty when absent or not
/// text): what the body readers dispatch on.
pub fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A JSON body that must be sent as `application/json` (else 415, naming
/// `shape`, what the body holds), read under `max` bytes.
pub async fn json_body(
    req: &HttpRequest,
    payload: web::Payload,
    max: usize,
    shape: &str,
) -> Result<serde_json::Value, ApiError> {
    if !content_type(req).starts_with("application/json") {
        return Err(ApiError::UnsupportedContentType(format!(
            "the body must be application/json: {shape}"
        )));
    }
    json_value(payload, max).await
}

/// A request body read as JSON, at most `max` bytes (413 beyond), malformed
/// JSON a 400.
pub async fn json_value(mut payload: web::Payload, max: usize) -> Result<serde_json::Value, ApiError> {
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::TooLarge {
                limit_mb: max as f64 / (1024.0 * 1024.0),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
}

/// A true/false query parameter (`true`/`1`, `false`/`0`, blank = false),
/// as a 400 naming it otherwise.
pub fn parse_flag(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw.map(str::trim).unwrap_or("") {
        "" | "false" | "0" => Ok(false),
        "true" | "1" => Ok(true),
        other => Err(ApiError::BadRequest(format!(
            "{name} must be true or false, not {:?}",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// Runs blocking work (store, decode, fingerprint) off the HTTP workers.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f)
        .await
        .map_err(|_| ApiError::Internal("a blocking task was cancelled".into()))?
}

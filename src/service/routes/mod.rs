//! The HTTP routes, one file each. This file wires them up, with the
//! fallbacks that keep every answer in the one error shape: unknown routes,
//! wrong methods and malformed query strings.

pub mod analysis;
pub mod docs;
pub mod duplicates;
pub mod health;
pub mod metrics;
pub mod recognize;
pub mod search;
pub mod similar;
pub mod songs;
pub mod stream;
pub mod tracks;

use actix_web::{web, HttpRequest, HttpResponse, Resource};

use crate::service::error::{extractor_error, ApiError};

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| extractor_error(e.to_string())))
        .app_data(web::JsonConfig::default().error_handler(|e, _| extractor_error(e.to_string())))
        .app_data(web::PathConfig::default().error_handler(|e, _| extractor_error(e.to_string())))
        .service(resource("/health").route(web::get().to(health::health)))
        .service(resource("/songs").route(web::get().to(songs::list)))
        .service(resource("/duplicates").route(web::get().to(duplicates::list)))
        .service(resource("/tracks").route(web::post().to(tracks::upload)))
        .service(resource("/upload").route(web::post().to(tracks::upload)))
        .service(
            resource("/tracks/{id}")
                .route(web::get().to(tracks::get))
                .route(web::delete().to(tracks::delete)),
        )
        .service(resource("/tracks/{id}/analysis").route(web::get().to(analysis::get)))
        .service(resource("/tracks/{id}/pattern.mid").route(web::get().to(analysis::pattern)))
        .service(resource("/tracks/{id}/similar").route(web::get().to(similar::by_track)))
        .service(resource("/analyze").route(web::post().to(analysis::analyze)))
        .service(resource("/search/similar").route(web::post().to(similar::by_body)))
        .service(
            resource("/search")
                .route(web::get().to(search::text))
                .route(web::post().to(search::mixed)),
        )
        .service(resource("/recognize").route(web::post().to(recognize::recognize)))
        .service(resource("/ws/stream").route(web::get().to(stream::stream)))
        .service(resource("/metrics").route(web::get().to(metrics::metrics)))
        .service(resource("/openapi.json").route(web::get().to(docs::openapi)))
        .service(resource("/docs").route(web::get().to(docs::docs)));
}

fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let e = serde_json::json!({"error": {
        "code": crate::ErrorCode::MethodNotAllowed,
        "message": format!("{} is not allowed on {}", req.method(), req.path()),
    }});
    HttpResponse::MethodNotAllowed().json(e)
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

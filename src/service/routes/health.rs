//! `GET /health`: liveness plus a real read of the store, so a broken store
//! shows as 503 rather than a cheerful "ok".

use actix_web::{web, HttpResponse};
use serde::Serialize;
use sonica_schema::layout::META_FORMAT_VERSION;
use sonica_schema::Tree;

use crate::service::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// "ok", or "unavailable" with a 503.
    pub status: &'static str,
    pub tracks: usize,
    pub queued: usize,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let usable = matches!(state.index.store().get(Tree::Meta, META_FORMAT_VERSION), Ok(Some(_)));
    let body = Health {
        status: if usable { "ok" } else { "unavailable" },
        tracks: state.index.len(),
        queued: state.scheduler.depth(),
        version: env!("CARGO_PKG_VERSION"),
    };
    if usable {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

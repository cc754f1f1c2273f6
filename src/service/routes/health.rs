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
    pub watch: WatchView,
}

/// The watched folder's state.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WatchView {
    /// `watching`, `held_back` (the folder looks empty or gone: nothing is
    /// removed, and it is checked again every 5 s) or `off`.
    pub state: &'static str,
    pub folder: String,
    /// Files seen changing, waiting to settle before they are ingested.
    pub settling: usize,
    /// Unix seconds of the last full scan (absent before the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scan_s: Option<u64>,
    /// Whether a file leaving the folder removes its track.
    pub removes_tracks: bool,
}

fn watch_view(state: &AppState) -> WatchView {
    use std::sync::atomic::Ordering::Relaxed;
    let w = &state.watch;
    let running = w.running.load(Relaxed);
    WatchView {
        state: match (running, w.held_back.load(Relaxed)) {
            (false, _) => "off",
            (true, true) => "held_back",
            (true, false) => "watching",
        },
        folder: state.songs_dir.display().to_string(),
        settling: if running { w.settling.load(Relaxed) } else { 0 },
        last_scan_s: Some(w.last_scan_s.load(Relaxed)).filter(|&s| s > 0),
        removes_tracks: state.config.watch_remove,
    }
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
        watch: watch_view(&state),
    };
    if usable {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

//! `GET /songs`: the library, ready tracks and pending ones, by id.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::service::error::ApiError;
use crate::service::routes::blocking;
use crate::service::state::{AppState, TrackView};

const MAX_LIMIT: usize = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Tracks to skip (default 0).
    pub offset: Option<usize>,
    /// Tracks to return (default 100, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SongList {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub songs: Vec<TrackView>,
}

#[utoipa::path(get, path = "/songs", tag = "tracks", params(Page),
    responses((status = 200, body = SongList), (status = 400, body = crate::service::openapi::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, page: web::Query<Page>) -> Result<HttpResponse, ApiError> {
    let offset = page.offset.unwrap_or(0);
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let st = state.clone();
    let all = blocking(move || st.all_views()).await?;
    let total = all.len();
    let songs = all.into_iter().skip(offset).take(limit).collect();
    Ok(HttpResponse::Ok().json(SongList {
        total,
        offset,
        limit,
        songs,
    }))
}

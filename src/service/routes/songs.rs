//! `GET /songs`: the library, ready tracks and pending ones, by id.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::service::error::ApiError;
use crate::service::routes::blocking;
use crate::service::state::{AppState, TrackView};

const MAX_LIMIT: usize = 1000;

/// Deepest offset: there are never more tracks than ids.
const MAX_OFFSET: usize = u32::MAX as usize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Tracks to skip (default 0).
    #[param(value_type = u64, required = false, minimum = 0, maximum = 4294967295.0)]
    pub offset: Option<usize>,
    /// Tracks to return, 1–1000 (default 100).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 1000)]
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
    responses((status = 200, body = SongList),
        (status = 400, description = "`bad_request`: offset or limit out of range or not a whole number, or an unknown parameter", body = crate::service::error::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, page: web::Query<Page>) -> Result<HttpResponse, ApiError> {
    let offset = page.offset.unwrap_or(0);
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    if offset > MAX_OFFSET {
        return Err(ApiError::BadRequest(format!(
            "offset must be between 0 and {MAX_OFFSET}"
        )));
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

//! `GET /duplicates`: the library's duplicate groups, from the links stored
//! when duplicates were added (under `flag` or `keep`).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use sonica_index::DuplicateGroup;

use crate::service::error::ApiError;
use crate::service::routes::blocking;
use crate::service::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct DuplicateGroups {
    /// Groups of tracks joined by duplicate links, largest first. Each has
    /// `tracks` (ids, smallest first) and `links` (`track` is `kind` of `of`:
    /// `exact`, `same_recording`, `section_of` or `contains`, with
    /// `of_path`, `overlap_s` and `score`).
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<DuplicateGroup>,
}

#[utoipa::path(get, path = "/duplicates", tag = "tracks",
    responses((status = 200, body = DuplicateGroups)))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let groups = blocking(move || Ok(st.index.duplicate_groups()?)).await?;
    Ok(HttpResponse::Ok().json(DuplicateGroups { groups }))
}

//! `GET /songs`: the library, ready tracks and pending ones, a page at a
//! time: by id unless another order is asked for, optionally filtered by
//! text and status (the web app's track list pages through this, never
//! the whole library at once).

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
    /// Order: `id` (default), `title`, `artist`, `duration_s` or `created_at`.
    #[param(value_type = String, required = false)]
    pub sort: Option<String>,
    /// `true` for descending order (default `false`).
    #[param(value_type = bool, required = false)]
    pub desc: Option<String>,
    /// Keeps tracks whose title, artist, album or path contains this text (case-insensitive).
    #[param(value_type = String, required = false, max_length = 200)]
    pub q: Option<String>,
    /// Keeps tracks with this status: QUEUED, PROCESSING, READY, FAILED or REJECTED.
    #[param(value_type = String, required = false)]
    pub status: Option<String>,
}

/// How to order the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Id,
    Title,
    Artist,
    Duration,
    Created,
}

const STATUSES: [&str; 5] = ["QUEUED", "PROCESSING", "READY", "FAILED", "REJECTED"];
/// Longest filter text.
const MAX_Q: usize = 200;

/// The page's order and filters, checked.
struct View {
    sort: SortBy,
    desc: bool,
    q: Option<String>,
    status: Option<&'static str>,
}

fn parse_view(p: &Page) -> Result<View, ApiError> {
    let sort = match p.sort.as_deref().map(str::trim).unwrap_or("") {
        "" | "id" => SortBy::Id,
        "title" => SortBy::Title,
        "artist" => SortBy::Artist,
        "duration_s" => SortBy::Duration,
        "created_at" => SortBy::Created,
        other => {
            return Err(ApiError::BadRequest(format!(
                "sort must be id, title, artist, duration_s or created_at, not {:?}",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let desc = crate::service::routes::parse_flag("desc", p.desc.as_deref())?;
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_Q) {
        return Err(ApiError::BadRequest(format!("q holds at most {MAX_Q} characters")));
    }
    let status = match p.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            STATUSES
                .iter()
                .copied()
                .find(|k| k.eq_ignore_ascii_case(s))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "status must be one of {}, not {:?}",
                        STATUSES.join(", "),
                        s.chars().take(40).collect::<String>()
                    ))
                })?,
        ),
    };
    Ok(View {
        sort,
        desc,
        q: q.map(str::to_lowercase),
        status,
    })
}

impl View {
    fn keeps(&self, t: &TrackView) -> bool {
        if self.status.is_some_and(|s| s != t.status) {
            return false;
        }
        let Some(q) = &self.q else { return true };
        [Some(&t.title), t.artist.as_ref(), t.album.as_ref(), Some(&t.path)]
            .into_iter()
            .flatten()
            .any(|f| f.to_lowercase().contains(q.as_str()))
    }

    fn order(&self, all: &mut [TrackView]) {
        let text = |s: Option<&String>| s.map(|s| s.to_lowercase());
        match self.sort {
            SortBy::Id => all.sort_by_key(|t| t.id),
            SortBy::Title => all.sort_by_cached_key(|t| (t.title.to_lowercase(), t.id)),
            SortBy::Artist => {
                all.sort_by_cached_key(|t| (text(t.artist.as_ref()).is_none(), text(t.artist.as_ref()), t.id))
            }
            SortBy::Duration => all.sort_by(|a, b| {
                let d = |t: &TrackView| t.duration_s.unwrap_or(f64::INFINITY);
                d(a).total_cmp(&d(b)).then(a.id.cmp(&b.id))
            }),
            SortBy::Created => all.sort_by_key(|t| (t.created_at, t.id)),
        }
        if self.desc {
            all.reverse();
        }
    }
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
        (status = 400, description = "`bad_request`: offset or limit out of range or not a whole number, an unknown sort, desc or status, q over 200 characters, or an unknown parameter", body = crate::service::error::ErrorBody)))]
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
    let view = parse_view(&page)?;
    let st = state.clone();
    let mut all = blocking(move || st.all_views()).await?;
    all.retain(|t| view.keeps(t));
    view.order(&mut all);
    let total = all.len();
    let songs = all.into_iter().skip(offset).take(limit).collect();
    Ok(HttpResponse::Ok().json(SongList {
        total,
        offset,
        limit,
        songs,
    }))
}

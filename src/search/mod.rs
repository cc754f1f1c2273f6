//! Queries over the music indexes, shared by the CLI and the service:
//! similar tracks (by id or by a clip's analysis), text search with
//! filters, and queries that mix text with audio.
//!
//! The index crate answers "which ids"; this layer checks the parameters,
//! turns a clip into vectors (decode and analysis are audio work), looks up
//! the records and shapes one answer that both front ends print.

pub mod combined;
pub mod params;
pub mod patterns;

use serde::Serialize;
use sonica_index::{FingerprintIndex, MusicIndex};
use sonica_index::{TextQuery, TextResults};
use sonica_schema::{TrackAnalysis, TrackId, TrackRecord};

pub use params::{ParamError, RawFilter, RawSimilar, SimilarParams};

use crate::SonicaError;
use sonica_index::QueryVectors;

/// A track in an answer, with what the user needs to recognise it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackHit {
    pub id: TrackId,
    pub path: String,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    /// Cosine similarity of the compared vectors, −1 to 1 (1 = the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// Relevance of the text match (tantivy's score).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_score: Option<f64>,
}

impl TrackHit {
    pub fn of(r: &TrackRecord) -> TrackHit {
        TrackHit {
            id: r.id,
            path: r.path.clone(),
            title: r.title.clone(),
            artist: r.artist.clone(),
            album: r.album.clone(),
            genre: r.genre.clone(),
            similarity: None,
            text_score: None,
        }
    }
}

/// What a similarity query was asked about.
#[derive(Debug, Clone)]
pub enum SimilarTo {
    Track(TrackId),
    /// An analysed clip that is not (necessarily) in the library.
    Clip(Box<TrackAnalysis>),
}

/// The stored analysis of a track, or why there is none.
pub fn track_analysis(index: &FingerprintIndex, id: TrackId) -> Result<TrackAnalysis, SonicaError> {
    if live_record(index, id)?.analysis_pending {
        return Err(SonicaError::AnalysisPending(id));
    }
    match index.analysis(id)? {
        Some(a) if a.is_current() => Ok(a),
        _ => Err(SonicaError::NotAnalysed(id)),
    }
}

/// A live track's record, or why there is none: still a job
/// ([`SonicaError::NotReady`]) or no such track.
pub fn live_record(index: &FingerprintIndex, id: TrackId) -> Result<sonica_schema::TrackRecord, SonicaError> {
    match index.get(id)? {
        Some(r) => Ok(r),
        None if index.job(id)?.is_some() => Err(SonicaError::NotReady(id)),
        None => Err(SonicaError::Index(sonica_index::IndexError::UnknownTrack(id))),
    }
}

/// The `top_k` tracks most like `query` that pass the filter, best first.
pub fn similar(
    index: &FingerprintIndex,
    music: &MusicIndex,
    query: &SimilarTo,
    p: &SimilarParams,
) -> Result<Vec<TrackHit>, SonicaError> {
    let (analysis, exclude) = match query {
        SimilarTo::Track(id) => (track_analysis(index, *id)?, Some(*id)),
        SimilarTo::Clip(a) => ((**a).clone(), None),
    };
    let vectors = QueryVectors::of(&analysis, music.mixer());
    let allow = music.allowed(&p.filter, None)?;
    let hits = music.nearest(p.kind, &vectors, allow.as_ref(), p.top_k, p.min_similarity, exclude)?;
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        // A track removed between the search and this read is skipped.
        if let Some(r) = index.get(h.id)? {
            let mut t = TrackHit::of(&r);
            t.similarity = Some(round4(h.similarity));
            out.push(t);
        }
    }
    Ok(out)
}

/// Text search: hits with their records, the total and facet counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TextAnswer {
    pub total: usize,
    pub results: Vec<TrackHit>,
    /// Counts over every match (not just this page), by genre and by key.
    pub facets: Facets,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Facets {
    pub genre: Vec<FacetCount>,
    pub key: Vec<FacetCount>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Runs a text query and attaches the records.
pub fn text_search(index: &FingerprintIndex, music: &MusicIndex, q: &TextQuery) -> Result<TextAnswer, SonicaError> {
    let TextResults { total, hits, facets } = music.search_text(q)?;
    let mut results = Vec::with_capacity(hits.len());
    for h in hits {
        if let Some(r) = index.get(h.id)? {
            let mut t = TrackHit::of(&r);
            t.text_score = Some(round4(h.score));
            results.push(t);
        }
    }
    let counts = |v: Vec<(String, u64)>| {
        v.into_iter()
            .map(|(value, count)| FacetCount { value, count })
            .collect()
    };
    Ok(TextAnswer {
        total,
        results,
        facets: Facets {
            genre: counts(facets.genre),
            key: counts(facets.key),
        },
    })
}

/// Four decimals, in f64 so JSON shows 0.9982 and not 0.998199999332428.
pub(crate) fn round4(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

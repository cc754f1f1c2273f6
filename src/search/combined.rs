//! Queries that mix text and audio: one ranked list, each result with its
//! reasons.
//!
//! A clip that is a known recording is identified, and that track leads the
//! list. The rest are ranked by how alike they sound to the clip, restricted
//! to what the text (and filters) match and nudged up by how well the text
//! matches: the text says *which* tracks, the audio says *in what order*.
//! Without a clip the list is the text search; without text it is plain
//! similarity.

use std::collections::HashMap;

use serde::Serialize;
use sonica_index::QueryVectors;
use sonica_index::{Filter, TextQuery};
use sonica_index::{FingerprintIndex, MusicIndex, VectorKind};
use sonica_schema::{TrackAnalysis, TrackId};

use super::{round4, TrackHit};
use crate::SonicaError;

/// How much a perfect text match adds to a similarity (−1…1): enough to
/// reorder near ties, never enough to lift a dissimilar track over a close one.
const TEXT_BOOST: f32 = 0.25;
/// Text hits read to weigh the boost (the allow-list itself is complete).
const TEXT_SCORED: usize = 1000;

/// A checked mixed query.
#[derive(Debug, Clone)]
pub struct CombinedQuery {
    pub text: Option<String>,
    pub filter: Filter,
    pub limit: usize,
    pub kind: VectorKind,
}

/// A recognition of the clip.
#[derive(Debug, Clone, Copy)]
pub struct Identified {
    pub id: TrackId,
    pub confidence: f64,
    pub offset_s: f64,
}

/// Why a result is in the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The clip is a recording of this track.
    Identified { confidence: f64, offset_s: f64 },
    /// The text matched, with this relevance (tantivy score).
    Text { score: f64 },
    /// It sounds like the clip: cosine similarity of the chosen vectors.
    Similarity { similarity: f64 },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RankedHit {
    #[serde(flatten)]
    pub track: TrackHit,
    /// The value the list is sorted by (higher first).
    pub score: f64,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CombinedAnswer {
    /// True when the clip was recognised as a track in the library.
    pub identified: bool,
    pub results: Vec<RankedHit>,
}

/// Ranks the library for a query of text, a clip, or both.
pub fn combined(
    index: &FingerprintIndex,
    music: &MusicIndex,
    q: &CombinedQuery,
    identified: Option<Identified>,
    clip: Option<&TrackAnalysis>,
) -> Result<CombinedAnswer, SonicaError> {
    let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    // Text relevance of the matching tracks, normalised to 0–1.
    let mut text_scores: HashMap<TrackId, f32> = HashMap::new();
    if let Some(t) = text {
        let r = music.search_text(&TextQuery {
            text: Some(t.to_string()),
            filter: q.filter.clone(),
            limit: TEXT_SCORED.max(q.limit),
            offset: 0,
        })?;
        text_scores.extend(r.hits.iter().map(|h| (h.id, h.score)));
    }
    let best_text = text_scores.values().copied().fold(0.0f32, f32::max);
    let text_norm = |id: TrackId| -> Option<f32> {
        text_scores
            .get(&id)
            .map(|s| if best_text > 0.0 { s / best_text } else { 1.0 })
    };

    let mut ranked: Vec<(TrackId, f32, Vec<Reason>)> = Vec::new();
    if let Some(idf) = identified {
        let mut reasons = vec![Reason::Identified {
            confidence: idf.confidence,
            offset_s: idf.offset_s,
        }];
        if let Some(s) = text_scores.get(&idf.id) {
            reasons.push(Reason::Text { score: round4(*s) });
        }
        // Above any similarity plus boost (at most 1 + TEXT_BOOST).
        ranked.push((idf.id, 2.0, reasons));
    }
    let skip = identified.map(|i| i.id);
    match clip {
        Some(a) => {
            let vectors = QueryVectors::of(a, music.mixer());
            let allow = music.allowed(&q.filter, text)?;
            let want = q.limit + usize::from(skip.is_some());
            for h in music.nearest(q.kind, &vectors, allow.as_ref(), want, -1.0, skip)? {
                let mut reasons = vec![Reason::Similarity {
                    similarity: round4(h.similarity),
                }];
                let mut score = h.similarity;
                if let Some(n) = text_norm(h.id) {
                    score += TEXT_BOOST * n;
                    reasons.push(Reason::Text {
                        score: round4(text_scores[&h.id]),
                    });
                }
                ranked.push((h.id, score, reasons));
            }
        }
        None => {
            for (id, s) in &text_scores {
                if Some(*id) != skip {
                    ranked.push((
                        *id,
                        text_norm(*id).unwrap_or(0.0),
                        vec![Reason::Text { score: round4(*s) }],
                    ));
                }
            }
        }
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(q.limit);
    let mut results = Vec::with_capacity(ranked.len());
    for (id, score, reasons) in ranked {
        let Some(r) = index.get(id)? else { continue };
        let mut track = TrackHit::of(&r);
        for reason in &reasons {
            match reason {
                Reason::Similarity { similarity } => track.similarity = Some(*similarity),
                Reason::Text { score } => track.text_score = Some(*score),
                Reason::Identified { .. } => {}
            }
        }
        results.push(RankedHit {
            track,
            score: round4(score),
            reasons,
        });
    }
    Ok(CombinedAnswer {
        identified: identified.is_some(),
        results,
    })
}

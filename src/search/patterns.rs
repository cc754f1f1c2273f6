//! Pattern search: section drum patterns like a given one, under tempo,
//! genre and key filters, grouped by the track they come from (the shape
//! the MiDiMe seed answers with).
//!
//! The query is a stored pattern (by id, or by track and section) or an
//! analysed clip (its best section's pattern). Filters are on the source
//! track: a tempo range, a list of genres and a list of keys, each list
//! meaning "any of these".

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sonica_index::{AllowList, Filter as TextFilter, FingerprintIndex, MusicIndex};
use sonica_schema::{Key, PatternId, SectionPattern, TrackAnalysis, TrackId};

use super::params::ParamError;
use super::{round4, track_analysis};
use crate::analysis::section_pattern::tempo_readings;
use crate::SonicaError;

/// Longest genre or key list a query may give.
pub const MAX_LIST: usize = 24;
/// Most results (pattern matches) one query may ask for.
pub const MAX_LIMIT: usize = 100;
pub const DEFAULT_LIMIT: usize = 20;

/// What to search patterns like.
#[derive(Debug, Clone)]
pub enum PatternSource {
    Pattern(PatternId),
    Section {
        track: TrackId,
        section: usize,
    },
    /// An analysed clip: its best section's pattern.
    Clip(Box<TrackAnalysis>),
}

/// The filters, as the request gives them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternFilters {
    /// `[min, max]` beats per minute, inclusive.
    #[serde(default)]
    pub tempo_range: Option<[f64; 2]>,
    /// Any of these genres (whole genre, case-insensitive).
    #[serde(default)]
    pub genre: Vec<String>,
    /// Any of these keys ("A minor", "F#m", "Eb major").
    #[serde(default)]
    pub key: Vec<String>,
}

/// Checked query parameters.
#[derive(Debug, Clone)]
pub struct PatternParams {
    pub min_similarity: f32,
    pub limit: usize,
    pub tempo: Option<(f64, f64)>,
    pub genres: Vec<String>,
    pub keys: Vec<Key>,
}

impl PatternParams {
    pub fn parse(min_similarity: Option<f64>, limit: Option<f64>, f: &PatternFilters) -> Result<Self, ParamError> {
        let min_similarity = min_similarity.unwrap_or(0.0);
        if !(-1.0..=1.0).contains(&min_similarity) {
            return Err(ParamError(format!(
                "min_similarity must be between -1 and 1, not {min_similarity}"
            )));
        }
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) if l.fract() == 0.0 && (1.0..=MAX_LIMIT as f64).contains(&l) => l as usize,
            Some(l) => {
                return Err(ParamError(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}, not {l}"
                )))
            }
        };
        let tempo = match f.tempo_range {
            None => None,
            Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo <= hi && hi <= 1000.0 => {
                Some((lo, hi))
            }
            Some([lo, hi]) => {
                return Err(ParamError(format!(
                    "filters.tempo_range must be [min, max] with 0 <= min <= max <= 1000, not [{lo}, {hi}]"
                )))
            }
        };
        if f.genre.len() > MAX_LIST || f.key.len() > MAX_LIST {
            return Err(ParamError(format!(
                "filters.genre and filters.key take at most {MAX_LIST} entries each"
            )));
        }
        let mut genres = Vec::new();
        for g in &f.genre {
            let g = g.trim();
            if g.is_empty() || g.chars().count() > 100 {
                return Err(ParamError("filters.genre entries must be 1 to 100 characters".into()));
            }
            genres.push(g.to_string());
        }
        let mut keys = Vec::new();
        for k in &f.key {
            let key = Key::parse(k).ok_or_else(|| {
                ParamError(format!(
                    "filters.key: {:?} is not a key (write it as \"A minor\", \"F#m\" or \"Eb major\")",
                    k.chars().take(40).collect::<String>()
                ))
            })?;
            keys.push(key);
        }
        Ok(PatternParams {
            min_similarity: min_similarity as f32,
            limit,
            tempo,
            genres,
            keys,
        })
    }
}

/// One matching section.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PatternMatch {
    pub pattern_id: u64,
    pub section_index: usize,
    pub label: String,
    pub function: String,
    pub start_s: f64,
    pub end_s: f64,
    pub similarity_score: f64,
    pub tempo_bpm: f64,
    pub key: Option<String>,
    pub genre: Option<String>,
    pub quality: f64,
    pub preview_url: String,
    pub midi_url: String,
    /// Whether the caller's tier may download the MIDI (set by the route).
    pub midi_available: bool,
}

/// The matches of one source track.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackPatterns {
    pub track_id: TrackId,
    pub title: String,
    pub artist: Option<String>,
    pub genre: Option<String>,
    /// The best section's similarity.
    pub best_score: f64,
    pub sections: Vec<PatternMatch>,
}

/// What the query was.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueryInfo {
    /// `pattern`, `section` or `clip`.
    pub source: String,
    pub pattern_id: Option<u64>,
    pub tempo_bpm: f64,
    pub key: Option<String>,
    pub grid_text: Option<[String; 3]>,
    pub min_similarity: f64,
    pub limit: usize,
    /// Patterns held in the library's pattern graph.
    pub patterns_indexed: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PatternAnswer {
    pub results: Vec<TrackPatterns>,
    pub total_matches: usize,
    pub query_info: QueryInfo,
}

/// The pattern a source stands for, its readings at other tempo octaves
/// ([`tempo_readings`]), its id when stored, and its track.
type Query = (SectionPattern, Vec<SectionPattern>, Option<PatternId>, Option<TrackId>);

fn query_pattern(index: &FingerprintIndex, source: &PatternSource) -> Result<Query, SonicaError> {
    let stored = |track: TrackId, section: usize| -> Result<_, SonicaError> {
        let a = track_analysis(index, track)?;
        let s = a.sections.get(section);
        let p = s.and_then(|s| s.pattern.clone()).ok_or(SonicaError::UnknownPattern(
            PatternId::new(track, section).map_or(0, |p| p.0),
        ))?;
        let readings = s.map_or_else(Vec::new, |s| tempo_readings(&a, s.start_s, s.end_s));
        Ok((p, readings, PatternId::new(track, section), Some(track)))
    };
    match source {
        PatternSource::Pattern(id) => {
            let track = id.track().ok_or(SonicaError::UnknownPattern(id.0))?;
            stored(track, id.section()).map_err(|e| match e {
                SonicaError::Index(sonica_index::IndexError::UnknownTrack(_)) => SonicaError::UnknownPattern(id.0),
                e => e,
            })
        }
        PatternSource::Section { track, section } => stored(*track, *section),
        PatternSource::Clip(a) => {
            let best = a
                .sections
                .iter()
                .filter(|s| s.pattern.as_ref().is_some_and(|p| !p.vector.is_empty()))
                .max_by(|x, y| {
                    let q = |s: &sonica_schema::Section| s.pattern.as_ref().map_or(0.0, |p| p.quality);
                    q(x).total_cmp(&q(y))
                })
                .ok_or(SonicaError::NoPattern)?;
            let readings = tempo_readings(a, best.start_s, best.end_s);
            Ok((
                best.pattern.clone().ok_or(SonicaError::NoPattern)?,
                readings,
                None,
                None,
            ))
        }
    }
}

/// The tracks the filters let through, or `None` when they let every track through.
fn allowed(music: &MusicIndex, p: &PatternParams) -> Result<Option<AllowList>, SonicaError> {
    if p.tempo.is_none() && p.genres.is_empty() && p.keys.is_empty() {
        return Ok(None);
    }
    let base = TextFilter {
        tempo_min: p.tempo.map(|t| t.0),
        tempo_max: p.tempo.map(|t| t.1),
        ..TextFilter::default()
    };
    let ids = |f: &TextFilter| -> Result<BTreeSet<u32>, SonicaError> {
        Ok(music
            .allowed(f, None)?
            .map(|a| a.ids().iter().copied().collect())
            .unwrap_or_default())
    };
    let mut set: Option<BTreeSet<u32>> = None;
    if !p.genres.is_empty() {
        let mut any = BTreeSet::new();
        for g in &p.genres {
            any.extend(ids(&TextFilter {
                genre: Some(g.clone()),
                ..base.clone()
            })?);
        }
        set = Some(any);
    }
    if !p.keys.is_empty() {
        let mut any = BTreeSet::new();
        for k in &p.keys {
            any.extend(ids(&TextFilter {
                key: Some(*k),
                ..base.clone()
            })?);
        }
        set = Some(match set {
            Some(s) => s.intersection(&any).copied().collect(),
            None => any,
        });
    }
    let set = match set {
        Some(s) => s,
        None => ids(&base)?,
    };
    Ok(Some(AllowList::new(set.into_iter().collect())))
}

/// Runs a pattern query. `midi_available` is what the caller's tier allows.
pub fn search_patterns(
    index: &FingerprintIndex,
    music: &MusicIndex,
    source: &PatternSource,
    p: &PatternParams,
    midi_available: bool,
) -> Result<PatternAnswer, SonicaError> {
    let (query, readings, query_id, _) = query_pattern(index, source)?;
    let allow = allowed(music, p)?;
    // Every reading is searched and each pattern keeps its best
    // similarity. The query's own pattern is left out, its other sections
    // are not.
    let mut best: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
    for v in std::iter::once(&query.vector).chain(readings.iter().map(|r| &r.vector)) {
        for h in music.nearest_patterns(v, allow.as_ref(), p.limit + 1, p.min_similarity, None)? {
            let e = best.entry(h.id).or_insert(h.similarity);
            *e = e.max(h.similarity);
        }
    }
    let mut hits: Vec<sonica_index::Hit> = best
        .into_iter()
        .map(|(id, similarity)| sonica_index::Hit { id, similarity })
        .collect();
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
    let mut groups: Vec<TrackPatterns> = Vec::new();
    let mut records: std::collections::HashMap<TrackId, Option<(sonica_schema::TrackRecord, TrackAnalysis)>> =
        std::collections::HashMap::new();
    let mut total = 0;
    for h in hits {
        let pid = PatternId(u64::from(h.id));
        if Some(pid) == query_id || total == p.limit {
            continue;
        }
        let Some(track) = pid.track() else { continue };
        // Each track's record and analysis are read once however many of
        // its sections match; a track removed between the search and this
        // read is skipped.
        if let std::collections::hash_map::Entry::Vacant(slot) = records.entry(track) {
            slot.insert(match (index.get(track)?, index.analysis(track)?) {
                (Some(r), Some(a)) => Some((r, a)),
                _ => None,
            });
        }
        let Some((r, a)) = records.get(&track).and_then(Option::as_ref) else {
            continue;
        };
        let Some(section) = a.sections.get(pid.section()) else {
            continue;
        };
        let Some(pattern) = section.pattern.as_ref() else {
            continue;
        };
        let m = PatternMatch {
            pattern_id: pid.0,
            section_index: pid.section(),
            label: section.label.clone(),
            function: section.function.name().into(),
            start_s: round3(a.start_s + f64::from(section.start_s)),
            end_s: round3(a.start_s + f64::from(section.end_s)),
            similarity_score: round4(h.similarity),
            tempo_bpm: pattern.tempo_bpm,
            key: pattern.key.map(|k| k.name()),
            genre: r.genre.clone(),
            quality: f64::from(pattern.quality),
            preview_url: format!("/patterns/{}/preview", pid.0),
            midi_url: format!("/patterns/{}/midi", pid.0),
            midi_available,
        };
        total += 1;
        match groups.iter_mut().find(|g| g.track_id == track) {
            Some(g) => g.sections.push(m),
            None => groups.push(TrackPatterns {
                track_id: track,
                title: r.title.clone(),
                artist: r.artist.clone(),
                genre: r.genre.clone(),
                best_score: m.similarity_score,
                sections: vec![m],
            }),
        }
    }
    Ok(PatternAnswer {
        results: groups,
        total_matches: total,
        query_info: QueryInfo {
            source: match source {
                PatternSource::Pattern(_) => "pattern",
                PatternSource::Section { .. } => "section",
                PatternSource::Clip(_) => "clip",
            }
            .into(),
            pattern_id: query_id.map(|p| p.0),
            tempo_bpm: query.tempo_bpm,
            key: query.key.map(|k| k.name()),
            grid_text: Some([
                crate::analysis::summary::steps_text(&query.grid.kick),
                crate::analysis::summary::steps_text(&query.grid.snare),
                crate::analysis::summary::steps_text(&query.grid.hihat),
            ]),
            min_similarity: f64::from(p.min_similarity),
            limit: p.limit,
            patterns_indexed: music.pattern_count(),
        },
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

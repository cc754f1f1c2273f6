//! The music indexes: three vector graphs of tracks (timbre, rhythm, mixed),
//! one of section drum patterns, and the text index, kept in step with the
//! store.
//!
//! A pattern's id in its graph is its [`PatternId`]: track × 32 + section,
//! so dropping a track drops its patterns without a lookup, and a filter
//! on tracks (genre, key, tempo) becomes a filter on patterns by
//! expanding each allowed track to its section ids.
//!
//! The store's `tracks` and `analysis` trees are the truth; these indexes
//! are derived from them and live in folders beside the store. Every add
//! and remove reaches them through [`TrackObserver`] right after the store
//! commits, text commits at once (so a search sees a track the moment it is
//! READY) and the graphs are saved when [`MusicIndex::sync`] is called. A
//! kill between a store commit and a save is repaired at the next open:
//! [`MusicIndex::open`] compares ids with the store and adds or drops the
//! difference, so a restart never rebuilds a graph from scratch.

use std::path::Path;
use std::sync::Arc;

use sonica_schema::{
    PatternId, TrackAnalysis, TrackId, TrackRecord, MAX_SECTIONS, PATTERN_DIM, RHYTHM_DIM, TIMBRE_DIM,
};

use crate::text::{Filter, TextDoc, TextError, TextIndex, TextQuery, TextResults};
use crate::vectors::{AllowList, Hit, VectorError, VectorIndex};
use crate::{FingerprintIndex, IndexError};

/// Turns an analysis into the mixed vector (timbre and rhythm weighted
/// together). The weighting is an audio-side decision, so it is given to
/// the index rather than known by it, like the fingerprint [`crate::Hasher`].
pub type Mixer = Arc<dyn Fn(&TrackAnalysis) -> Vec<f32> + Send + Sync>;

/// Which vector a similarity query compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorKind {
    Timbre,
    Rhythm,
    Mixed,
}

impl VectorKind {
    pub fn parse(s: &str) -> Option<VectorKind> {
        match s.to_ascii_lowercase().as_str() {
            "timbre" => Some(VectorKind::Timbre),
            "rhythm" => Some(VectorKind::Rhythm),
            "mixed" => Some(VectorKind::Mixed),
            _ => None,
        }
    }
}

/// Failures of the music indexes.
#[derive(Debug, thiserror::Error)]
pub enum MusicError {
    #[error("vector index: {0}")]
    Vector(#[from] VectorError),
    #[error("text index: {0}")]
    Text(#[from] TextError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Told about every track the store gains or loses, after the commit.
pub trait TrackObserver: Send + Sync {
    fn track_added(&self, record: &TrackRecord, analysis: Option<&TrackAnalysis>);
    fn track_removed(&self, id: TrackId);
}

/// The three query vectors of one analysis.
#[derive(Debug, Clone)]
pub struct QueryVectors {
    pub timbre: Vec<f32>,
    pub rhythm: Vec<f32>,
    pub mixed: Vec<f32>,
}

impl QueryVectors {
    pub fn of(a: &TrackAnalysis, mixer: &Mixer) -> QueryVectors {
        QueryVectors {
            timbre: a.timbre.clone(),
            rhythm: a.rhythm_vector.clone(),
            mixed: mixer(a),
        }
    }

    pub fn get(&self, kind: VectorKind) -> &[f32] {
        match kind {
            VectorKind::Timbre => &self.timbre,
            VectorKind::Rhythm => &self.rhythm,
            VectorKind::Mixed => &self.mixed,
        }
    }
}

/// What was repaired when the indexes were opened.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OpenReport {
    /// Vectors loaded from the saved graphs (not rebuilt).
    pub vectors_loaded: usize,
    /// Vectors added or dropped to match the store.
    pub vectors_repaired: usize,
    /// Text documents added or dropped to match the store.
    pub text_repaired: usize,
}

/// The ids held by each music index (see [`MusicIndex::indexed_ids`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexedIds {
    pub timbre: Vec<TrackId>,
    pub rhythm: Vec<TrackId>,
    pub mixed: Vec<TrackId>,
    pub text: Vec<TrackId>,
}

pub struct MusicIndex {
    timbre: VectorIndex,
    rhythm: VectorIndex,
    mixed: VectorIndex,
    patterns: VectorIndex,
    text: TextIndex,
    mixer: Mixer,
}

impl MusicIndex {
    /// Opens the indexes under `dir` (`vectors/`, `text/`) and brings them in
    /// line with `store`.
    pub fn open(dir: &Path, store: &FingerprintIndex, mixer: Mixer) -> Result<(MusicIndex, OpenReport), MusicError> {
        let m = MusicIndex::load(dir, mixer)?;
        let report = m.reconcile(store)?;
        Ok((m, report))
    }

    /// Opens the indexes under `dir` as they were saved, without bringing
    /// them in line with the store: what `sonica-reindex --verify` inspects
    /// (an `open` would repair the very differences it looks for).
    pub fn load(dir: &Path, mixer: Mixer) -> Result<MusicIndex, MusicError> {
        let vdir = dir.join("vectors");
        let timbre = VectorIndex::open(&vdir.join("timbre"), TIMBRE_DIM)?;
        let rhythm = VectorIndex::open(&vdir.join("rhythm"), RHYTHM_DIM)?;
        let mixed = VectorIndex::open(&vdir.join("mixed"), TIMBRE_DIM + RHYTHM_DIM)?;
        let patterns = VectorIndex::open(&vdir.join("patterns"), PATTERN_DIM)?;
        let tdir = dir.join("text");
        // A text index that cannot be opened is derived data: start it
        // afresh and refill it from the store rather than refuse to start.
        let text = match TextIndex::open(&tdir) {
            Ok(t) => t,
            Err(_) => TextIndex::recreate(&tdir)?,
        };
        Ok(MusicIndex {
            timbre,
            rhythm,
            mixed,
            patterns,
            text,
            mixer,
        })
    }

    /// The ids each index holds, sorted, for checking them against the
    /// store without changing anything.
    pub fn indexed_ids(&self) -> Result<IndexedIds, MusicError> {
        Ok(IndexedIds {
            timbre: self.timbre.ids(),
            rhythm: self.rhythm.ids(),
            mixed: self.mixed.ids(),
            text: self.text.ids()?,
        })
    }

    /// Indexes held in memory only (tests, one-shot tools).
    pub fn in_memory(mixer: Mixer) -> Result<MusicIndex, MusicError> {
        Ok(MusicIndex {
            timbre: VectorIndex::in_memory(TIMBRE_DIM)?,
            rhythm: VectorIndex::in_memory(RHYTHM_DIM)?,
            mixed: VectorIndex::in_memory(TIMBRE_DIM + RHYTHM_DIM)?,
            patterns: VectorIndex::in_memory(PATTERN_DIM)?,
            text: TextIndex::in_memory()?,
            mixer,
        })
    }

    /// Adds what the store has and the indexes lack, and drops what they
    /// have and the store does not.
    pub fn reconcile(&self, store: &FingerprintIndex) -> Result<OpenReport, MusicError> {
        let mut report = OpenReport {
            vectors_loaded: self.timbre.len(),
            ..Default::default()
        };
        let records = store.list()?;
        let analyses: std::collections::HashMap<TrackId, TrackAnalysis> =
            store.analyses()?.into_iter().filter(|(_, a)| a.is_current()).collect();
        let live: std::collections::BTreeSet<TrackId> = records.iter().map(|r| r.id).collect();
        // Vectors: every live, analysed track in all three graphs.
        for idx in [&self.timbre, &self.rhythm, &self.mixed] {
            for id in idx.ids() {
                if !live.contains(&id) || !analyses.contains_key(&id) {
                    idx.remove(id);
                    report.vectors_repaired += 1;
                }
            }
        }
        for (id, a) in &analyses {
            if !live.contains(id) {
                continue;
            }
            if !(self.timbre.contains(*id) && self.rhythm.contains(*id) && self.mixed.contains(*id)) {
                self.insert_vectors(*id, a)?;
                report.vectors_repaired += 1;
            }
        }
        // Patterns: every section pattern of a live, analysed track.
        let mut wanted = std::collections::BTreeSet::new();
        for (id, a) in &analyses {
            if live.contains(id) {
                wanted.extend(pattern_vectors(*id, a).map(|(g, _)| g));
            }
        }
        for g in self.patterns.ids() {
            if !wanted.contains(&g) {
                self.patterns.remove(g);
                report.vectors_repaired += 1;
            }
        }
        for (id, a) in &analyses {
            if live.contains(id) && pattern_vectors(*id, a).any(|(g, _)| !self.patterns.contains(g)) {
                self.insert_patterns(*id, a)?;
                report.vectors_repaired += 1;
            }
        }
        // Text: every live track.
        let in_text: std::collections::BTreeSet<TrackId> = self.text.ids()?.into_iter().collect();
        for id in in_text.difference(&live) {
            self.text.remove(*id)?;
            report.text_repaired += 1;
        }
        for r in &records {
            if !in_text.contains(&r.id) {
                self.text.upsert(&text_doc(r, analyses.get(&r.id)))?;
                report.text_repaired += 1;
            }
        }
        if report.text_repaired > 0 {
            self.text.commit()?;
        }
        if report.vectors_repaired > 0 {
            self.sync()?;
        }
        Ok(report)
    }

    fn insert_vectors(&self, id: TrackId, a: &TrackAnalysis) -> Result<(), MusicError> {
        self.timbre.insert(id, &a.timbre)?;
        self.rhythm.insert(id, &a.rhythm_vector)?;
        self.mixed.insert(id, &(self.mixer)(a))?;
        self.insert_patterns(id, a)?;
        Ok(())
    }

    /// The track's pattern vectors, replacing whatever it had before.
    fn insert_patterns(&self, id: TrackId, a: &TrackAnalysis) -> Result<(), MusicError> {
        self.remove_patterns(id);
        let items: Vec<(u32, &[f32])> = pattern_vectors(id, a).collect();
        if !items.is_empty() {
            self.patterns.insert_many(&items)?;
        }
        Ok(())
    }

    fn remove_patterns(&self, id: TrackId) {
        for s in 0..MAX_SECTIONS {
            if let Some(g) = PatternId::new(id, s).and_then(PatternId::graph_id) {
                self.patterns.remove(g);
            }
        }
    }

    /// Indexes a new (or re-analysed) track and commits its text.
    pub fn add(&self, r: &TrackRecord, a: Option<&TrackAnalysis>) -> Result<(), MusicError> {
        match a.filter(|a| a.is_current()) {
            Some(a) => self.insert_vectors(r.id, a)?,
            None => {
                for idx in [&self.timbre, &self.rhythm, &self.mixed] {
                    idx.remove(r.id);
                }
                self.remove_patterns(r.id);
            }
        }
        self.text.upsert(&text_doc(r, a))?;
        self.text.commit()?;
        Ok(())
    }

    /// Drops a track from every index and commits the text.
    pub fn remove(&self, id: TrackId) -> Result<(), MusicError> {
        for idx in [&self.timbre, &self.rhythm, &self.mixed] {
            idx.remove(id);
        }
        self.remove_patterns(id);
        self.text.remove(id)?;
        self.text.commit()?;
        Ok(())
    }

    /// Saves the graphs that changed since the last save.
    pub fn sync(&self) -> Result<(), MusicError> {
        for idx in [&self.timbre, &self.rhythm, &self.mixed, &self.patterns] {
            if idx.is_dirty() {
                idx.save()?;
            }
        }
        Ok(())
    }

    pub fn mixer(&self) -> &Mixer {
        &self.mixer
    }

    fn graph(&self, kind: VectorKind) -> &VectorIndex {
        match kind {
            VectorKind::Timbre => &self.timbre,
            VectorKind::Rhythm => &self.rhythm,
            VectorKind::Mixed => &self.mixed,
        }
    }

    /// The ids a filter (and optional text) allows, or `None` when neither
    /// restricts anything.
    pub fn allowed(&self, filter: &Filter, text: Option<&str>) -> Result<Option<AllowList>, MusicError> {
        let text = text.map(str::trim).filter(|t| !t.is_empty());
        if filter.is_empty() && text.is_none() {
            return Ok(None);
        }
        Ok(Some(AllowList::new(self.text.matching_ids(filter, text)?)))
    }

    /// The `top_k` nearest tracks to `query` by `kind`, within `allow`,
    /// without `exclude`, at or above `min_similarity`.
    pub fn nearest(
        &self,
        kind: VectorKind,
        query: &QueryVectors,
        allow: Option<&AllowList>,
        top_k: usize,
        min_similarity: f32,
        exclude: Option<TrackId>,
    ) -> Result<Vec<Hit>, MusicError> {
        let k = top_k + usize::from(exclude.is_some());
        let hits = self.graph(kind).search(query.get(kind), k, allow)?;
        Ok(hits
            .into_iter()
            .filter(|h| Some(h.id) != exclude && h.similarity >= min_similarity)
            .take(top_k)
            .collect())
    }

    /// The `top_k` nearest section patterns to `query` (a pattern vector),
    /// among the sections of `allow`ed tracks, at or above `min_similarity`,
    /// leaving out the patterns of `exclude_track`. Hit ids are
    /// [`PatternId`] values.
    pub fn nearest_patterns(
        &self,
        query: &[f32],
        allow: Option<&AllowList>,
        top_k: usize,
        min_similarity: f32,
        exclude_track: Option<TrackId>,
    ) -> Result<Vec<Hit>, MusicError> {
        if query.len() != PATTERN_DIM {
            return Ok(Vec::new());
        }
        let expanded = allow.map(|a| {
            AllowList::new(
                a.ids()
                    .iter()
                    .flat_map(|&t| (0..MAX_SECTIONS).filter_map(move |s| PatternId::new(t, s)?.graph_id()))
                    .collect(),
            )
        });
        let skip = exclude_track.map_or(0, |_| MAX_SECTIONS);
        let hits = self.patterns.search(query, top_k + skip, expanded.as_ref())?;
        Ok(hits
            .into_iter()
            .filter(|h| {
                h.similarity >= min_similarity
                    && (exclude_track.is_none() || PatternId(u64::from(h.id)).track() != exclude_track)
            })
            .take(top_k)
            .collect())
    }

    /// A stored pattern's vector, when its graph holds it.
    pub fn pattern_vector(&self, id: PatternId) -> Option<Vec<f32>> {
        self.patterns.get(id.graph_id()?)
    }

    /// How many section patterns the pattern graph holds.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Text search with filters and facet counts.
    pub fn search_text(&self, q: &TextQuery) -> Result<TextResults, MusicError> {
        Ok(self.text.search(q)?)
    }

    /// How many tracks have vectors (per graph: they agree after open).
    pub fn vector_count(&self) -> usize {
        self.timbre.len()
    }
}

impl TrackObserver for MusicIndex {
    fn track_added(&self, record: &TrackRecord, analysis: Option<&TrackAnalysis>) {
        if let Err(e) = self.add(record, analysis) {
            // The store already holds the track; the next open repairs the
            // index from it. Searching misses the track until then.
            eprintln!("sonica: indexing track {} for search failed: {e}", record.id);
        }
    }

    fn track_removed(&self, id: TrackId) {
        if let Err(e) = self.remove(id) {
            eprintln!("sonica: dropping track {id} from search failed: {e}");
        }
    }
}

/// A track's section patterns as (graph id, vector), those that have one
/// and fit the graph's ids.
fn pattern_vectors(id: TrackId, a: &TrackAnalysis) -> impl Iterator<Item = (u32, &[f32])> + '_ {
    a.sections.iter().enumerate().filter_map(move |(i, s)| {
        let p = s.pattern.as_ref()?;
        if p.vector.len() != PATTERN_DIM {
            return None;
        }
        Some((PatternId::new(id, i)?.graph_id()?, p.vector.as_slice()))
    })
}

/// The text document of a track.
pub fn text_doc(r: &TrackRecord, a: Option<&TrackAnalysis>) -> TextDoc {
    TextDoc {
        id: r.id,
        title: r.title.clone(),
        artist: r.artist.clone(),
        album: r.album.clone(),
        genre: r.genre.clone(),
        tempo_bpm: a.map(|a| a.tempo.bpm),
        key: a.map(|a| a.key.key),
        duration_s: r.duration_s,
        loudness_lufs: a.map(|a| a.loudness.integrated_lufs),
    }
}

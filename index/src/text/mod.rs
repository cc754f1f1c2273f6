//! Text search and filters over track metadata (tantivy).
//!
//! The fingerprint store answers "which recording is this?"; users also type
//! "harbor lights" or want "every techno track in A minor between 120 and
//! 130 BPM". [`TextIndex`] holds each track's words (title, artist, album,
//! genre) and its filterable numbers, answers typo-tolerant prefix searches
//! with facet counts, and gives the vector search its allow-list of ids.
//!
//! It is derived data, rebuilt from the canonical records whenever it is
//! lost or unreadable ([`TextError::needs_rebuild`]). The files of this
//! folder: `fields.rs` (schema, documents, analyzer), `query.rs` (user text →
//! query), `exact.rs` (exact-word scoring), `filter.rs` ([`Filter`]),
//! `collect.rs` (column-reading collectors), `error.rs` ([`TextError`]).

mod collect;
mod error;
mod exact;
mod fields;
mod filter;
#[cfg(test)]
mod filter_tests;
mod query;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use sonica_schema::TrackId;
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Query};
use tantivy::schema::Term;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher};

pub use error::TextError;
pub use fields::TextDoc;
pub use filter::Filter;

use collect::{ids_of, ranked, MatchCollector, Matches};
use fields::Fields;
use query::TextPlan;

/// Memory the single writer may buffer before it writes a segment:
/// tantivy's floor. Every add commits, so a larger budget buys nothing, and
/// each new segment writer sizes (and zeroes) its arena from it: 32 MB
/// cost `sonica ingest` about 10 MB more resident memory (issue 16).
const WRITER_MEMORY_BYTES: usize = 15_000_000;

/// One search: words, filters and which page of hits.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery {
    /// What the user typed; `None` or blank means every track (ordered by id).
    pub text: Option<String>,
    pub filter: Filter,
    pub limit: usize,
    pub offset: usize,
}

impl Default for TextQuery {
    fn default() -> TextQuery {
        TextQuery {
            text: None,
            filter: Filter::default(),
            limit: 20,
            offset: 0,
        }
    }
}

/// One track found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextHit {
    pub id: TrackId,
    /// Relevance; 0 when the search has no text.
    pub score: f32,
}

/// How many matching tracks have each value, most frequent first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    /// Genres as lower-cased for filtering.
    pub genre: Vec<(String, u64)>,
    /// Key names as `Key::name` writes them.
    pub key: Vec<(String, u64)>,
}

/// The answer to a [`TextQuery`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextResults {
    /// Every track matching text and filter, not only this page.
    pub total: usize,
    pub hits: Vec<TextHit>,
    /// Counted over all `total` matches.
    pub facets: Facets,
}

/// The text index of a library. Shared by reference (`Arc`) between the
/// HTTP workers: searches run concurrently, writes go through one writer.
/// Changes become visible to searches at [`TextIndex::commit`].
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

impl TextIndex {
    /// Opens the index in `dir`, creating the folder and an empty index if
    /// missing. A folder holding something unreadable gives an error with
    /// [`TextError::needs_rebuild`] true: call [`TextIndex::recreate`].
    pub fn open(dir: &Path) -> Result<TextIndex, TextError> {
        std::fs::create_dir_all(dir)?;
        let directory = MmapDirectory::open(dir).map_err(|e| TextError::from_open(dir, e.into()))?;
        let index = Index::open_or_create(directory, Fields::schema()).map_err(|e| TextError::from_open(dir, e))?;
        TextIndex::with_index(index).map_err(|e| TextError::from_open(dir, e))
    }

    /// Deletes everything in `dir` and creates an empty index there, for a
    /// folder [`TextIndex::open`] could not read. The caller re-adds every
    /// track from the canonical records.
    pub fn recreate(dir: &Path) -> Result<TextIndex, TextError> {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        TextIndex::open(dir)
    }

    /// An index in memory, for tests and throw-away use.
    pub fn in_memory() -> Result<TextIndex, TextError> {
        Ok(TextIndex::with_index(Index::create_in_ram(Fields::schema()))?)
    }

    fn with_index(index: Index) -> tantivy::Result<TextIndex> {
        fields::register_analyzer(&index);
        let fields = Fields::from_schema(&index.schema())?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(TextIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        })
    }

    /// Adds a track, replacing any earlier document with its id.
    pub fn upsert(&self, doc: &TextDoc) -> Result<(), TextError> {
        let writer = self.writer();
        writer.delete_term(self.id_term(doc.id));
        writer.add_document(self.fields.document(doc))?;
        Ok(())
    }

    /// Removes a track (nothing happens if it is not there).
    pub fn remove(&self, id: TrackId) -> Result<(), TextError> {
        self.writer().delete_term(self.id_term(id));
        Ok(())
    }

    /// Makes every change so far durable and visible to the next search.
    pub fn commit(&self) -> Result<(), TextError> {
        self.writer().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Every live id, sorted: compared at start with the canonical store to
    /// add what is missing and remove what was deleted.
    pub fn ids(&self) -> Result<Vec<TrackId>, TextError> {
        self.matching_ids(&Filter::default(), None)
    }

    /// Number of live tracks (as of the last commit).
    pub fn len(&self) -> usize {
        self.reader.searcher().num_docs() as usize
    }

    /// True when no track is indexed (as of the last commit).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorted ids of every track matching `filter` and `text` (same rules as
    /// [`TextIndex::search`]): the allow-list given to the vector search.
    pub fn matching_ids(&self, filter: &Filter, text: Option<&str>) -> Result<Vec<TrackId>, TextError> {
        let searcher = self.reader.searcher();
        let Some(query) = self.query(filter, text)? else {
            return Ok(Vec::new());
        };
        let m = searcher.search(
            &*query,
            &MatchCollector {
                ids: true,
                facets: false,
            },
        )?;
        Ok(m.ids)
    }

    /// Finds a page of tracks with the total and facet counts of all matches.
    /// With text, hits come by relevance; without, by id.
    pub fn search(&self, q: &TextQuery) -> Result<TextResults, TextError> {
        let searcher = self.reader.searcher();
        let Some(query) = self.query(&q.filter, q.text.as_deref())? else {
            return Ok(TextResults::default());
        };
        let has_text = q.text.as_deref().is_some_and(|t| !t.trim().is_empty());
        if !has_text {
            return self.browse(&searcher, &*query, q);
        }
        // Bounded by what exists, so that a huge limit allocates nothing.
        let limit = q.limit.min(searcher.num_docs() as usize);
        let top = (limit > 0 && (q.offset as u64) < searcher.num_docs())
            .then(|| TopDocs::with_limit(limit).and_offset(q.offset));
        let (top, m) = searcher.search(
            &*query,
            &(
                top,
                MatchCollector {
                    ids: false,
                    facets: true,
                },
            ),
        )?;
        let hits = ids_of(&searcher, &top.unwrap_or_default())?
            .into_iter()
            .map(|(id, score)| TextHit { id, score })
            .collect();
        Ok(results(m, hits))
    }

    /// A search without text: every match, ordered by id.
    fn browse(&self, searcher: &Searcher, query: &dyn Query, q: &TextQuery) -> Result<TextResults, TextError> {
        let m = searcher.search(
            query,
            &MatchCollector {
                ids: true,
                facets: true,
            },
        )?;
        let hits = m
            .ids
            .iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|&id| TextHit { id, score: 0.0 })
            .collect();
        Ok(results(m, hits))
    }

    /// The whole query, `None` when it can match nothing (text of only
    /// punctuation). Filters score 0 so that only the text ranks.
    fn query(&self, filter: &Filter, text: Option<&str>) -> Result<Option<Box<dyn Query>>, TextError> {
        let mut analyzer = fields::analyzer();
        let mut must: Vec<Box<dyn Query>> = Vec::new();
        match query::plan(text, &self.fields, &mut analyzer) {
            TextPlan::Nothing => return Ok(None),
            TextPlan::Any => {}
            TextPlan::Query(q) => must.push(q),
        }
        for clause in filter.clauses(&self.fields)? {
            must.push(Box::new(ConstScoreQuery::new(clause, 0.0)));
        }
        Ok(Some(match must.len() {
            0 => Box::new(AllQuery),
            1 => must.pop().unwrap_or_else(|| Box::new(AllQuery)),
            _ => Box::new(BooleanQuery::intersection(must)),
        }))
    }

    fn id_term(&self, id: TrackId) -> Term {
        Term::from_field_u64(self.fields.id, u64::from(id))
    }

    /// The writer, even after a panic elsewhere while it was held: its own
    /// state stays consistent (a failed operation is reported, not half done).
    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The underlying tantivy index (space usage, diagnostics).
    pub fn tantivy(&self) -> &Index {
        &self.index
    }
}

fn results(m: Matches, hits: Vec<TextHit>) -> TextResults {
    TextResults {
        total: m.count,
        hits,
        facets: Facets {
            genre: ranked(m.genre),
            key: ranked(m.key),
        },
    }
}

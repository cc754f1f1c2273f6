//! Collectors that read columns, never stored documents.
//!
//! The vector search asks for the ids of every track a filter lets through
//! (often half the library), and the facet counts cover every match, not
//! one page. Loading documents for that would cost a decompression per hit;
//! instead each segment's `id` column and the ordinal columns of `genre_exact`
//! and `key` are read in blocks of doc ids, and ordinals become strings once
//! per segment at the end.

use std::collections::HashMap;

use sonica_schema::TrackId;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use super::fields::{GENRE_EXACT, ID, KEY};

/// Gathers, for every matching document, its id and/or its facet values.
pub(crate) struct MatchCollector {
    pub ids: bool,
    pub facets: bool,
}

/// What [`MatchCollector`] found over all segments.
#[derive(Debug, Default)]
pub(crate) struct Matches {
    pub count: usize,
    /// Sorted ascending (empty unless asked for).
    pub ids: Vec<TrackId>,
    /// Value → count, one map per facet (empty unless asked for).
    pub genre: HashMap<String, u64>,
    pub key: HashMap<String, u64>,
}

/// Per-segment state: the columns and the counters by ordinal.
pub(crate) struct MatchSegment {
    count: usize,
    id_column: Option<Column<u64>>,
    ids: Vec<TrackId>,
    buf: Vec<Option<u64>>,
    genre: Option<OrdCounts>,
    key: Option<OrdCounts>,
}

/// Counts of one string column by term ordinal.
struct OrdCounts {
    column: StrColumn,
    counts: Vec<u64>,
}

impl OrdCounts {
    fn open(reader: &SegmentReader, field: &str) -> tantivy::Result<Option<OrdCounts>> {
        Ok(reader.fast_fields().str(field)?.map(|column| OrdCounts {
            counts: vec![0; column.num_terms()],
            column,
        }))
    }

    fn add(&mut self, doc: DocId) {
        if let Some(ord) = self.column.ords().first(doc) {
            self.counts[ord as usize] += 1;
        }
    }

    fn add_block(&mut self, docs: &[DocId], buf: &mut [Option<u64>]) {
        buf.fill(None);
        self.column.ords().first_vals(docs, buf);
        for ord in buf.iter().flatten() {
            self.counts[*ord as usize] += 1;
        }
    }

    /// Ordinals with a count, as strings.
    fn harvest(self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (ord, &n) in self.counts.iter().enumerate() {
            let mut s = String::new();
            // `false` means no such ordinal; it cannot happen for one we counted.
            if n > 0 && self.column.ord_to_str(ord as u64, &mut s).unwrap_or(false) {
                out.push((s, n));
            }
        }
        out
    }
}

impl Collector for MatchCollector {
    type Fruit = Matches;
    type Child = MatchSegment;

    fn for_segment(&self, _ord: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<MatchSegment> {
        let facet = |field| {
            if self.facets {
                OrdCounts::open(reader, field)
            } else {
                Ok(None)
            }
        };
        Ok(MatchSegment {
            count: 0,
            id_column: if self.ids {
                Some(reader.fast_fields().u64(ID)?)
            } else {
                None
            },
            ids: Vec::new(),
            buf: Vec::new(),
            genre: facet(GENRE_EXACT)?,
            key: facet(KEY)?,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<SegmentFruit>) -> tantivy::Result<Matches> {
        let mut m = Matches::default();
        for s in segments {
            m.count += s.count;
            m.ids.extend_from_slice(&s.ids);
            for (map, values) in [(&mut m.genre, s.genre), (&mut m.key, s.key)] {
                for (v, n) in values {
                    *map.entry(v).or_default() += n;
                }
            }
        }
        // Segments hold ids in insertion order, mostly ascending already.
        m.ids.sort_unstable();
        Ok(m)
    }
}

/// One segment's findings.
pub(crate) struct SegmentFruit {
    count: usize,
    ids: Vec<TrackId>,
    genre: Vec<(String, u64)>,
    key: Vec<(String, u64)>,
}

impl SegmentCollector for MatchSegment {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.count += 1;
        if let Some(col) = &self.id_column {
            if let Some(id) = col.first(doc) {
                self.ids.push(id as TrackId);
            }
        }
        for counts in [&mut self.genre, &mut self.key].into_iter().flatten() {
            counts.add(doc);
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.count += docs.len();
        self.buf.resize(docs.len(), None);
        if let Some(col) = &self.id_column {
            self.buf.fill(None);
            col.first_vals(docs, &mut self.buf);
            self.ids.extend(self.buf.iter().flatten().map(|&id| id as TrackId));
        }
        for counts in [&mut self.genre, &mut self.key].into_iter().flatten() {
            counts.add_block(docs, &mut self.buf);
        }
    }

    fn harvest(self) -> SegmentFruit {
        SegmentFruit {
            count: self.count,
            ids: self.ids,
            genre: self.genre.map(OrdCounts::harvest).unwrap_or_default(),
            key: self.key.map(OrdCounts::harvest).unwrap_or_default(),
        }
    }
}

/// Facet counts as shown to users: most frequent first, then by name.
pub(crate) fn ranked(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Track ids of a page of hits, reading each segment's id column once.
pub(crate) fn ids_of(searcher: &Searcher, hits: &[(Score, DocAddress)]) -> tantivy::Result<Vec<(TrackId, Score)>> {
    let mut columns: Vec<Option<Column<u64>>> = vec![None; searcher.segment_readers().len()];
    let mut out = Vec::with_capacity(hits.len());
    for (score, addr) in hits {
        let slot = &mut columns[addr.segment_ord as usize];
        if slot.is_none() {
            *slot = Some(searcher.segment_reader(addr.segment_ord).fast_fields().u64(ID)?);
        }
        if let Some(id) = slot.as_ref().and_then(|c| c.first(addr.doc_id)) {
            out.push((id as TrackId, *score));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_rank_by_count_then_name() {
        let counts = HashMap::from([
            ("rock".to_string(), 2),
            ("ambient".to_string(), 2),
            ("jazz".to_string(), 5),
        ]);
        let r = ranked(counts);
        let names: Vec<&str> = r.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["jazz", "ambient", "rock"]);
    }
}

//! An exact word match whose score has a floor: `floor + BM25`.
//!
//! Exact words must outrank prefixes and typos (see `query.rs`), so an exact
//! match needs a fixed score of its own; BM25 alone can be near zero for a
//! word found in almost every track. Two queries on the same term (a
//! constant one and a BM25 one) would read every posting list twice, which
//! cost a third of the time of a one-word search over 100k tracks in the
//! bench; this wrapper reads it once and adds the floor to the BM25 score.

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

/// Documents holding `term`, scored `floor + BM25` (both times any boost
/// around this query).
#[derive(Debug, Clone)]
pub(crate) struct ExactQuery {
    term: Term,
    floor: Score,
}

impl ExactQuery {
    pub fn new(term: Term, floor: Score) -> ExactQuery {
        ExactQuery { term, floor }
    }
}

impl Query for ExactQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let bm25 = TermQuery::new(self.term.clone(), IndexRecordOption::WithFreqs).weight(scoring)?;
        if !scoring.is_scoring_enabled() {
            return Ok(bm25);
        }
        Ok(Box::new(FloorWeight {
            bm25,
            floor: self.floor,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        visitor(&self.term, false);
    }
}

struct FloorWeight {
    bm25: Box<dyn Weight>,
    floor: Score,
}

impl Weight for FloorWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(FloorScorer {
            bm25: self.bm25.scorer(reader, boost)?,
            floor: self.floor * boost,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let bm25 = self.bm25.explain(reader, doc)?;
        let mut e = Explanation::new("exact word: floor + BM25", self.floor + bm25.value());
        e.add_const("floor", self.floor);
        e.add_detail(bm25);
        Ok(e)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.bm25.count(reader)
    }
}

struct FloorScorer {
    bm25: Box<dyn Scorer>,
    floor: Score,
}

impl DocSet for FloorScorer {
    fn advance(&mut self) -> DocId {
        self.bm25.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.bm25.seek(target)
    }

    fn doc(&self) -> DocId {
        self.bm25.doc()
    }

    fn size_hint(&self) -> u32 {
        self.bm25.size_hint()
    }
}

impl Scorer for FloorScorer {
    fn score(&mut self) -> Score {
        self.floor + self.bm25.score()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::TopDocs;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{doc, Index, IndexWriter};

    #[test]
    fn scores_are_bm25_plus_the_floor() {
        let mut b = Schema::builder();
        let f = b.add_text_field("t", TEXT);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for text in ["red", "red red blue", "blue"] {
            w.add_document(doc!(f => text)).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let term = Term::from_field_text(f, "red");
        let top = |q: &dyn Query| searcher.search(q, &TopDocs::with_limit(10)).unwrap();
        let plain = top(&TermQuery::new(term.clone(), IndexRecordOption::WithFreqs));
        let floored = top(&ExactQuery::new(term, 10.0));
        assert_eq!(plain.len(), 2);
        assert_eq!(floored.len(), 2);
        for ((s0, a0), (s1, a1)) in plain.iter().zip(&floored) {
            assert_eq!(a0, a1);
            assert!((s1 - s0 - 10.0).abs() < 1e-4, "{s0} {s1}");
        }
    }
}

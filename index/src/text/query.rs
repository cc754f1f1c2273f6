//! Turns what a user typed into a tantivy query, meilisearch-style.
//!
//! Users type into a search box: partial last words, typos, accents or not,
//! stray punctuation. tantivy's query parser would treat `:`, quotes and
//! brackets as syntax and fail on them, so the text is never parsed: it is cut
//! into words with the index's own analyzer, and the query is built from those
//! words by hand.
//!
//! Semantics:
//! - every word must match in some field (AND across words, OR across fields);
//! - the last word also matches as a prefix ("harb" finds "Harbor"), unless
//!   the text ends after it with a separator ("harb " means the whole word);
//! - words of 5+ characters tolerate one typo, 9+ two (Damerau: a swap of
//!   two letters is one typo);
//! - an exact word scores above a prefix, a prefix above a typo, whatever the
//!   field; among equal kinds, title > artist > album > genre, then BM25.

use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Query};
use tantivy::schema::Field;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Score, Term};

use super::exact::ExactQuery;
use super::fields::{Fields, TEXT_FIELDS};

/// Words beyond this many are ignored: a pasted paragraph must not build a
/// query of thousands of automata.
pub(crate) const MAX_TERMS: usize = 32;

/// Score of an exact word, times the field boost. The kind weights are
/// spaced so that one match of a better kind in the weakest field (genre,
/// boost 1) outweighs matches of every worse kind in all four fields
/// (total boost 10). A word matching exactly also matches the prefix and
/// typo automata, so the sums compare: 1.0 > 10 × (0.08 + 0.005) and
/// 0.08 > 10 × 0.005.
const EXACT: Score = 1.0;
const PREFIX: Score = 0.08;
const TYPO: Score = 0.005;
/// BM25 ranks exact matches among themselves (shorter title first); kept
/// small so it stays a tie-breaker.
const BM25: Score = 0.05;

/// What the text asks for.
pub(crate) enum TextPlan {
    /// No text constraint (none given, or only whitespace).
    Any,
    /// Text with no word in it (only punctuation): matches nothing.
    Nothing,
    /// Words to match.
    Query(Box<dyn Query>),
}

/// A word of the query and how loosely it may match.
#[derive(Debug, PartialEq)]
struct Word {
    text: String,
    prefix: bool,
    typos: u8,
}

/// Builds the text part of a search.
pub(crate) fn plan(text: Option<&str>, fields: &Fields, analyzer: &mut TextAnalyzer) -> TextPlan {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return TextPlan::Any;
    };
    let words = words(text, analyzer);
    if words.is_empty() {
        return TextPlan::Nothing;
    }
    let clauses: Vec<Box<dyn Query>> = words.iter().map(|w| word_query(w, fields)).collect();
    TextPlan::Query(Box::new(BooleanQuery::intersection(clauses)))
}

/// The words of `text`, at most [`MAX_TERMS`], the last one marked prefix
/// when the text ends right after it.
fn words(text: &str, analyzer: &mut TextAnalyzer) -> Vec<Word> {
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    let mut last_end = 0;
    while let Some(token) = stream.next() {
        if words.len() == MAX_TERMS {
            // Truncated: the last kept word is not where the user is typing.
            last_end = 0;
            break;
        }
        words.push(Word {
            typos: typo_budget(&token.text),
            text: token.text.clone(),
            prefix: false,
        });
        last_end = token.offset_to;
    }
    if let Some(last) = words.last_mut() {
        last.prefix = last_end == text.len();
    }
    words
}

/// Typos a word tolerates, by its length in characters.
fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// One word, matched in any text field.
fn word_query(word: &Word, fields: &Fields) -> Box<dyn Query> {
    let mut should: Vec<Box<dyn Query>> = Vec::new();
    for (field, (_, boost)) in fields.text.iter().zip(TEXT_FIELDS) {
        should.extend(field_queries(word, *field, boost));
    }
    Box::new(BooleanQuery::union(should))
}

/// The ways one word may match one field, each with its own score.
fn field_queries(word: &Word, field: Field, boost: Score) -> Vec<Box<dyn Query>> {
    let term = Term::from_field_text(field, &word.text);
    // Scores (EXACT + BM25 × bm25) × boost, one posting-list read.
    let exact = ExactQuery::new(term.clone(), EXACT / BM25);
    let mut out: Vec<Box<dyn Query>> = vec![Box::new(BoostQuery::new(Box::new(exact), BM25 * boost))];
    if word.prefix {
        let prefix = FuzzyTermQuery::new_prefix(term.clone(), 0, true);
        out.push(Box::new(ConstScoreQuery::new(Box::new(prefix), PREFIX * boost)));
    }
    if word.typos > 0 {
        let fuzzy = if word.prefix {
            FuzzyTermQuery::new_prefix(term, word.typos, true)
        } else {
            FuzzyTermQuery::new(term, word.typos, true)
        };
        out.push(Box::new(ConstScoreQuery::new(Box::new(fuzzy), TYPO * boost)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fields::analyzer;

    fn ws(text: &str) -> Vec<Word> {
        words(text, &mut analyzer())
    }

    #[test]
    fn last_word_is_a_prefix_only_while_being_typed() {
        let w = ws("Harbor lig");
        assert_eq!(w.len(), 2);
        assert!(!w[0].prefix && w[1].prefix);
        assert!(!ws("harbor lig ")[1].prefix);
        assert!(!ws("harbor lig!")[1].prefix);
    }

    #[test]
    fn typo_budget_grows_with_length() {
        assert_eq!(typo_budget("harb"), 0);
        assert_eq!(typo_budget("harbo"), 1);
        assert_eq!(typo_budget("harborage"), 2);
        assert_eq!(typo_budget("éééé"), 0, "counted in characters, not bytes");
    }

    #[test]
    fn long_texts_are_capped() {
        let text = "word ".repeat(1000);
        let w = ws(&text);
        assert_eq!(w.len(), MAX_TERMS);
        assert!(!w.last().unwrap().prefix);
    }

    #[test]
    fn blank_and_punctuation_texts_are_told_apart() {
        let fields = Fields::from_schema(&Fields::schema()).unwrap();
        let mut a = analyzer();
        assert!(matches!(plan(None, &fields, &mut a), TextPlan::Any));
        assert!(matches!(plan(Some(" \t\n"), &fields, &mut a), TextPlan::Any));
        assert!(matches!(
            plan(Some("?! :: \"\" [)"), &fields, &mut a),
            TextPlan::Nothing
        ));
        assert!(matches!(plan(Some("title:\"x"), &fields, &mut a), TextPlan::Query(_)));
    }
}

//! Filters on a track's genre, key and measured numbers.
//!
//! The same [`Filter`] narrows a text search and gives the vector search its
//! allow-list ([`TextIndex::matching_ids`](super::TextIndex::matching_ids)),
//! so a user sees the same tracks whichever search answers. Each set
//! constraint becomes one tantivy query that every hit must match: a term
//! query on a raw field for genre and key, a range over a fast field (a
//! column scan, no term dictionary walk) for the numbers.

use std::ops::Bound;

use sonica_schema::Key;
use tantivy::query::{EmptyQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use super::fields::{normalise_genre, Fields};
use super::TextError;

/// Constraints on the tracks a search may return; `None` means "any".
///
/// A track without a value (not analysed yet: no key, tempo or loudness;
/// no genre tag) never matches a constraint on that value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The whole genre, case-insensitive ("rock" does not match "Indie Rock").
    pub genre: Option<String>,
    pub key: Option<Key>,
    /// Inclusive bounds, beats per minute.
    pub tempo_min: Option<f64>,
    pub tempo_max: Option<f64>,
    /// Inclusive bounds, seconds.
    pub duration_min: Option<f64>,
    pub duration_max: Option<f64>,
    /// Inclusive bounds, LUFS (integrated loudness, negative).
    pub loudness_min: Option<f64>,
    pub loudness_max: Option<f64>,
}

impl Filter {
    /// True when the filter lets every track through.
    pub fn is_empty(&self) -> bool {
        self.genre.is_none()
            && self.key.is_none()
            && [
                self.tempo_min,
                self.tempo_max,
                self.duration_min,
                self.duration_max,
                self.loudness_min,
                self.loudness_max,
            ]
            .iter()
            .all(Option::is_none)
    }

    /// One query per set constraint; a hit must match them all. Empty when
    /// the filter is. A NaN bound is an error (it would silently match
    /// nothing or everything); a range with min > max matches nothing.
    pub(crate) fn clauses(&self, fields: &Fields) -> Result<Vec<Box<dyn Query>>, TextError> {
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        if let Some(genre) = &self.genre {
            out.push(term(fields.genre_exact, &normalise_genre(genre)));
        }
        if let Some(key) = &self.key {
            out.push(term(fields.key, &key.name()));
        }
        let ranges = [
            ("tempo", fields.tempo_bpm, self.tempo_min, self.tempo_max),
            ("duration", fields.duration_s, self.duration_min, self.duration_max),
            ("loudness", fields.loudness_lufs, self.loudness_min, self.loudness_max),
        ];
        for (name, field, min, max) in ranges {
            if let Some(q) = range(name, field, min, max)? {
                out.push(q);
            }
        }
        Ok(out)
    }
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// An inclusive range over an f64 fast field, `None` when both bounds are.
fn range(name: &str, field: Field, min: Option<f64>, max: Option<f64>) -> Result<Option<Box<dyn Query>>, TextError> {
    for (side, v) in [("min", min), ("max", max)] {
        if v.is_some_and(f64::is_nan) {
            return Err(TextError::InvalidFilter(format!("{name}_{side} is not a number")));
        }
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Ok(Some(Box::new(EmptyQuery)));
        }
    }
    let bound = |v: Option<f64>| v.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_f64(field, v)));
    Ok(match (min, max) {
        (None, None) => None,
        _ => Some(Box::new(RangeQuery::new(bound(min), bound(max)))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::Mode;

    fn fields() -> Fields {
        Fields::from_schema(&Fields::schema()).unwrap()
    }

    #[test]
    fn is_empty_sees_every_constraint() {
        assert!(Filter::default().is_empty());
        let set: [Filter; 8] = [
            Filter {
                genre: Some("x".into()),
                ..Filter::default()
            },
            Filter {
                key: Some(Key {
                    tonic: 0,
                    mode: Mode::Major,
                }),
                ..Filter::default()
            },
            Filter {
                tempo_min: Some(1.0),
                ..Filter::default()
            },
            Filter {
                tempo_max: Some(1.0),
                ..Filter::default()
            },
            Filter {
                duration_min: Some(1.0),
                ..Filter::default()
            },
            Filter {
                duration_max: Some(1.0),
                ..Filter::default()
            },
            Filter {
                loudness_min: Some(1.0),
                ..Filter::default()
            },
            Filter {
                loudness_max: Some(1.0),
                ..Filter::default()
            },
        ];
        for f in set {
            assert!(!f.is_empty(), "{f:?}");
            assert_eq!(f.clauses(&fields()).unwrap().len(), 1, "{f:?}");
        }
    }

    #[test]
    fn nan_bounds_are_rejected_with_their_name() {
        let f = Filter {
            loudness_max: Some(f64::NAN),
            ..Filter::default()
        };
        let err = f.clauses(&fields()).unwrap_err();
        assert!(err.to_string().contains("loudness_max"), "{err}");
    }
}

//! Query parameters for similarity and text search, parsed and checked in
//! one place so the CLI and every HTTP route accept the same things and
//! refuse the same things with the same words.
//!
//! Everything arrives as text (query strings, form fields, JSON values,
//! flags), so parsing starts from `Option<String>`: a number that does not
//! parse, a key that does not exist or a range that is upside down each get
//! one precise message naming the parameter, which the service answers with
//! a 400.

use sonica_index::Filter;
use sonica_index::VectorKind;
use sonica_schema::Key;

/// Most results one query may ask for.
pub const MAX_TOP_K: usize = 1000;
/// Default number of similar tracks.
pub const DEFAULT_TOP_K: usize = 10;
/// Highest tempo accepted in a filter (BPM).
pub const MAX_TEMPO: f64 = 1000.0;
/// Deepest offset a text search pages to.
pub const MAX_OFFSET: usize = 100_000;

/// The raw filter parameters, as the user wrote them.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct RawFilter {
    /// Genre, whole and case-insensitive ("rock").
    pub genre: Option<String>,
    /// Key, e.g. "A minor", "Eb major", "F#m".
    pub key: Option<String>,
    /// Lowest tempo, BPM (inclusive).
    pub tempo_min: Option<String>,
    /// Highest tempo, BPM (inclusive).
    pub tempo_max: Option<String>,
}

/// A bad parameter: the message says which and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

fn bad(msg: impl Into<String>) -> ParamError {
    ParamError(msg.into())
}

/// Text left blank counts as not given.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A finite number, or a message naming the parameter.
pub fn parse_number(name: &str, v: &Option<String>) -> Result<Option<f64>, ParamError> {
    let Some(s) = given(v) else { return Ok(None) };
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(bad(format!("{name} must be a number, not {s:?}"))),
    }
}

/// A whole number within `lo..=hi`.
pub fn parse_count(name: &str, v: &Option<String>, lo: usize, hi: usize) -> Result<Option<usize>, ParamError> {
    let Some(s) = given(v) else { return Ok(None) };
    match s.parse::<u64>() {
        Ok(n) if (lo as u64..=hi as u64).contains(&n) => Ok(Some(n as usize)),
        _ => Err(bad(format!(
            "{name} must be a whole number from {lo} to {hi}, not {s:?}"
        ))),
    }
}

impl RawFilter {
    /// Checks and converts the filter.
    pub fn parse(&self) -> Result<Filter, ParamError> {
        let genre = match given(&self.genre) {
            Some(g) if g.chars().count() > 200 => return Err(bad("genre is longer than 200 characters")),
            g => g.map(str::to_string),
        };
        let key = match given(&self.key) {
            Some(k) => Some(Key::parse(k).ok_or_else(|| {
                bad(format!(
                    "key {k:?} is not a key; write a tonic and a mode, e.g. \"A minor\", \"Eb major\" or \"F#m\""
                ))
            })?),
            None => None,
        };
        let tempo_min = parse_number("tempo_min", &self.tempo_min)?;
        let tempo_max = parse_number("tempo_max", &self.tempo_max)?;
        for (name, t) in [("tempo_min", tempo_min), ("tempo_max", tempo_max)] {
            if let Some(t) = t {
                if !(0.0..=MAX_TEMPO).contains(&t) {
                    return Err(bad(format!("{name} must be between 0 and {MAX_TEMPO} BPM, not {t}")));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (tempo_min, tempo_max) {
            if lo > hi {
                return Err(bad(format!(
                    "tempo_min ({lo}) is greater than tempo_max ({hi}); no tempo could match"
                )));
            }
        }
        Ok(Filter {
            genre,
            key,
            tempo_min,
            tempo_max,
            ..Default::default()
        })
    }
}

/// The raw parameters of a similarity query.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct RawSimilar {
    /// Genre, whole and case-insensitive ("rock").
    pub genre: Option<String>,
    /// Key, e.g. "A minor", "Eb major", "F#m".
    pub key: Option<String>,
    /// Lowest tempo, BPM (inclusive).
    pub tempo_min: Option<String>,
    /// Highest tempo, BPM (inclusive).
    pub tempo_max: Option<String>,
    /// How many results, 1–1000 (default 10).
    pub top_k: Option<String>,
    /// Drop results less similar than this (cosine similarity, −1 to 1).
    pub min_similarity: Option<String>,
    /// `timbre`, `rhythm` or `mixed` (default).
    pub kind: Option<String>,
}

/// A checked similarity query.
#[derive(Debug, Clone)]
pub struct SimilarParams {
    pub filter: Filter,
    pub top_k: usize,
    pub min_similarity: f32,
    pub kind: VectorKind,
}

impl RawSimilar {
    /// The filter part.
    pub fn raw_filter(&self) -> RawFilter {
        RawFilter {
            genre: self.genre.clone(),
            key: self.key.clone(),
            tempo_min: self.tempo_min.clone(),
            tempo_max: self.tempo_max.clone(),
        }
    }

    pub fn parse(&self) -> Result<SimilarParams, ParamError> {
        let filter = self.raw_filter().parse()?;
        let top_k = parse_count("top_k", &self.top_k, 1, MAX_TOP_K)?.unwrap_or(DEFAULT_TOP_K);
        let min_similarity = match parse_number("min_similarity", &self.min_similarity)? {
            Some(m) if (-1.0..=1.0).contains(&m) => m as f32,
            Some(m) => return Err(bad(format!("min_similarity must be between -1 and 1, not {m}"))),
            None => -1.0,
        };
        let kind = match given(&self.kind) {
            Some(k) => {
                VectorKind::parse(k).ok_or_else(|| bad(format!("kind must be timbre, rhythm or mixed, not {k:?}")))?
            }
            None => VectorKind::Mixed,
        };
        Ok(SimilarParams {
            filter,
            top_k,
            min_similarity,
            kind,
        })
    }
}

/// Named text parameters from a form or a JSON body.
pub type Fields = std::collections::HashMap<String, String>;

/// Flattens a JSON request into named text parameters: top-level fields
/// and those inside a `filters` (or `filter`) object, numbers as their text,
/// null as not given. Booleans, lists and other objects are refused by name.
/// Parameters that are numbers in a JSON body.
const NUMERIC_FIELDS: [&str; 8] = [
    "tempo_min",
    "tempo_max",
    "top_k",
    "min_similarity",
    "limit",
    "offset",
    "track_id",
    "id",
];

pub fn json_fields(v: &serde_json::Value) -> Result<Fields, ParamError> {
    use serde_json::Value;
    let Value::Object(top) = v else {
        return Err(bad("the JSON body must be an object"));
    };
    let mut out = Fields::new();
    let mut put = |k: &str, v: &Value| -> Result<(), ParamError> {
        let text = match v {
            Value::Null => return Ok(()),
            // JSON has numbers: a numeric parameter sent as a string is a
            // mistake the API document does not allow, so it says so.
            Value::String(_) if NUMERIC_FIELDS.contains(&k) => {
                return Err(bad(format!("{k} must be a JSON number (or null), not a string")))
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            // No parameter is a flag: `"genre": true` is a mistake, not the genre "true".
            _ => return Err(bad(format!("{k} must be a string or a number"))),
        };
        out.insert(k.to_string(), text);
        Ok(())
    };
    for (k, v) in top {
        match (k.as_str(), v) {
            ("filters" | "filter", Value::Object(inner)) => {
                for (k, v) in inner {
                    put(k, v)?;
                }
            }
            ("filters" | "filter", Value::Null) => {}
            ("filters" | "filter", _) => return Err(bad(format!("{k} must be an object"))),
            _ => put(k, v)?,
        }
    }
    Ok(out)
}

impl RawSimilar {
    /// Takes the similarity parameters out of named fields.
    pub fn from_fields(f: &mut Fields) -> RawSimilar {
        RawSimilar {
            genre: f.remove("genre"),
            key: f.remove("key"),
            tempo_min: f.remove("tempo_min"),
            tempo_max: f.remove("tempo_max"),
            top_k: f.remove("top_k"),
            min_similarity: f.remove("min_similarity"),
            kind: f.remove("kind"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn json_bodies_flatten_filters() {
        let v = serde_json::json!({"track_id": 7, "top_k": 5, "filters": {"genre": "rock", "tempo_min": 90}});
        let mut f = json_fields(&v).unwrap();
        let raw = RawSimilar::from_fields(&mut f);
        let p = raw.parse().unwrap();
        assert_eq!(p.top_k, 5);
        assert_eq!(p.filter.genre.as_deref(), Some("rock"));
        assert_eq!(p.filter.tempo_min, Some(90.0));
        assert_eq!(f.get("track_id").map(String::as_str), Some("7"));
        assert!(json_fields(&serde_json::json!([1, 2])).is_err());
        assert!(json_fields(&serde_json::json!({"genre": ["a"]})).is_err());
        assert!(json_fields(&serde_json::json!({"genre": true})).is_err());
        assert!(json_fields(&serde_json::json!({"filters": {"tempo_min": false}})).is_err());
        assert!(json_fields(&serde_json::json!({"filters": "rock"})).is_err());
        assert!(json_fields(&serde_json::json!({"filters": null})).unwrap().is_empty());
        // Numbers are JSON numbers (schemathesis sent `"tempo_min": ""`).
        for v in [
            serde_json::json!({"tempo_min": ""}),
            serde_json::json!({"filters": {"top_k": "5"}}),
        ] {
            assert!(json_fields(&v).unwrap_err().0.contains("JSON number"), "{v}");
        }
    }

    #[test]
    fn defaults_when_nothing_given() {
        let p = RawSimilar::default().parse().unwrap();
        assert_eq!(p.top_k, DEFAULT_TOP_K);
        assert_eq!(p.kind, VectorKind::Mixed);
        assert!(p.filter.is_empty());
    }

    #[test]
    fn every_filter_parses() {
        let f = RawFilter {
            genre: s("Rock"),
            key: s("F#m"),
            tempo_min: s("90"),
            tempo_max: s("120.5"),
        }
        .parse()
        .unwrap();
        assert_eq!(f.genre.as_deref(), Some("Rock"));
        assert_eq!(f.key.unwrap().name(), "F# minor");
        assert_eq!((f.tempo_min, f.tempo_max), (Some(90.0), Some(120.5)));
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let cases: Vec<(RawSimilar, &str)> = vec![
            (
                RawSimilar {
                    tempo_min: s("140"),
                    tempo_max: s("100"),
                    ..Default::default()
                },
                "tempo_min (140) is greater than tempo_max (100)",
            ),
            (
                RawSimilar {
                    key: s("H minor"),
                    ..Default::default()
                },
                "key \"H minor\" is not a key",
            ),
            (
                RawSimilar {
                    top_k: s("0"),
                    ..Default::default()
                },
                "top_k must be a whole number from 1 to 1000",
            ),
            (
                RawSimilar {
                    top_k: s("1e9"),
                    ..Default::default()
                },
                "top_k must be a whole number from 1 to 1000, not \"1e9\"",
            ),
            (
                RawSimilar {
                    top_k: s("1000000000"),
                    ..Default::default()
                },
                "top_k must be a whole number",
            ),
            (
                RawSimilar {
                    kind: s("melody"),
                    ..Default::default()
                },
                "kind must be timbre, rhythm or mixed",
            ),
            (
                RawSimilar {
                    min_similarity: s("2"),
                    ..Default::default()
                },
                "min_similarity must be between -1 and 1",
            ),
            (
                RawSimilar {
                    tempo_max: s("fast"),
                    ..Default::default()
                },
                "tempo_max must be a number",
            ),
            (
                RawSimilar {
                    tempo_min: s("NaN"),
                    ..Default::default()
                },
                "tempo_min must be a number",
            ),
        ];
        for (raw, want) in cases {
            let err = raw.parse().unwrap_err().0;
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}

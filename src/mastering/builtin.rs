//! Built-in genre targets: shipped with Sonica so a user without
//! references of their own still has something to aim at. Each was built
//! by `sonica reference build-target` from freely licensed music; the JSON
//! file names every source track and its licence (see
//! docs/builtin-targets.md: orchestral, from real game soundtracks; the
//! General MIDI renders that were tried for other genres were not shipped,
//! and the document says why).

use std::sync::OnceLock;

use serde::Deserialize;
use sonica_schema::mastering_target::Target;

/// One source track of a built-in target.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Source {
    pub file: String,
    pub origin: String,
    pub license: String,
}

/// A built-in target.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct BuiltIn {
    pub genre: String,
    pub sources: Vec<Source>,
    pub target: Target,
}

/// The shipped files.
const FILES: &[&str] = &[include_str!("targets/orchestral.json")];

/// Every built-in target that parses and is whole (a damaged one is left
/// out, never half-used).
pub fn all() -> &'static [BuiltIn] {
    static ALL: OnceLock<Vec<BuiltIn>> = OnceLock::new();
    ALL.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|f| serde_json::from_str::<BuiltIn>(f).ok())
            .filter(|b| b.target.is_valid())
            .collect()
    })
}

/// The built-in target of `genre` (normalised).
pub fn find(genre: &str) -> Option<&'static BuiltIn> {
    all().iter().find(|b| b.genre == genre)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_target_parses_and_is_whole() {
        assert_eq!(
            all().len(),
            FILES.len(),
            "a built-in target failed to parse or is not whole"
        );
        for b in all() {
            assert_eq!(b.target.references, b.sources.len(), "{}", b.genre);
            assert!(
                b.sources.iter().all(|s| !s.license.is_empty() && !s.origin.is_empty()),
                "{}",
                b.genre
            );
            assert!(b.target.width.p10 >= 0.0, "{}", b.genre);
        }
        assert!(find("orchestral").is_some());
    }
}

//! Built-in genre targets: shipped with Sonica so a user without
//! references of their own still has something to aim at. Each was built
//! by `sonica reference build-target` from freely licensed music; the JSON
//! file names every source track and its licence (see the README).

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

//! What can go wrong in the mastering assistant beyond decoding and
//! storage: a target that cannot be built, an analysis that is not there,
//! a mix with nothing to judge.

/// Failures of the mastering assistant.
#[derive(Debug, thiserror::Error)]
pub enum MasteringError {
    #[error("track {0} is not a mastering reference: mark it first (POST /api/references, or `sonica reference add {0} --genre G`)")]
    UnknownReference(u32),
    #[error("no references of genre {genre:?} in the library and no built-in target for it; genres with references or built-in targets: {known}")]
    UnknownGenre { genre: String, known: String },
    #[error("no mastering analysis with id {0} (it may have been dropped by retention)")]
    UnknownAnalysis(u64),
    #[error("the mix is silent (peak {peak_dbfs:.1} dBFS): there is nothing to measure or recommend")]
    Silent { peak_dbfs: f64 },
    #[error("genre must be 1–64 letters, digits, spaces, '-', '_', '&' or '/', not {0:?}")]
    BadGenre(String),
    #[error("choose what to compare with: one or more references, or a genre")]
    NoTarget,
    #[error("at most {max} references at once, not {given}")]
    TooManyReferences { given: usize, max: usize },
    #[error("analysis {0} has no stored audio to preview")]
    NoPreview(u64),
}

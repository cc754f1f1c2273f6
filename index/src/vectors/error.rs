//! The one error type of the vector index.
//!
//! Callers (the HTTP layer, the ingest writer) need to tell a bad request
//! (wrong length, NaN) from a broken disk, so each failure has its own variant
//! with a one-line message that names what was wrong and where.

use std::path::PathBuf;

/// Everything that can go wrong in [`VectorIndex`](super::VectorIndex).
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The index was asked for a dimension it cannot hold.
    #[error("vector dimension must be between 1 and {max}, got {got}")]
    BadDimension { got: usize, max: usize },
    /// A vector (inserted or queried) does not have the index's length.
    #[error("vector has {got} values but this index holds {expected}-dimensional vectors")]
    WrongDimension { expected: usize, got: usize },
    /// A vector holds NaN or an infinity, which would poison every distance.
    #[error("vector value at position {position} is not finite ({value})")]
    NonFinite { position: usize, value: f32 },
    /// An all-zero vector has no direction, so no cosine similarity.
    #[error("vector has zero length and cannot be normalised")]
    ZeroVector,
    /// A file or folder of the saved index could not be read or written.
    #[error("vector index I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A saved file does not hold what its manifest promises.
    #[error("vector index file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// hnsw_rs failed (or panicked) while dumping or loading its graph.
    #[error("HNSW graph {operation} failed: {reason}")]
    Hnsw { operation: &'static str, reason: String },
    /// `save` on an index made with [`VectorIndex::in_memory`](super::VectorIndex::in_memory).
    #[error("this vector index lives in memory only and has no folder to save into")]
    InMemory,
}

impl VectorError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VectorError::Io {
            path: path.into(),
            source,
        }
    }

    /// A corrupt-file error with its reason.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        VectorError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_problem() {
        let errors = [
            VectorError::BadDimension { got: 0, max: 4096 },
            VectorError::WrongDimension { expected: 40, got: 39 },
            VectorError::NonFinite {
                position: 3,
                value: f32::NAN,
            },
            VectorError::ZeroVector,
            VectorError::io("/x/y", std::io::Error::other("disk on fire")),
            VectorError::corrupt("/x/manifest.json", "bad checksum"),
            VectorError::Hnsw {
                operation: "load",
                reason: "boom".into(),
            },
            VectorError::InMemory,
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.is_empty());
        }
        assert!(errors[1].to_string().contains("39"));
        assert!(errors[4].to_string().contains("/x/y"));
    }
}

//! Errors of the storage and search layer.

use sonica_schema::{SchemaError, TrackId};

/// Failures of a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store open.
    #[error(
        "the store at {path} is in use by another process (it is locked); stop that process or use another --data-dir"
    )]
    Locked { path: String },
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("I/O error on the store: {0}")]
    Io(#[from] std::io::Error),
}

/// Failures of the index layer.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(#[from] SchemaError),
    #[error("the store uses format version {found}, but this build of Sonica reads version {expected} (and upgrades version {oldest} with `sonica-reindex --rebuild`); a newer store needs the Sonica release that wrote it", oldest = sonica_schema::layout::REBUILDS_FROM)]
    IncompatibleFormat { found: u32, expected: u32 },
    #[error("the store uses format version {found}; this build reads version {expected}, which adds postings derived from the stored peaks: upgrade it in place with `sonica-reindex --rebuild --data-dir <the library>` (no audio is decoded; the old version's binary can no longer open it afterwards)")]
    NeedsRebuild { found: u32, expected: u32 },
    #[error("no track with id {0}")]
    UnknownTrack(TrackId),
    #[error("track id space exhausted")]
    IdsExhausted,
}

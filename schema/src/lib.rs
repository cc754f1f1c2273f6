//! `sonica-schema`: Sonica's data model and every on-disk layout.
//!
//! Everything that decides how bytes look on disk lives here, so that a
//! format change is one reviewable diff and [`FORMAT_VERSION`] is bumped in
//! the same place. The crate has no storage engine and no audio code: the
//! index crate stores these values, the root crate produces them.

pub mod analysis;
pub mod api_key;
pub mod cluster_layout;
pub mod duplicate;
pub mod job;
pub mod layout;
pub mod mastering;
pub mod mastering_record;
pub mod mastering_target;
pub mod monitor;
pub mod notation;
pub mod packed;
pub mod peaks;
pub mod postings;
pub mod quota;
pub mod section;
pub mod track;
pub mod varint;
pub mod waveform;
pub mod webhook;

pub use analysis::{
    Band, Bands, Drum, DrumHit, DrumPattern, Dynamics, Key, KeyEstimate, Loudness, Mode, Rhythm, Stereo, Tempo,
    TimeSignature, TrackAnalysis, ANALYSIS_VERSION, RHYTHM_DIM, TIMBRE_DIM,
};
pub use duplicate::{Duplicate, DuplicateKind, OnDuplicate};
pub use job::{JobRecord, JobSource, JobStatus};
pub use layout::{Tree, FORMAT_VERSION};
pub use peaks::Peak;
pub use postings::Posting;
pub use section::{
    BeatHit, PatternId, Section, SectionFunction, SectionPattern, DEFAULT_SECTIONS, MAX_SECTIONS, PATTERN_DIM,
};
pub use track::{Tier, TrackId, TrackRecord};
pub use waveform::Waveform;

/// Errors from decoding stored values. They mean the bytes on disk are not
/// what this version of Sonica wrote: corruption or a foreign format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("corrupt {what}: {why}")]
    Corrupt { what: &'static str, why: String },
}

impl SchemaError {
    pub(crate) fn corrupt(what: &'static str, why: impl Into<String>) -> Self {
        SchemaError::Corrupt { what, why: why.into() }
    }
}

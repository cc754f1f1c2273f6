//! Sonica: self-hosted audio search in one binary.
//!
//! Data flows one way: [`decode`] → [`resample`] → [`fingerprint`] →
//! store ([`sonica_index`]) → query ([`identify`]). This crate owns the
//! audio side and the command line; storage and search structures live in
//! `sonica-index`, and every on-disk layout in `sonica-schema`.

pub mod analysis;
pub mod answer;
pub mod chromaprint;
pub mod cpu_stages;
pub mod decode;
pub mod digest;
pub mod dsp;
pub mod error;
pub mod explain;
pub mod fingerprint;
pub mod identify;
pub mod ingest;
pub mod library;
pub mod mastering;
pub mod monitor;
pub mod net;
pub mod options;
pub mod pipeline;
pub mod search;
pub mod service;
pub mod webhooks;

pub use error::{ErrorCode, SonicaError};
pub use identify::{Identifier, Match, MatchParams, Verdict};
pub use library::{Library, OpenOptions};

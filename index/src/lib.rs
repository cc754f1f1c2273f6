//! `sonica-index`: Sonica's storage and search structures.
//!
//! The crate knows keys, values, postings and votes, never audio or HTTP:
//! the root crate turns sound into [`Peak`](sonica_schema::Peak)s and hashes,
//! and this crate stores them and finds which track a set of hashes agrees
//! with. Storage goes through the small [`KvStore`] trait so the sled backend
//! can be swapped (an in-memory backend proves the seam and serves tests).

pub mod block_cache;
pub mod catalog;
pub mod compaction;
pub mod error;
pub mod fingerprints;
pub mod fresh;
pub mod jobs;
pub mod mem_store;
pub mod sled_store;
pub mod store;
pub mod vote;

pub use compaction::CompactReport;
pub use error::{IndexError, StoreError};
pub use fingerprints::{FingerprintIndex, Hasher, NewTrack, Stats, TierStats};
pub use mem_store::MemStore;
pub use sled_store::SledStore;
pub use store::{Batch, KvStore};
pub use vote::{Candidate, QueryHash, Votes};

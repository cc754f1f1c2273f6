//! `sonica-index`: Sonica's storage and search structures.
//!
//! The crate knows keys, values, postings and votes, never audio or HTTP:
//! the root crate turns sound into [`Peak`](sonica_schema::Peak)s and hashes,
//! and this crate stores them and finds which track a set of hashes agrees
//! with. Storage goes through the small [`KvStore`] trait so the sled backend
//! can be swapped (an in-memory backend proves the seam and serves tests).
//!
//! The modules are private; what another crate may use is re-exported
//! here, so the layout inside can change without breaking callers.

mod admit;
mod block_cache;
mod catalog;
mod compaction;
mod duplicates;
mod error;
mod fingerprints;
mod follow;
pub mod format;
mod fresh;
mod jobs;
mod keys;
mod maintenance;
mod mastering;
mod mem_store;
mod monitors;
mod music;
mod quotas;
mod redis_store;
mod sled_rewrite;
mod sled_store;
mod store;
#[cfg(test)]
mod store_contract;
mod text;
mod vectors;
mod vote;
mod webhooks;

pub use admit::Admitted;
pub use compaction::CompactReport;
pub use duplicates::{DuplicateGroup, DuplicateParams, Probe};
pub use error::{IndexError, StoreError};
pub use fingerprints::{FingerprintIndex, Hasher, NewTrack, Stats, TierStats};
pub use jobs::CRASHED_WORKER;
pub use keys::{KeyStore, NewKey};
pub use maintenance::{
    rebuild_music, verify, Difference, LookupReport, MaintenanceError, Problem, RebuildOptions, RebuildReport,
    VerifyOptions, VerifyReport,
};
pub use mastering::MasteringLibrary;
pub use mem_store::MemStore;
pub use monitors::{MonitorStore, MAX_PAGE as MAX_LOG_PAGE};
pub use music::{
    text_doc, IndexedIds, Mixer, MusicError, MusicIndex, OpenReport, QueryVectors, TrackObserver, VectorKind,
};
pub use quotas::{Ask, Quotas, Standing, Take};
pub use redis_store::{JobQueue, QueuedJob, RedisStore};
pub use sled_rewrite::{rewrite_store, RewriteReport};
pub use sled_store::{SledStore, SledTuning};
pub use store::{Batch, Change, Changes, KvStore, WriterLease};
pub use text::{Filter, TextDoc, TextError, TextIndex, TextQuery, TextResults};
pub use vectors::{AllowList, Hit, Strategy, Tuning, VectorError, VectorIndex};
pub use vote::{Candidate, QueryHash, Votes};
pub use webhooks::{Attempt, Due, NewSubscription, Next, WebhookStore, KEEP_EVENTS, KEEP_EVENTS_S};

/// Helpers shared by this crate's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use sonica_schema::{JobRecord, JobSource, JobStatus, Peak, Tier, TrackId, TrackRecord};

    use crate::{Hasher, NewTrack};

    /// Each peak paired with the next two: enough postings per track to
    /// spread over many buckets.
    pub fn pair_hasher() -> Hasher {
        std::sync::Arc::new(|peaks: &[Peak]| {
            let mut out = Vec::new();
            for (i, a) in peaks.iter().enumerate() {
                for b in peaks.iter().skip(i + 1).take(2) {
                    out.push((
                        (u32::from(a.freq16) << 9) ^ u32::from(b.freq16) ^ (b.time - a.time),
                        a.time,
                    ));
                }
            }
            out
        })
    }

    /// `n` pseudo-random peaks (xorshift from `seed`), one every `step`
    /// frames, anywhere in 0..8000 sixteenth-bins.
    pub fn random_peaks(seed: u32, n: u32, step: u32) -> Vec<Peak> {
        let mut x = seed.wrapping_mul(2654435761).max(1);
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                Peak {
                    time: i * step,
                    freq16: (x % 8000) as u16,
                }
            })
            .collect()
    }

    /// A fresh track at `path` with `peaks`, hashed by `hasher`.
    pub fn new_track(path: &str, peaks: Vec<Peak>, hasher: &Hasher) -> NewTrack {
        let hashes = hasher(&peaks);
        NewTrack {
            record: record(0, path, Tier::Fresh),
            peaks,
            hashes,
            analysis: None,
            chromaprint: None,
        }
    }

    /// A queued upload job for `path` (titled "Given"), id not yet reserved.
    pub fn job(path: &str) -> JobRecord {
        JobRecord {
            id: 0,
            path: path.into(),
            source: JobSource::Upload,
            status: JobStatus::Queued,
            title: Some("Given".into()),
            artist: None,
            album: None,
            genre: None,
            attempts: 0,
            error: None,
            error_code: None,
            created_at: 1,
            file_len: None,
            file_mtime_ms: None,
            on_duplicate: None,
            duplicates: Vec::new(),
        }
    }

    /// A record with only what the index looks at filled in.
    pub fn record(id: TrackId, path: &str, tier: Tier) -> TrackRecord {
        TrackRecord {
            id,
            path: path.into(),
            title: path.into(),
            artist: None,
            album: None,
            genre: None,
            duration_s: 10.0,
            sample_rate: 8000,
            channels: 1,
            codec: "pcm".into(),
            peaks: 0,
            hashes: 0,
            tier,
            created_at: 0,
            file_len: None,
            file_mtime_ms: None,
            sha256: None,
            duplicate_of: None,
            analysis_pending: false,
        }
    }
}

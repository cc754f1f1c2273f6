//! Offline upkeep of a store, for `sonica-reindex`: keeping a record in
//! step with a touched file, rebuilding every derived index from the
//! canonical records, and checking that every index agrees with them.
//!
//! The store's canonical data is the `tracks`, `jobs` and `peaks` trees
//! (plus `analysis`, `chromaprints` and the duplicate links, which only
//! re-analysis can recreate). Everything else is derived: the hash tiers
//! from the peaks, `paths` and `digests` from the records, the vector and
//! text folders from records and analyses. [`rebuild`] regenerates the
//! derived indexes; [`verify`] reports every place they disagree.

pub mod lookups;
pub mod passes;
pub mod rebuild;
mod repack;
mod report;
pub mod verify;
mod verify_buckets;

#[cfg(test)]
mod tests;

use sonica_schema::duplicate::parse_sha256;
use sonica_schema::layout::track_key;
use sonica_schema::{TrackRecord, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::music::MusicError;
use crate::store::Batch;
use crate::IndexError;

pub use lookups::LookupReport;
pub use rebuild::{rebuild_music, RebuildOptions, RebuildReport};
pub use report::{Difference, Problem, VerifyOptions, VerifyReport};
pub use verify::verify;

/// Failures of the maintenance operations.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Music(#[from] MusicError),
    #[error("cannot reset {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl FingerprintIndex {
    /// Rewrites a live track's record: what the reindex tool does when a
    /// file was touched but its bytes did not change (a new size and mtime
    /// stamp, or a sha256 for a record older than digests). The fields the
    /// index owns (id, path, tier, peak and hash counts) are kept from the
    /// stored record, so the catalog and both hash tiers stay valid; a
    /// sha256 that appears or changes moves the `digests` entry in the same
    /// atomic batch. Returns the record as stored.
    pub fn update_record(&self, r: &TrackRecord) -> Result<TrackRecord, IndexError> {
        let _w = self.lock_writer()?;
        let old = self.get(r.id)?.ok_or(IndexError::UnknownTrack(r.id))?;
        let key = track_key(r.id);
        let mut new = r.clone();
        new.path.clone_from(&old.path);
        new.tier = old.tier;
        new.peaks = old.peaks;
        new.hashes = old.hashes;
        let mut b = Batch::new();
        b.put(Tree::Tracks, key, new.encode());
        if new.sha256 != old.sha256 {
            if let Some(sha) = old.sha256.as_deref().and_then(parse_sha256) {
                if self.store.get(Tree::Digests, &sha)?.as_deref() == Some(&key[..]) {
                    b.remove(Tree::Digests, sha);
                }
            }
            if let Some(sha) = new.sha256.as_deref().and_then(parse_sha256) {
                if self.id_by_digest(&sha)?.is_none() {
                    b.put(Tree::Digests, sha, key);
                }
            }
        }
        self.store.commit(b)?;
        let searchable_changed = (&new.title, &new.artist, &new.album, &new.genre)
            != (&old.title, &old.artist, &old.album, &old.genre)
            || new.duration_s != old.duration_s;
        if searchable_changed {
            let observer = self.observer.read().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(o) = observer {
                o.track_added(&new, self.analysis(new.id)?.as_ref());
            }
        }
        Ok(new)
    }
}

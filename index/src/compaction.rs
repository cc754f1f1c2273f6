//! Compaction: moves fresh postings into the sharded bucket blocks and
//! purges postings of deleted tracks.
//!
//! The order of writes is what makes a kill harmless at any point:
//! 1. rewrite every affected bucket, dropping entries of the tracks being
//!    moved or purged and adding the fresh ones (re-running this step is
//!    idempotent);
//! 2. flush;
//! 3. one atomic batch flips the moved tracks to [`Tier::Compacted`] and
//!    clears the purged tombstones.
//!
//! Before step 3 the new bucket entries are ignored (their tracks still say
//! `Fresh`), so a query never counts a posting twice.

use std::collections::{BTreeMap, HashSet};

use sonica_schema::layout::{bucket_key, bucket_of, parse_track_key, track_key};
use sonica_schema::{postings, Posting, Tier, TrackId, TrackRecord, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::store::{Batch, Op};
use crate::IndexError;

/// Buckets rewritten per batch: bounds the memory a compaction holds.
pub(crate) const BUCKETS_PER_BATCH: usize = 4096;

/// What a compaction did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CompactReport {
    pub tracks_moved: usize,
    pub tracks_purged: usize,
    pub buckets_rewritten: usize,
    pub postings_moved: usize,
}

impl FingerprintIndex {
    /// Merges the whole fresh tier into the buckets and purges tombstones.
    pub fn compact(&self) -> Result<CompactReport, IndexError> {
        let _w = self.lock_writer()?;
        let moving: Vec<TrackId> = self.catalog().fresh_ids();
        let purging: Vec<TrackId> = self
            .store
            .scan(Tree::Tombstones)
            .filter_map(|e| e.map(|(k, _)| parse_track_key(&k)).transpose())
            .collect::<Result<_, _>>()?;
        let mut report = CompactReport {
            tracks_moved: moving.len(),
            tracks_purged: purging.len(),
            ..Default::default()
        };
        if moving.is_empty() && purging.is_empty() {
            return Ok(report);
        }
        let drop: HashSet<TrackId> = moving.iter().chain(purging.iter()).copied().collect();

        // Fresh postings grouped by bucket.
        let mut incoming: BTreeMap<u32, Vec<Posting>> = BTreeMap::new();
        for &id in &moving {
            for p in self.derive_postings(id)? {
                incoming.entry(bucket_of(p.hash)).or_default().push(p);
            }
        }
        report.postings_moved = incoming.values().map(Vec::len).sum();

        // Buckets to rewrite: those receiving postings, plus, when purging,
        // every existing bucket (a deleted track's hashes are not kept).
        let mut targets: Vec<u32> = incoming.keys().copied().collect();
        if !purging.is_empty() {
            for e in self.store.scan(Tree::Buckets) {
                let (k, _) = e?;
                if let Some(b) = parse_track_key(&k) {
                    targets.push(b);
                }
            }
            targets.sort_unstable();
            targets.dedup();
        }

        for chunk in targets.chunks(BUCKETS_PER_BATCH) {
            let mut batch = Batch::new();
            for &bucket in chunk {
                let key = bucket_key(bucket);
                let old = match self.store.get(Tree::Buckets, &key)? {
                    Some(v) => postings::decode(&v)?,
                    None => Vec::new(),
                };
                let before = old.len();
                let mut merged: Vec<Posting> = old.into_iter().filter(|p| !drop.contains(&p.track)).collect();
                let kept = merged.len();
                if let Some(new) = incoming.get(&bucket) {
                    merged.extend_from_slice(new);
                }
                if kept == before && merged.len() == before {
                    continue; // nothing changes in this bucket
                }
                merged.sort_unstable();
                merged.dedup();
                batch.ops.push(block_op(bucket, &merged));
                report.buckets_rewritten += 1;
            }
            self.store.commit(batch)?;
            // Before any track reads these buckets as its tier (see block_cache).
            self.blocks.invalidate();
        }
        self.store.flush()?;

        self.publish_compacted(&moving, &purging)?;
        Ok(report)
    }

    /// Step 3: flips `moved` to [`Tier::Compacted`] and clears the
    /// tombstones of `purged` in one atomic batch, flushes, and then moves
    /// the tracks out of the in-memory fresh tier. Callers hold the writer
    /// lock and have flushed every bucket holding the moved postings. Shared
    /// with the bulk rebuild of [`crate::maintenance`].
    pub(crate) fn publish_compacted(&self, moved: &[TrackId], purged: &[TrackId]) -> Result<(), IndexError> {
        self.publish_compacted_counted(moved, purged, None)
    }

    /// [`publish_compacted`](Self::publish_compacted), also setting each
    /// moved record's posting count from `counts` (a rebuild derives the
    /// postings anew, and a store upgraded by it gained some).
    pub(crate) fn publish_compacted_counted(
        &self,
        moved: &[TrackId],
        purged: &[TrackId],
        counts: Option<&std::collections::HashMap<TrackId, u32>>,
    ) -> Result<(), IndexError> {
        let mut batch = Batch::new();
        let mut flipped = Vec::with_capacity(moved.len());
        for &id in moved {
            if let Some(v) = self.store.get(Tree::Tracks, &track_key(id))? {
                let mut r = TrackRecord::decode(&v)?;
                r.tier = Tier::Compacted;
                if let Some(&n) = counts.and_then(|c| c.get(&id)) {
                    r.hashes = n;
                }
                batch.put(Tree::Tracks, track_key(id), r.encode());
                flipped.push(id);
            }
        }
        for &id in purged {
            batch.remove(Tree::Tombstones, track_key(id));
        }
        self.store.commit(batch)?;
        self.store.flush()?;

        {
            let mut cat = self.catalog.write().unwrap_or_else(|p| p.into_inner());
            for &id in &flipped {
                cat.set_tier(id, Tier::Compacted);
            }
        }
        self.fresh
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove_tracks(moved);
        Ok(())
    }
}

/// The write that stores `postings` (sorted and distinct) as the block of
/// `bucket`: a put, or a removal when there are none. The one place a block
/// is built, shared by compaction and the bulk rebuild.
pub(crate) fn block_op(bucket: u32, postings: &[Posting]) -> Op {
    let key = bucket_key(bucket).to_vec();
    if postings.is_empty() {
        (Tree::Buckets, key, None)
    } else {
        (Tree::Buckets, key, Some(postings::encode(postings)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sonica_schema::{Peak, Tier};

    use crate::{FingerprintIndex, Hasher, KvStore, MemStore, NewTrack, QueryHash, SledStore, Votes};

    /// A stand-in pairing rule: each peak with the next one.
    fn hasher() -> Hasher {
        Arc::new(|peaks: &[Peak]| {
            peaks
                .windows(2)
                .map(|w| ((u32::from(w[0].freq16) << 9) ^ u32::from(w[1].freq16), w[0].time))
                .collect()
        })
    }

    fn open(store: Arc<dyn KvStore>) -> FingerprintIndex {
        FingerprintIndex::open(store, hasher()).unwrap()
    }

    fn track(path: &str, seed: u32) -> NewTrack {
        crate::test_support::new_track(path, crate::test_support::random_peaks(seed, 401, 2), &hasher())
    }

    /// Queries the first 100 hashes of `t`, shifted to start at query time 0.
    fn best(idx: &FingerprintIndex, t: &NewTrack) -> Option<(u32, u32)> {
        let q: Vec<QueryHash> = t.hashes[50..150]
            .iter()
            .map(|&(hash, time)| QueryHash {
                hash,
                time: (time - 100) as f32,
            })
            .collect();
        let mut v = Votes::new();
        idx.lookup(&q, &mut v).unwrap();
        v.candidates(1).first().map(|c| (c.track, c.count))
    }

    fn lifecycle(store: Arc<dyn KvStore>) {
        let idx = open(store);
        let a = track("a.wav", 1);
        let b = track("b.wav", 2);
        let ra = idx.add(a.clone()).unwrap();
        let rb = idx.add(b.clone()).unwrap();
        assert_ne!(ra.id, rb.id);
        assert_eq!(best(&idx, &a), Some((ra.id, 100)));
        let rep = idx.compact().unwrap();
        assert_eq!(rep.tracks_moved, 2);
        assert_eq!(idx.fresh_postings(), 0);
        assert_eq!(best(&idx, &a), Some((ra.id, 100)));
        assert_eq!(best(&idx, &b), Some((rb.id, 100)));
        assert_eq!(idx.get(ra.id).unwrap().unwrap().tier, Tier::Compacted);
        idx.remove(ra.id).unwrap();
        assert!(
            best(&idx, &a).map(|x| x.0) != Some(ra.id),
            "removed track still answers"
        );
        let rep = idx.compact().unwrap();
        assert_eq!(rep.tracks_purged, 1);
        assert!(best(&idx, &a).map(|x| x.0) != Some(ra.id));
        assert_eq!(best(&idx, &b), Some((rb.id, 100)));
        // Ids are never reused.
        let rc = idx.add(track("c.wav", 3)).unwrap();
        assert!(rc.id > rb.id);
    }

    #[test]
    fn lifecycle_in_memory() {
        lifecycle(Arc::new(MemStore::new()));
    }

    #[test]
    fn lifecycle_on_sled_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        lifecycle(Arc::new(SledStore::open(dir.path()).unwrap()));
        let idx = open(Arc::new(SledStore::open(dir.path()).unwrap()));
        assert_eq!(idx.len(), 2);
        let b = track("b.wav", 2);
        assert!(best(&idx, &b).is_some());
    }

    #[test]
    fn half_done_compaction_never_double_counts() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = open(store.clone());
        let a = track("a.wav", 1);
        let ra = idx.add(a.clone()).unwrap();
        idx.compact().unwrap();
        let b = track("b.wav", 2);
        let rb = idx.add(b.clone()).unwrap();
        // Simulate a kill after step 1: buckets hold b's postings, but its
        // record still says Fresh. Reopen and query.
        let mut batch = crate::Batch::new();
        let mut ps: Vec<sonica_schema::Posting> = b
            .hashes
            .iter()
            .map(|&(hash, time)| sonica_schema::Posting {
                hash,
                track: rb.id,
                time,
            })
            .collect();
        ps.sort();
        for p in &ps {
            let key = sonica_schema::layout::bucket_key(sonica_schema::layout::bucket_of(p.hash));
            let mut old = store
                .get(sonica_schema::Tree::Buckets, &key)
                .unwrap()
                .map(|v| sonica_schema::postings::decode(&v).unwrap())
                .unwrap_or_default();
            old.push(*p);
            old.sort();
            old.dedup();
            batch.put(sonica_schema::Tree::Buckets, key, sonica_schema::postings::encode(&old));
            store.commit(std::mem::take(&mut batch)).unwrap();
        }
        drop(idx);
        let idx = open(store);
        assert_eq!(best(&idx, &b), Some((rb.id, 100)), "counted once, from the fresh tier");
        idx.compact().unwrap();
        assert_eq!(best(&idx, &b), Some((rb.id, 100)));
        assert_eq!(best(&idx, &a), Some((ra.id, 100)));
    }

    #[test]
    fn incompatible_format_is_refused() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let mut b = crate::Batch::new();
        b.put(
            sonica_schema::Tree::Meta,
            sonica_schema::layout::META_FORMAT_VERSION,
            sonica_schema::layout::encode_version(99),
        );
        store.commit(b).unwrap();
        match FingerprintIndex::open(store, hasher()) {
            Err(crate::IndexError::IncompatibleFormat { found: 99, .. }) => {}
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("opened a foreign format"),
        }
    }
}

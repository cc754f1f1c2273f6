//! `--rebuild`'s lookup trees: `paths` (a file path → the track or job
//! that holds it) and `digests` (a file's sha256 → a live track with those
//! bytes), regenerated from the track and job records.
//!
//! Both trees decide what happens to a file that arrives: `paths` lets a
//! reindex skip a stored file, `digests` finds an exact copy without
//! decoding it. So the rebuild never leaves a claim missing, even when it
//! is killed: the wanted entries are written (and flushed) first, and only
//! then are the entries no record supports removed. A kill in between
//! leaves stale extras, which a rerun removes and `--verify` names.

use std::collections::{BTreeMap, BTreeSet};

use sonica_schema::duplicate::parse_sha256;
use sonica_schema::layout::{parse_track_key, track_key};
use sonica_schema::{JobStatus, TrackId, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::store::Batch;
use crate::IndexError;

/// Entries written per committed batch.
const ENTRIES_PER_BATCH: usize = 4096;

/// What a rebuild of the lookup trees changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LookupReport {
    /// Path entries written because they were missing or pointed elsewhere.
    pub paths_written: usize,
    /// Path entries removed because no record holds that path.
    pub paths_removed: usize,
    pub digests_written: usize,
    pub digests_removed: usize,
}

/// For each key, every id a record says may hold it.
type Holders = BTreeMap<Vec<u8>, BTreeSet<TrackId>>;

impl FingerprintIndex {
    /// Regenerates `paths` from the tracks and the jobs that still claim a
    /// file (all but rejected ones), and `digests` from the tracks'
    /// sha256. An entry that already points at a valid holder is kept
    /// (for a digest shared by exact copies, whichever copy holds it);
    /// otherwise the lowest id wins, the first copy stored. Runs under the
    /// writer lock.
    pub fn rebuild_lookups(&self) -> Result<LookupReport, IndexError> {
        let _w = self.lock_writer()?;
        let mut paths = Holders::new();
        let mut digests = Holders::new();
        for r in self.list()? {
            paths.entry(r.path.as_bytes().to_vec()).or_default().insert(r.id);
            if let Some(sha) = r.sha256.as_deref().and_then(parse_sha256) {
                digests.entry(sha.to_vec()).or_default().insert(r.id);
            }
        }
        for j in self.jobs()? {
            if j.status != JobStatus::Rejected {
                paths.entry(j.path.as_bytes().to_vec()).or_default().insert(j.id);
            }
        }
        let (paths_written, paths_removed) = self.replace_lookup(Tree::Paths, &paths)?;
        let (digests_written, digests_removed) = self.replace_lookup(Tree::Digests, &digests)?;
        Ok(LookupReport {
            paths_written,
            paths_removed,
            digests_written,
            digests_removed,
        })
    }

    /// Makes `tree` map each key of `wanted` to one of its holders, then
    /// drops every other key; returns (written, removed).
    fn replace_lookup(&self, tree: Tree, wanted: &Holders) -> Result<(usize, usize), IndexError> {
        let mut b = Batch::new();
        let mut written = 0;
        for (key, holders) in wanted {
            let current = self.store.get(tree, key)?.as_deref().and_then(parse_track_key);
            if current.is_some_and(|id| holders.contains(&id)) {
                continue;
            }
            let Some(&first) = holders.first() else { continue };
            b.put(tree, key.clone(), track_key(first));
            written += 1;
            if b.len() >= ENTRIES_PER_BATCH {
                self.store.commit(std::mem::take(&mut b))?;
            }
        }
        if !b.is_empty() {
            self.store.commit(b)?;
        }
        self.store.flush()?;

        let mut stale = Vec::new();
        for e in self.store.scan(tree) {
            let (k, _) = e?;
            if !wanted.contains_key(&k) {
                stale.push(k);
            }
        }
        self.remove_keys(tree, &stale)?;
        Ok((written, stale.len()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sonica_schema::{JobRecord, Peak};

    use super::*;
    use crate::{Hasher, KvStore, MemStore, NewTrack};

    fn hasher() -> Hasher {
        Arc::new(|peaks: &[Peak]| {
            peaks
                .iter()
                .map(|p| ((u32::from(p.freq16) << 8) | p.time, p.time))
                .collect()
        })
    }

    fn track(path: &str, seed: u32, sha: u64) -> NewTrack {
        let mut t = crate::test_support::new_track(path, crate::test_support::random_peaks(seed, 50, 2), &hasher());
        t.record.sha256 = Some(format!("{sha:064x}"));
        t
    }

    fn job(path: &str, status: JobStatus) -> JobRecord {
        JobRecord {
            status,
            ..crate::test_support::job(path)
        }
    }

    fn sha(n: u64) -> [u8; 32] {
        parse_sha256(&format!("{n:064x}")).unwrap()
    }

    fn keys(store: &dyn KvStore, tree: Tree) -> Vec<(Vec<u8>, Option<TrackId>)> {
        store
            .scan(tree)
            .map(|e| e.map(|(k, v)| (k, parse_track_key(&v))))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn lost_and_planted_entries_are_put_right() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store.clone(), hasher()).unwrap();
        let a = idx.add(track("a.wav", 1, 11)).unwrap().id;
        let b = idx.add(track("b.wav", 2, 22)).unwrap().id;
        // An exact copy of `a`, kept: the digest stays with `a`.
        let a2 = idx.add(track("a-copy.wav", 3, 11)).unwrap().id;
        let queued = idx.enqueue(job("up/q.mp3", JobStatus::Queued)).unwrap().id;
        let mut failed = idx.enqueue(job("up/f.mp3", JobStatus::Queued)).unwrap();
        failed.status = JobStatus::Failed;
        idx.update_job(&failed).unwrap();
        let before_paths = keys(&*store, Tree::Paths);
        let before_digests = keys(&*store, Tree::Digests);
        assert_eq!(before_paths.len(), 5);
        assert_eq!(before_digests.len(), 2);

        // Lose both trees entirely, plant junk, and point b's path at a.
        let mut junk = Batch::new();
        for (k, _) in before_paths.iter() {
            junk.remove(Tree::Paths, k.clone());
        }
        for (k, _) in before_digests.iter() {
            junk.remove(Tree::Digests, k.clone());
        }
        junk.put(Tree::Paths, &b"b.wav"[..], track_key(a));
        junk.put(Tree::Paths, &b"ghost.wav"[..], track_key(4242));
        junk.put(Tree::Digests, sha(99), track_key(b));
        store.commit(junk).unwrap();

        let r = idx.rebuild_lookups().unwrap();
        assert_eq!(
            r,
            LookupReport {
                paths_written: 5,
                paths_removed: 1,
                digests_written: 2,
                digests_removed: 1,
            }
        );
        assert_eq!(keys(&*store, Tree::Paths), before_paths);
        assert_eq!(keys(&*store, Tree::Digests), before_digests);
        assert_eq!(idx.id_by_digest(&sha(11)).unwrap(), Some(a));
        assert_eq!(idx.id_by_path("a-copy.wav").unwrap(), Some(a2));
        assert_eq!(idx.id_by_path("up/q.mp3").unwrap(), Some(queued));
        assert_eq!(idx.id_by_path("up/f.mp3").unwrap(), Some(failed.id));
        let v = crate::maintenance::verify(&idx, None, &Default::default()).unwrap();
        assert!(v.consistent, "{:#?}", v.differences);

        // Nothing left to do: a second run writes nothing.
        assert_eq!(idx.rebuild_lookups().unwrap(), LookupReport::default());
    }

    #[test]
    fn a_digest_held_by_a_later_copy_stays_there() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store.clone(), hasher()).unwrap();
        idx.add(track("a.wav", 1, 11)).unwrap();
        let copy = idx.add(track("copy.wav", 2, 11)).unwrap().id;
        let mut b = Batch::new();
        b.put(Tree::Digests, sha(11), track_key(copy));
        store.commit(b).unwrap();
        assert_eq!(idx.rebuild_lookups().unwrap(), LookupReport::default());
        assert_eq!(idx.id_by_digest(&sha(11)).unwrap(), Some(copy));
    }

    #[test]
    fn a_rejected_job_claims_no_path() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store.clone(), hasher()).unwrap();
        let mut j = idx.enqueue(job("up/r.mp3", JobStatus::Queued)).unwrap();
        j.status = JobStatus::Rejected;
        idx.update_job(&j).unwrap();
        let r = idx.rebuild_lookups().unwrap();
        assert_eq!(r.paths_removed, 1);
        assert_eq!(idx.id_by_path("up/r.mp3").unwrap(), None);
    }
}

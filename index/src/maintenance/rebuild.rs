//! `sonica-reindex --rebuild`: every derived index regenerated from the
//! canonical records, without decoding any audio.
//!
//! The hash tiers are rebuilt in an order that keeps a kill harmless at any
//! point, on the same rule compaction relies on (a posting counts only when
//! its track's record names the tier it was found in):
//! 1. every track with readable peaks is set back to the fresh tier, so its
//!    postings come from its peaks and whatever the buckets hold is ignored;
//! 2. every bucket is deleted, then every tombstone (their postings went
//!    with the buckets);
//! 3. the postings of every track are derived from its peaks and written as
//!    new bucket blocks, each bucket once, built as compaction builds them;
//! 4. flushed, the tracks flip to the compacted tier as compaction's last
//!    step does, a chunk at a time (each chunk is safe on its own).
//!
//! A kill before step 4 leaves every track fresh: the store opens (deriving
//! the fresh tier from the peaks, slower for a big library) and answers, and
//! a rerun or a `sonica compact` finishes the job. The vector and text
//! indexes are folders derived from the store, so they are deleted and
//! refilled by the same reconciliation every open performs.

use std::path::Path;
use std::time::Instant;

use sonica_schema::layout::{bucket_of, parse_track_key, track_key};
use sonica_schema::{peaks, Posting, Tier, TrackId, TrackRecord, Tree};

use crate::compaction::{block_op, BUCKETS_PER_BATCH};
use crate::fingerprints::FingerprintIndex;
use crate::maintenance::passes::threads;
use crate::maintenance::MaintenanceError;
use crate::music::{Mixer, MusicIndex, OpenReport};
use crate::store::{Batch, Op};
use crate::IndexError;

/// Records rewritten per batch when tiers change.
const RECORDS_PER_BATCH: usize = 1024;

/// How a rebuild may use memory.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// At most about this many postings (12 bytes each) are held at once.
    pub postings_per_pass: usize,
}

/// The default budget: 480 MB of postings, so a library of about 1200
/// average tracks (60 hours) is derived in one pass; a larger one pays one
/// more derivation pass per budget's worth (about 0.6 s each per 1000
/// tracks on 2 cores) instead of more memory.
pub const DEFAULT_POSTINGS_PER_PASS: usize = 40_000_000;

impl Default for RebuildOptions {
    fn default() -> Self {
        RebuildOptions {
            postings_per_pass: DEFAULT_POSTINGS_PER_PASS,
        }
    }
}

/// What a rebuild of the hash tiers did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RebuildReport {
    pub tracks: usize,
    pub postings: usize,
    pub buckets_dropped: usize,
    pub tombstones_cleared: usize,
    pub buckets_written: usize,
    /// Derivation passes over the bucket space (1 when everything fit).
    pub passes: usize,
    /// Tracks whose peaks are missing or unreadable: left as they were,
    /// since nothing can be derived for them (`--verify` names them).
    pub unreadable_peaks: Vec<TrackId>,
    /// The store was of format `REBUILDS_FROM` and is now of this build's.
    pub upgraded: bool,
    pub seconds: f64,
}

/// How far a rebuild goes; tests stop early to play a kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Step {
    ToFresh,
    Dropped,
    Written,
    Done,
}

impl FingerprintIndex {
    /// Rebuilds both hash tiers from the canonical peaks (see the module
    /// header for the order of writes). Runs under the writer lock; queries
    /// in this process meanwhile may miss tracks, never count one twice.
    pub fn rebuild_hash_tiers(&self, opts: &RebuildOptions) -> Result<RebuildReport, IndexError> {
        self.rebuild_until(opts, Step::Done)
    }

    pub(crate) fn rebuild_until(&self, opts: &RebuildOptions, stop: Step) -> Result<RebuildReport, IndexError> {
        let started = Instant::now();
        let _w = self.lock_writer()?;
        let mut report = RebuildReport::default();
        let mut ids = Vec::new();
        let mut to_fresh = Vec::new();
        for r in self.list()? {
            let readable = match self.store.get(Tree::Peaks, &track_key(r.id))? {
                Some(v) => peaks::decode(&v).is_ok(),
                None => false,
            };
            if !readable {
                report.unreadable_peaks.push(r.id);
                continue;
            }
            ids.push(r.id);
            if r.tier != Tier::Fresh {
                to_fresh.push(r);
            }
        }
        report.tracks = ids.len();

        // 1. Fresh tier for all: the buckets stop counting.
        for chunk in to_fresh.chunks(RECORDS_PER_BATCH) {
            let mut b = Batch::new();
            for r in chunk {
                let mut r: TrackRecord = r.clone();
                r.tier = Tier::Fresh;
                b.put(Tree::Tracks, track_key(r.id), r.encode());
            }
            self.store.commit(b)?;
        }
        self.store.flush()?;
        if stop == Step::ToFresh {
            return Ok(report);
        }

        // 2. Buckets, then tombstones.
        report.buckets_dropped = self.clear_tree(Tree::Buckets)?;
        self.blocks.invalidate();
        report.tombstones_cleared = self.clear_tree(Tree::Tombstones)?;
        if stop == Step::Dropped {
            return Ok(report);
        }

        // 3. Every bucket written once.
        let (mut written, mut stored) = (0, 0);
        let mut per_track: std::collections::HashMap<TrackId, u32> = std::collections::HashMap::new();
        let passes = self.derive_by_bucket_range(&ids, opts.postings_per_pass, &mut |_, postings| {
            for p in &postings {
                *per_track.entry(p.track).or_default() += 1;
            }
            written += self.write_buckets(&postings)?;
            stored += postings.len();
            Ok(())
        })?;
        self.store.flush()?;
        report.postings = stored;
        report.passes = passes;
        report.buckets_written = written;
        if stop == Step::Written {
            return Ok(report);
        }

        // 4. Flip to compacted, a chunk at a time.
        // Each record's posting count is the derived one (an upgraded
        // store's records counted only the postings of its old version).
        for chunk in ids.chunks(RECORDS_PER_BATCH) {
            self.publish_compacted_counted(chunk, &[], Some(&per_track))?;
        }
        // 5. An older format's store is now this one's: stamp it last, so
        // a kill before here leaves it refused until a rerun completes.
        if self.upgrading {
            // (Its plain-JSON analysis records still read; `--rebuild`
            // repacks them next, and a rerun finishes a killed repack.)
            crate::format::stamp(&*self.store)?;
            report.upgraded = true;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Deletes every key of `tree` in batches, flushed; returns how many.
    fn clear_tree(&self, tree: Tree) -> Result<usize, IndexError> {
        let mut keys = Vec::new();
        for e in self.store.scan(tree) {
            keys.push(e?.0);
        }
        self.remove_keys(tree, &keys)?;
        Ok(keys.len())
    }

    /// Deletes `keys` from `tree`, [`BUCKETS_PER_BATCH`] per batch, then
    /// flushes.
    pub(crate) fn remove_keys(&self, tree: Tree, keys: &[Vec<u8>]) -> Result<(), IndexError> {
        for chunk in keys.chunks(BUCKETS_PER_BATCH) {
            let mut b = Batch::new();
            for k in chunk {
                b.remove(tree, k.clone());
            }
            self.store.commit(b)?;
        }
        self.store.flush()?;
        Ok(())
    }

    /// Writes sorted postings as bucket blocks (encoded on every core),
    /// committed [`BUCKETS_PER_BATCH`] buckets at a time.
    fn write_buckets(&self, postings: &[Posting]) -> Result<usize, IndexError> {
        let mut buckets: Vec<(u32, &[Posting])> = Vec::new();
        let mut i = 0;
        while i < postings.len() {
            let b = bucket_of(postings[i].hash);
            let j = i + postings[i..].partition_point(|p| bucket_of(p.hash) == b);
            buckets.push((b, &postings[i..j]));
            i = j;
        }
        for chunk in buckets.chunks(BUCKETS_PER_BATCH) {
            let per = chunk.len().div_ceil(threads()).max(1);
            let ops: Vec<Op> = std::thread::scope(|scope| {
                let parts: Vec<_> = chunk
                    .chunks(per)
                    .map(|part| scope.spawn(move || part.iter().map(|(b, ps)| block_op(*b, ps)).collect::<Vec<_>>()))
                    .collect();
                parts
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            self.store.commit(Batch { ops })?;
        }
        Ok(buckets.len())
    }

    /// Ids in the `tombstones` tree.
    pub(crate) fn tombstones(&self) -> Result<Vec<TrackId>, IndexError> {
        let mut out = Vec::new();
        for e in self.store.scan(Tree::Tombstones) {
            if let Some(id) = parse_track_key(&e?.0) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// Throws away the vector graphs and the text index under `dir` and builds
/// them again from the store (`MusicIndex::open` refills empty indexes
/// from the `tracks` and `analysis` trees, and saves them). A kill midway
/// leaves folders the next open repairs the same way.
pub fn rebuild_music(
    dir: &Path,
    index: &FingerprintIndex,
    mixer: Mixer,
) -> Result<(MusicIndex, OpenReport), MaintenanceError> {
    for sub in ["vectors", "text"] {
        let p = dir.join(sub);
        match std::fs::remove_dir_all(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(MaintenanceError::Io {
                    path: p.display().to_string(),
                    source,
                })
            }
        }
    }
    let (music, report) = MusicIndex::open(dir, index, mixer)?;
    music.sync()?;
    Ok((music, report))
}

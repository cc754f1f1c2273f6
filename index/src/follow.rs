//! Following a shared store: what keeps a node's in-memory state (the
//! catalog, the fresh tier, the block cache) and its own search indexes in
//! step with records other nodes write.
//!
//! A change names a track; the follower reads the track's record now and
//! makes this process agree with it: a new live track is published (its
//! fresh postings derived from its peaks), a gone one unpublished, a tier
//! flip moves it between tiers and drops cached blocks, and anything else
//! (an analysis, an edited record) is passed to the observer again. So
//! changes may be replayed, skipped or read twice without harm, and a
//! follower that lost its place simply re-reads every record.
//!
//! A background thread follows continuously; every writer also catches up
//! under the writer lease before it reads ([`FingerprintIndex::lock_writer`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sonica_schema::layout::parse_track_key;
use sonica_schema::{Tier, TrackId, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::store::Change;
use crate::IndexError;

/// How long one background read waits for news.
const WAIT: Duration = Duration::from_millis(250);
/// A catch-up's read: what is there now (Redis blocks at least 1 ms).
const NO_WAIT: Duration = Duration::from_millis(1);

impl FingerprintIndex {
    /// Starts following the store's change stream from `cursor` (taken
    /// with [`KvStore::change_cursor`](crate::KvStore::change_cursor)
    /// before this index was opened), on a thread that ends with the index.
    pub fn follow_from(self: &Arc<Self>, cursor: String) -> Result<(), IndexError> {
        if !self.store.is_shared() {
            return Ok(());
        }
        *self.following.lock().unwrap_or_else(|p| p.into_inner()) = Some(cursor);
        self.catch_up()?;
        let weak: Weak<FingerprintIndex> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("sonica-follow".into())
            .spawn(move || follow_loop(weak))
            .map_err(crate::StoreError::Io)?;
        Ok(())
    }

    /// Applies every change already in the stream. Returns the tracks
    /// touched.
    pub fn catch_up(&self) -> Result<usize, IndexError> {
        let mut touched = 0;
        loop {
            let n = self.follow_once(NO_WAIT)?;
            touched += n.0;
            if !n.1 {
                return Ok(touched);
            }
        }
    }

    /// Reads one round of changes (waiting up to `wait` for the first)
    /// and applies them. Returns (tracks touched, whether more may be
    /// waiting).
    fn follow_once(&self, wait: Duration) -> Result<(usize, bool), IndexError> {
        let Some(cursor) = self.following.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return Ok((0, false));
        };
        let Some(got) = self.store.changes(&cursor, wait)? else {
            return Ok((0, false));
        };
        // Apply under the cursor's lock, and only if nobody moved it
        // meanwhile (a writer catching up): else read again.
        let mut at = self.following.lock().unwrap_or_else(|p| p.into_inner());
        if at.as_deref() != Some(cursor.as_str()) {
            return Ok((0, true));
        }
        let more = got.cursor != cursor;
        let touched = if got.lost {
            self.resync()?
        } else {
            self.apply_changes(&got.changes)?
        };
        *at = Some(got.cursor);
        Ok((touched, more))
    }

    /// Makes this process agree with the store on every track named in
    /// `changes`. Returns how many tracks were looked at.
    pub fn apply_changes(&self, changes: &[Change]) -> Result<usize, IndexError> {
        let ids: BTreeSet<TrackId> = changes
            .iter()
            .filter(|c| matches!(c.tree, Tree::Tracks | Tree::Analysis))
            .filter_map(|c| parse_track_key(&c.key))
            .collect();
        for &id in &ids {
            self.apply_track(id)?;
        }
        Ok(ids.len())
    }

    /// Re-reads every record (the stream no longer reaches back to where
    /// this process was).
    pub fn resync(&self) -> Result<usize, IndexError> {
        let mut ids: BTreeSet<TrackId> = self.list()?.into_iter().map(|r| r.id).collect();
        ids.extend(self.catalog().live_ids());
        for &id in &ids {
            self.apply_track(id)?;
        }
        Ok(ids.len())
    }

    fn apply_track(&self, id: TrackId) -> Result<(), IndexError> {
        let record = self.get(id)?;
        let known = self.catalog().tier(id);
        match (record, known) {
            (None, None) => {}
            (None, Some(_)) => self.unpublish_id(id),
            (Some(r), None) => {
                let postings = match r.tier {
                    Tier::Fresh => match self.derive_postings(id) {
                        Ok(p) => p,
                        // Removed again since the record was read.
                        Err(IndexError::UnknownTrack(_)) => return Ok(()),
                        Err(e) => return Err(e),
                    },
                    Tier::Compacted => Vec::new(),
                };
                let analysis = self.analysis(id)?;
                self.publish(&r, &postings, analysis.as_ref());
            }
            (Some(r), Some(tier)) if tier != r.tier => {
                match r.tier {
                    Tier::Compacted => {
                        // Blocks cached before the compaction lack it.
                        self.blocks.invalidate();
                        self.catalog
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .set_tier(id, Tier::Compacted);
                        self.fresh
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove_tracks(&[id]);
                    }
                    Tier::Fresh => {
                        let postings = self.derive_postings(id)?;
                        self.fresh.write().unwrap_or_else(|p| p.into_inner()).add(&postings);
                        self.catalog
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .set_tier(id, Tier::Fresh);
                    }
                }
            }
            (Some(r), Some(_)) => {
                if let Some(o) = self.observer() {
                    o.track_added(&r, self.analysis(id)?.as_ref());
                }
            }
        }
        Ok(())
    }
}

fn follow_loop(weak: Weak<FingerprintIndex>) {
    let mut failing = false;
    loop {
        let Some(index) = weak.upgrade() else { return };
        match index.follow_once(WAIT) {
            Ok(_) => failing = false,
            Err(e) => {
                if !failing {
                    eprintln!("sonica: following the cluster's changes failed (retrying): {e}");
                }
                failing = true;
                drop(index);
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

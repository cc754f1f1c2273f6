//! The bucket half of `--verify`: every compacted track's postings, derived
//! from its peaks, must be in its buckets, and the buckets must hold no
//! postings of tracks that are neither live nor tombstoned. Postings are
//! derived a bucket range at a time (see `passes`) and each stored block is
//! read and decoded once.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use sonica_schema::layout::{bucket_of, parse_track_key};
use sonica_schema::{postings, Posting, Tier, TrackId, TrackRecord, Tree};

use super::report::{some_ids, Checker, Problem};
use crate::fingerprints::FingerprintIndex;
use crate::IndexError;

/// How a posting's track counts when a bucket is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not live and no tombstone: its postings should not be there.
    Unknown,
    /// Live, compacted, with readable peaks: its postings are compared.
    Compared,
    /// Live but fresh (a killed compaction's leftovers are harmless), or
    /// with peaks already reported: not compared.
    Skipped,
    /// Deleted, awaiting purge.
    Tombstoned,
}

/// Compares every bucket with the postings derived from the peaks of the
/// compacted tracks, one bucket range at a time.
pub(super) fn check_buckets(
    c: &mut Checker,
    index: &FingerprintIndex,
    tracks: &BTreeMap<TrackId, TrackRecord>,
    readable: &BTreeSet<TrackId>,
    budget: usize,
) -> Result<(), IndexError> {
    let tombstones: HashSet<TrackId> = index.tombstones()?.into_iter().collect();
    // One entry per id up to the largest known: looked up per posting.
    let top = tracks
        .keys()
        .chain(tombstones.iter())
        .max()
        .map_or(0, |&m| m as usize + 1);
    let mut seen = vec![Seen::Unknown; top];
    for &id in &tombstones {
        seen[id as usize] = Seen::Tombstoned;
    }
    let mut compacted = Vec::new();
    for r in tracks.values() {
        seen[r.id as usize] = if r.tier == Tier::Compacted && readable.contains(&r.id) {
            compacted.push(r.id);
            Seen::Compared
        } else {
            Seen::Skipped
        };
    }
    let mut stored = Vec::new();
    for e in index.store().scan(Tree::Buckets) {
        let (k, _) = e?;
        match parse_track_key(&k) {
            Some(b) => stored.push(b),
            None => c.note(Problem::UnreadableBucket, || format!("bucket key {k:?} is malformed")),
        }
    }
    c.report.buckets = stored.len();
    let status = |t: TrackId| seen.get(t as usize).copied().unwrap_or(Seen::Unknown);
    index.derive_by_bucket_range(&compacted, budget, &mut |range, expected| {
        let lo = stored.partition_point(|b| b < range.start());
        let hi = stored.partition_point(|b| b <= range.end());
        let mut on_disk = stored[lo..hi].iter().copied().peekable();
        let mut at = 0;
        loop {
            // The next bucket either side holds, in order.
            let want_b = expected.get(at).map(|p| bucket_of(p.hash));
            let b = match (want_b, on_disk.peek().copied()) {
                (None, None) => break,
                (Some(w), Some(d)) => w.min(d),
                (Some(w), None) => w,
                (None, Some(d)) => d,
            };
            if on_disk.peek() == Some(&b) {
                on_disk.next();
            }
            let n = expected[at..].partition_point(|p| bucket_of(p.hash) == b);
            let want = &expected[at..at + n];
            at += n;
            let Some(bytes) = index.store().get(Tree::Buckets, &b.to_be_bytes())? else {
                let ids: BTreeSet<TrackId> = want.iter().map(|p| p.track).collect();
                c.note(Problem::MissingPostings, || {
                    format!(
                        "bucket {b} is missing: {n} postings of tracks {} expected",
                        some_ids(&ids)
                    )
                });
                continue;
            };
            let actual = match postings::decode(&bytes) {
                Ok(a) => a,
                Err(e) => {
                    c.note(Problem::UnreadableBucket, || format!("bucket {b} is unreadable: {e}"));
                    continue;
                }
            };
            c.report.postings_checked += actual.len();
            compare_bucket(c, b, want, &actual, &status);
        }
        Ok(())
    })?;
    Ok(())
}

/// One bucket's stored postings against the expected ones (both sorted).
fn compare_bucket(c: &mut Checker, b: u32, want: &[Posting], actual: &[Posting], status: &dyn Fn(TrackId) -> Seen) {
    let mut orphans = BTreeSet::new();
    let mut compared: Vec<Posting> = Vec::with_capacity(actual.len());
    for p in actual {
        match status(p.track) {
            Seen::Compared => compared.push(*p),
            Seen::Skipped | Seen::Tombstoned => {}
            Seen::Unknown => {
                orphans.insert(p.track);
            }
        }
    }
    let (mut missing, mut extra) = (BTreeSet::new(), BTreeSet::new());
    let (mut n_missing, mut n_extra) = (0, 0);
    let (mut i, mut j) = (0, 0);
    while i < want.len() || j < compared.len() {
        match (want.get(i), compared.get(j)) {
            (Some(w), Some(a)) if w == a => {
                i += 1;
                j += 1;
            }
            (Some(w), a) if a.is_none_or(|a| w < a) => {
                missing.insert(w.track);
                n_missing += 1;
                i += 1;
            }
            (_, Some(a)) => {
                extra.insert(a.track);
                n_extra += 1;
                j += 1;
            }
            (_, None) => break,
        }
    }
    if n_missing > 0 {
        c.note(Problem::MissingPostings, || {
            format!("bucket {b} lacks {n_missing} postings of tracks {}", some_ids(&missing))
        });
    }
    if n_extra > 0 {
        c.note(Problem::UnexpectedPostings, || {
            format!(
                "bucket {b} holds {n_extra} postings of tracks {} that their peaks do not give",
                some_ids(&extra)
            )
        });
    }
    if !orphans.is_empty() {
        c.note(Problem::OrphanPostings, || {
            format!(
                "bucket {b} holds postings of unknown tracks {} with no tombstone",
                some_ids(&orphans)
            )
        });
    }
}

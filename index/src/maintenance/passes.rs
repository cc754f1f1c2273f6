//! Every posting of many tracks, derived from their canonical peaks and
//! handed out sorted, one bucket range at a time.
//!
//! A rebuild writes every bucket once and a verification compares every
//! bucket once, so both want all postings grouped by bucket. Postings are
//! 12 bytes and a large library has tens of millions, so at most a budget
//! of them is held at once: when the whole library fits (the records say
//! how many postings each track has) one pass derives, counts and keeps
//! them all; otherwise a first pass only counts postings per bucket, the
//! bucket space is cut into ranges within the budget, and each range
//! derives again only its own postings. Deriving runs on every core into
//! one buffer of the exact size, which is then sorted in place (grouped by
//! bucket, then each bucket sorted on its own, in parallel): no second
//! copy of the postings is ever made.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use sonica_schema::layout::bucket_of;
use sonica_schema::{Posting, TrackId};

use crate::fingerprints::FingerprintIndex;
use crate::IndexError;

/// Worker threads for derivation and sorting: every core.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Runs `work(id, &mut local)` for every id on all cores and returns each
/// thread's local state. The first error stops the run.
pub(crate) fn par_each<T: Send>(
    ids: &[TrackId],
    init: impl Fn() -> T + Sync,
    work: impl Fn(TrackId, &mut T) -> Result<(), IndexError> + Sync,
) -> Result<Vec<T>, IndexError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let n = threads().min(ids.len()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| -> Result<T, IndexError> {
                    let mut local = init();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&id) = ids.get(i) else { break };
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Err(e) = work(id, &mut local) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                    Ok(local)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Postings per bucket: a dense array below [`DENSE_BUCKETS`] (the index's
/// 23-bit hashes make 32 768 buckets), a map above. Counting tens of
/// millions of postings through a map was most of a pass.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    dense: Vec<usize>,
    sparse: BTreeMap<u32, usize>,
}

/// Buckets counted in the dense array.
const DENSE_BUCKETS: u32 = 1 << 20;

impl Tally {
    #[inline]
    pub fn add(&mut self, bucket: u32, n: usize) {
        if bucket < DENSE_BUCKETS {
            let i = bucket as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, 0);
            }
            self.dense[i] += n;
        } else {
            *self.sparse.entry(bucket).or_default() += n;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        for (b, n) in other.iter() {
            self.add(b, n);
        }
    }

    /// Non-empty buckets with their counts, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(b, &n)| (b as u32, n))
            .chain(self.sparse.iter().map(|(&b, &n)| (b, n)))
    }

    pub fn total(&self) -> usize {
        self.iter().map(|(_, n)| n).sum()
    }
}

/// Cuts the bucket space into consecutive ranges of at most `budget`
/// postings (a bucket larger than the budget is a range of its own). The
/// ranges cover every bucket from 0 to `u32::MAX`.
pub(crate) fn plan_ranges(counts: impl IntoIterator<Item = (u32, usize)>, budget: usize) -> Vec<RangeInclusive<u32>> {
    let budget = budget.max(1);
    let mut ranges = Vec::new();
    let mut start = 0u32;
    let mut acc = 0usize;
    let mut last = None;
    for (bucket, n) in counts {
        if acc > 0 && acc + n > budget {
            if let Some(prev) = last {
                ranges.push(start..=prev);
                start = prev + 1;
            }
            acc = 0;
        }
        acc += n;
        last = Some(bucket);
    }
    ranges.push(start..=u32::MAX);
    ranges
}

/// Sorts the postings of one range by (hash, track, time), in place, and
/// drops repeats. `tally` counts exactly the postings of `v`.
pub(crate) fn arrange(mut v: Vec<Posting>, tally: &Tally) -> Vec<Posting> {
    debug_assert_eq!(v.len(), tally.total());
    // Group by bucket (American flag sort): each swap puts one posting in
    // its bucket's region for good.
    let mut cursor = Cursor::new(tally);
    let mut bounds = Vec::new();
    let mut end = 0;
    for (b, n) in tally.iter() {
        end += n;
        bounds.push(end);
        loop {
            let i = *cursor.slot(b);
            if i >= end {
                break;
            }
            let home = bucket_of(v[i].hash);
            if home == b {
                *cursor.slot(b) += 1;
            } else {
                let j = cursor.next(home);
                v.swap(i, j);
            }
        }
    }
    // Then each bucket sorted, the buckets split into one group per thread.
    let total = v.len();
    let per = total.div_ceil(threads()).max(1);
    let mut cuts = vec![0];
    for &b in &bounds {
        let last = cuts[cuts.len() - 1];
        if b > last && (b - last >= per || b == total) {
            cuts.push(b);
        }
    }
    let bounds = &bounds;
    let mut rest: &mut [Posting] = &mut v;
    std::thread::scope(|scope| {
        for w in cuts.windows(2) {
            let (group, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
            rest = tail;
            let base = w[0];
            scope.spawn(move || {
                let end = base + group.len();
                let mut lo = base;
                for &b in bounds.iter().filter(|&&b| b > base && b <= end) {
                    group[lo - base..b - base].sort_unstable();
                    lo = b;
                }
            });
        }
    });
    // Buckets ascend, so the whole range is sorted now. A track can pair
    // two peaks into the same (hash, time) twice; store it once.
    v.dedup();
    v
}

/// The next unplaced slot of each bucket's region while grouping.
struct Cursor {
    dense: Vec<usize>,
    sparse: HashMap<u32, usize>,
}

impl Cursor {
    fn new(tally: &Tally) -> Cursor {
        let mut c = Cursor {
            dense: vec![0; tally.dense.len()],
            sparse: HashMap::new(),
        };
        let mut at = 0;
        for (b, n) in tally.iter() {
            *c.slot(b) = at;
            at += n;
        }
        c
    }

    #[inline]
    fn slot(&mut self, bucket: u32) -> &mut usize {
        if bucket < DENSE_BUCKETS {
            &mut self.dense[bucket as usize]
        } else {
            self.sparse.entry(bucket).or_default()
        }
    }

    /// The slot for the next posting of `bucket` (which was counted).
    #[inline]
    fn next(&mut self, bucket: u32) -> usize {
        let slot = self.slot(bucket);
        *slot += 1;
        *slot - 1
    }
}

impl FingerprintIndex {
    /// A track's postings as its peaks give them, unsorted and possibly
    /// with repeats: [`arrange`] sorts and deduplicates whole buckets
    /// anyway, so sorting each track first would be wasted work.
    fn raw_postings(&self, id: TrackId) -> Result<Vec<Posting>, IndexError> {
        let peaks = self.peaks(id)?;
        Ok((self.hasher)(&peaks)
            .into_iter()
            .map(|(hash, time)| Posting { hash, track: id, time })
            .collect())
    }

    /// Derives the postings of `ids` and calls `f(range, postings)` for
    /// consecutive bucket ranges covering every bucket, each with the
    /// range's postings sorted, holding about `budget` postings at a time.
    /// Every id must have readable peaks. Returns how many ranges there were
    /// (1 when everything fitted in the budget and was derived once).
    pub(crate) fn derive_by_bucket_range(
        &self,
        ids: &[TrackId],
        budget: usize,
        f: &mut dyn FnMut(RangeInclusive<u32>, Vec<Posting>) -> Result<(), IndexError>,
    ) -> Result<usize, IndexError> {
        let mut expected = 0usize;
        for &id in ids {
            expected += self.get(id)?.map_or(0, |r| r.hashes as usize);
        }
        let keep = expected <= budget;
        // Pass 0: count per bucket, keeping the postings when they fit.
        let (kept, counts, _) = self.derive_into(ids, if keep { expected } else { 0 }, |_| keep)?;
        if keep {
            f(0..=u32::MAX, arrange(kept, &counts))?;
            return Ok(1);
        }
        let ranges = plan_ranges(counts.iter(), budget);
        for range in ranges.iter().cloned() {
            let size: usize = counts.iter().filter(|(b, _)| range.contains(b)).map(|(_, n)| n).sum();
            let (postings, _, tally) = self.derive_into(ids, size, |b| range.contains(&b))?;
            f(range, arrange(postings, &tally))?;
        }
        Ok(ranges.len())
    }

    /// Derives every posting of `ids` on all cores and keeps those whose
    /// bucket `keep` accepts, in one buffer reserved for `size` postings.
    /// Returns them with the per-bucket counts of all postings and of those
    /// kept.
    fn derive_into(
        &self,
        ids: &[TrackId],
        size: usize,
        keep: impl Fn(u32) -> bool + Sync,
    ) -> Result<(Vec<Posting>, Tally, Tally), IndexError> {
        let out = Mutex::new(Vec::with_capacity(size));
        let tallies = par_each(ids, Tally::default, |id, tally| {
            let mut ps = self.raw_postings(id)?;
            for p in &ps {
                tally.add(bucket_of(p.hash), 1);
            }
            ps.retain(|p| keep(bucket_of(p.hash)));
            out.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&ps);
            Ok(())
        })?;
        let out = out.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut counts = Tally::default();
        for t in &tallies {
            counts.merge(t);
        }
        let mut kept = Tally::default();
        for (b, n) in counts.iter().filter(|&(b, _)| keep(b)) {
            kept.add(b, n);
        }
        Ok((out, counts, kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(hash: u32, track: u32, time: u32) -> Posting {
        Posting { hash, track, time }
    }

    #[test]
    fn ranges_cover_everything_within_the_budget() {
        let mut counts = Tally::default();
        for (b, n) in [(3, 4), (5, 4), (9, 3), (12, 10), (20, 1)] {
            counts.add(b, n);
        }
        let r = plan_ranges(counts.iter(), 8);
        assert_eq!(r, vec![0..=5, 6..=9, 10..=12, 13..=u32::MAX]);
        assert_eq!(plan_ranges(Tally::default().iter(), 8), vec![0..=u32::MAX]);
        assert_eq!(plan_ranges(counts.iter(), 1000), vec![0..=u32::MAX]);
    }

    #[test]
    fn arrange_sorts_across_chunks_and_buckets() {
        let mut all = Vec::new();
        let mut x = 12345u32;
        for t in 0..40 {
            for i in 0..300 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                all.push(p(x % 50_000, t, i));
            }
        }
        all.push(all[7]); // a repeat, stored once
                          // Far buckets too, counted in the map.
        all.push(p(u32::MAX - 3, 1, 1));
        all.push(p(DENSE_BUCKETS << 8, 2, 2));
        let mut tally = Tally::default();
        for q in &all {
            tally.add(bucket_of(q.hash), 1);
        }
        let got = arrange(all.clone(), &tally);
        let mut want = all;
        want.sort_unstable();
        want.dedup();
        assert_eq!(got.len(), 40 * 300 + 2);
        assert_eq!(got, want);
        assert!(arrange(Vec::new(), &Tally::default()).is_empty());
    }
}

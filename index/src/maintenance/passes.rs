//! Every posting of many tracks, derived from their canonical peaks and
//! handed out sorted, one bucket range at a time.
//!
//! A rebuild writes every bucket once and a verification compares every
//! bucket once, so both want all postings grouped by bucket. A large library
//! holds tens of millions of postings (12 bytes each), more than a
//! maintenance tool should hold at once, so the bucket space is cut into
//! ranges of at most a budget of postings: a first pass counts postings per
//! bucket (and keeps them when they all fit, the common case), and each
//! range then derives again only the postings that fall in it. Deriving is
//! cheap (peaks are small and pairing is fast) next to sorting and encoding,
//! and runs on every core.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// Sorts postings of one range by (hash, track, time) and drops repeats:
/// scattered by bucket first, then each bucket sorted on its own, in
/// parallel.
/// `tally` counts exactly the postings of `chunks`.
pub(crate) fn arrange(chunks: Vec<Vec<Posting>>, tally: &Tally) -> Vec<Posting> {
    let total: usize = chunks.iter().map(Vec::len).sum();
    debug_assert_eq!(total, tally.total());
    let mut cursor = Cursor::new(tally);
    let mut bounds: Vec<usize> = Vec::new();
    let mut at = 0;
    for (_, n) in tally.iter() {
        bounds.push(at);
        at += n;
    }
    bounds.push(total);
    let mut out = vec![Posting { hash: 0, track: 0, time: 0 }; total];
    for chunk in chunks {
        for p in chunk {
            let i = cursor.next(bucket_of(p.hash));
            out[i] = p;
        }
    }
    // Buckets split into one group per thread, by postings.
    let per = total.div_ceil(threads()).max(1);
    let mut cuts = vec![0];
    for &b in &bounds[1..] {
        let last = cuts[cuts.len() - 1];
        if b > last && (b - last >= per || b == total) {
            cuts.push(b);
        }
    }
    let bounds = &bounds;
    let mut rest: &mut [Posting] = &mut out;
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
    out.dedup();
    out
}

/// Where the next posting of each bucket goes while scattering.
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

    /// The index for the next posting of `bucket` (which was counted).
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
        // Pass 0: count per bucket, keeping the postings while they fit.
        let kept_total = AtomicUsize::new(0);
        let overflow = AtomicBool::new(false);
        let locals = par_each(
            ids,
            || (Tally::default(), Some(Vec::<Posting>::new())),
            |id, (tally, kept)| {
                let ps = self.raw_postings(id)?;
                for p in &ps {
                    tally.add(bucket_of(p.hash), 1);
                }
                if kept.is_some() && !overflow.load(Ordering::Relaxed) {
                    if kept_total.fetch_add(ps.len(), Ordering::Relaxed) + ps.len() <= budget {
                        if let Some(k) = kept.as_mut() {
                            k.extend_from_slice(&ps);
                        }
                    } else {
                        overflow.store(true, Ordering::Relaxed);
                    }
                }
                if overflow.load(Ordering::Relaxed) {
                    *kept = None;
                }
                Ok(())
            },
        )?;
        let mut counts = Tally::default();
        let mut kept = Vec::new();
        for (t, k) in locals {
            counts.merge(&t);
            kept.push(k);
        }
        if !overflow.load(Ordering::Relaxed) {
            let chunks: Vec<Vec<Posting>> = kept.into_iter().flatten().collect();
            f(0..=u32::MAX, arrange(chunks, &counts))?;
            return Ok(1);
        }
        drop(kept);
        let ranges = plan_ranges(counts.iter(), budget);
        for range in ranges.iter().cloned() {
            let locals = par_each(
                ids,
                || (Vec::new(), Tally::default()),
                |id, (out, tally): &mut (Vec<Posting>, Tally)| {
                    for p in self.raw_postings(id)? {
                        let b = bucket_of(p.hash);
                        if range.contains(&b) {
                            tally.add(b, 1);
                            out.push(p);
                        }
                    }
                    Ok(())
                },
            )?;
            let mut tally = Tally::default();
            let mut chunks = Vec::with_capacity(locals.len());
            for (c, t) in locals {
                tally.merge(&t);
                chunks.push(c);
            }
            f(range, arrange(chunks, &tally))?;
        }
        Ok(ranges.len())
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
        let chunks = vec![all[..5000].to_vec(), all[5000..].to_vec(), Vec::new()];
        let mut tally = Tally::default();
        for q in &all {
            tally.add(bucket_of(q.hash), 1);
        }
        let got = arrange(chunks, &tally);
        let mut want = all;
        want.sort_unstable();
        want.dedup();
        assert_eq!(got.len(), 40 * 300 + 2);
        assert_eq!(got, want);
        assert!(arrange(vec![Vec::new()], &Tally::default()).is_empty());
    }
}

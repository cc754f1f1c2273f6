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

/// What a run over the ranges saw.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PassStats {
    pub postings: usize,
    /// Ranges handed out (derivation passes after the counting one).
    pub ranges: usize,
}

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

/// Cuts the bucket space into consecutive ranges of at most `budget`
/// postings (a bucket larger than the budget is a range of its own). The
/// ranges cover every bucket from 0 to `u32::MAX`.
pub(crate) fn plan_ranges(counts: &BTreeMap<u32, usize>, budget: usize) -> Vec<RangeInclusive<u32>> {
    let budget = budget.max(1);
    let mut ranges = Vec::new();
    let mut start = 0u32;
    let mut acc = 0usize;
    let mut last = None;
    for (&bucket, &n) in counts {
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

/// Sorts postings of one range by (hash, track, time): scattered by bucket
/// first, then each bucket sorted on its own, in parallel. Postings of
/// different tracks never collide and each track's are distinct, so there
/// is nothing to deduplicate.
pub(crate) fn arrange(chunks: Vec<Vec<Posting>>) -> Vec<Posting> {
    let total: usize = chunks.iter().map(Vec::len).sum();
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for p in chunks.iter().flatten() {
        *counts.entry(bucket_of(p.hash)).or_default() += 1;
    }
    let mut start: HashMap<u32, usize> = HashMap::with_capacity(counts.len());
    let mut bounds = Vec::with_capacity(counts.len() + 1);
    let mut at = 0;
    for (&b, &n) in &counts {
        start.insert(b, at);
        bounds.push(at);
        at += n;
    }
    bounds.push(total);
    let mut out = vec![
        Posting {
            hash: 0,
            track: 0,
            time: 0
        };
        total
    ];
    for p in chunks.into_iter().flatten() {
        if let Some(i) = start.get_mut(&bucket_of(p.hash)) {
            out[*i] = p;
            *i += 1;
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
    out
}

impl FingerprintIndex {
    /// Derives the postings of `ids` and calls `f(range, postings)` for
    /// consecutive bucket ranges covering every bucket, each with the
    /// range's postings sorted, holding about `budget` postings at a time.
    /// Every id must have readable peaks.
    pub(crate) fn derive_by_bucket_range(
        &self,
        ids: &[TrackId],
        budget: usize,
        f: &mut dyn FnMut(RangeInclusive<u32>, Vec<Posting>) -> Result<(), IndexError>,
    ) -> Result<PassStats, IndexError> {
        // Pass 0: count per bucket, keeping the postings while they fit.
        let kept_total = AtomicUsize::new(0);
        let overflow = AtomicBool::new(false);
        let locals = par_each(
            ids,
            || (HashMap::<u32, usize>::new(), Some(Vec::<Posting>::new())),
            |id, (counts, kept)| {
                let ps = self.derive_postings(id)?;
                for p in &ps {
                    *counts.entry(bucket_of(p.hash)).or_default() += 1;
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
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        let mut kept = Vec::new();
        for (c, k) in locals {
            for (b, n) in c {
                *counts.entry(b).or_default() += n;
            }
            kept.push(k);
        }
        let postings = counts.values().sum();
        let mut stats = PassStats { postings, ranges: 0 };
        if !overflow.load(Ordering::Relaxed) {
            let chunks: Vec<Vec<Posting>> = kept.into_iter().flatten().collect();
            stats.ranges = 1;
            f(0..=u32::MAX, arrange(chunks))?;
            return Ok(stats);
        }
        drop(kept);
        for range in plan_ranges(&counts, budget) {
            let chunks = par_each(ids, Vec::new, |id, out: &mut Vec<Posting>| {
                out.extend(
                    self.derive_postings(id)?
                        .into_iter()
                        .filter(|p| range.contains(&bucket_of(p.hash))),
                );
                Ok(())
            })?;
            stats.ranges += 1;
            f(range, arrange(chunks))?;
        }
        Ok(stats)
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
        let counts: BTreeMap<u32, usize> = [(3, 4), (5, 4), (9, 3), (12, 10), (20, 1)].into_iter().collect();
        let r = plan_ranges(&counts, 8);
        assert_eq!(r, vec![0..=5, 6..=9, 10..=12, 13..=u32::MAX]);
        assert_eq!(plan_ranges(&BTreeMap::new(), 8), vec![0..=u32::MAX]);
        assert_eq!(plan_ranges(&counts, 1000), vec![0..=u32::MAX]);
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
        let chunks = vec![all[..5000].to_vec(), all[5000..].to_vec(), Vec::new()];
        let got = arrange(chunks);
        let mut want = all;
        want.sort_unstable();
        assert_eq!(got, want);
        assert!(arrange(vec![Vec::new()]).is_empty());
    }
}

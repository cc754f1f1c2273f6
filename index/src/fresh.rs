//! The fresh tier in memory: postings of recently added tracks, kept for
//! lookup until compaction moves them into bucket blocks.
//!
//! On disk a fresh track is just its record and canonical peaks, written in
//! one atomic batch: adding a track is one small write, with no
//! read-modify-write of shared buckets. That is what makes the tier
//! write-friendly; compaction pays the merge cost later, in bulk. The
//! postings here are rebuilt from those peaks when the index opens.
//!
//! Memory is what this layout is for (issue 16): a hash map of vectors
//! cost about 80 bytes a posting, so the 4 M postings an ingest may gather
//! before compacting took 300 MB. Here each track's postings are a sorted
//! *run* of two parallel arrays (hashes; track and frame), 12 bytes a
//! posting. Runs are merged in a binary-counter pattern (a new run merges
//! with the last while that one is no more than twice as large), so there
//! are O(log n) runs and each posting is copied O(log n) times; runs past
//! [`MAX_MERGED_RUN`] postings are left alone, which bounds the extra
//! memory a merge needs. A lookup binary-searches every run.

use std::collections::HashSet;

use sonica_schema::{Posting, TrackId};

/// Runs at least this long are not merged further: a merge then copies at
/// most 2 × 12 MB, and a full 4 M-posting tier has a handful of such runs.
pub const MAX_MERGED_RUN: usize = 1 << 20;

/// Postings sorted by (hash, track, time), split into two arrays so a
/// hash's entries are one slice.
#[derive(Debug, Default)]
struct Run {
    hashes: Vec<u32>,
    entries: Vec<(TrackId, u32)>,
}

impl Run {
    fn from_sorted(postings: &[Posting]) -> Run {
        Run {
            hashes: postings.iter().map(|p| p.hash).collect(),
            entries: postings.iter().map(|p| (p.track, p.time)).collect(),
        }
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }

    fn get(&self, hash: u32) -> &[(TrackId, u32)] {
        let lo = self.hashes.partition_point(|&h| h < hash);
        let hi = lo + self.hashes[lo..].partition_point(|&h| h == hash);
        &self.entries[lo..hi]
    }

    /// The two runs as one sorted run.
    fn merge(a: Run, b: Run) -> Run {
        let n = a.len() + b.len();
        let mut out = Run {
            hashes: Vec::with_capacity(n),
            entries: Vec::with_capacity(n),
        };
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let take_a = j == b.len() || (i < a.len() && (a.hashes[i], a.entries[i]) <= (b.hashes[j], b.entries[j]));
            let (h, e) = if take_a {
                i += 1;
                (a.hashes[i - 1], a.entries[i - 1])
            } else {
                j += 1;
                (b.hashes[j - 1], b.entries[j - 1])
            };
            out.hashes.push(h);
            out.entries.push(e);
        }
        out
    }

    /// Drops the postings of `ids`; returns how many went.
    fn remove(&mut self, ids: &HashSet<TrackId>) -> usize {
        let before = self.len();
        let mut k = 0;
        for i in 0..before {
            if !ids.contains(&self.entries[i].0) {
                self.hashes[k] = self.hashes[i];
                self.entries[k] = self.entries[i];
                k += 1;
            }
        }
        self.hashes.truncate(k);
        self.entries.truncate(k);
        self.hashes.shrink_to_fit();
        self.entries.shrink_to_fit();
        before - k
    }
}

#[derive(Debug, Default)]
pub struct FreshTier {
    /// Largest first, by the merge pattern.
    runs: Vec<Run>,
    postings: usize,
}

impl FreshTier {
    /// Adds postings (of one track, or several), in any order.
    pub fn add(&mut self, postings: &[Posting]) {
        if postings.is_empty() {
            return;
        }
        let mut run = if postings.windows(2).all(|w| w[0] <= w[1]) {
            Run::from_sorted(postings)
        } else {
            let mut sorted = postings.to_vec();
            sorted.sort_unstable();
            Run::from_sorted(&sorted)
        };
        self.postings += run.len();
        while let Some(last) = self.runs.last() {
            if last.len() > 2 * run.len() || last.len() >= MAX_MERGED_RUN {
                break;
            }
            let last = self.runs.pop().expect("checked above");
            run = Run::merge(last, run);
        }
        self.runs.push(run);
    }

    /// Drops every posting of the given tracks.
    pub fn remove_tracks(&mut self, ids: &[TrackId]) {
        if ids.is_empty() {
            return;
        }
        let ids: HashSet<TrackId> = ids.iter().copied().collect();
        for r in &mut self.runs {
            self.postings -= r.remove(&ids);
        }
        self.runs.retain(|r| r.len() > 0);
    }

    /// The (track, frame) entries of `hash`, run by run.
    pub fn get(&self, hash: u32) -> impl Iterator<Item = &(TrackId, u32)> + '_ {
        self.runs.iter().flat_map(move |r| r.get(hash))
    }

    /// Postings held in memory.
    pub fn len(&self) -> usize {
        self.postings
    }

    pub fn is_empty(&self) -> bool {
        self.postings == 0
    }

    /// Bytes the postings take (12 a posting, plus unused capacity).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.runs
            .iter()
            .map(|r| r.hashes.capacity() * 4 + r.entries.capacity() * 8)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(hash: u32, track: TrackId, time: u32) -> Posting {
        Posting { hash, track, time }
    }

    fn entries(f: &FreshTier, hash: u32) -> Vec<(TrackId, u32)> {
        let mut v: Vec<_> = f.get(hash).copied().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn add_get_remove() {
        let mut f = FreshTier::default();
        f.add(&[p(5, 1, 10), p(5, 2, 3), p(6, 2, 4)]);
        assert_eq!(entries(&f, 5).len(), 2);
        assert_eq!(f.len(), 3);
        f.remove_tracks(&[2]);
        assert_eq!(entries(&f, 5), vec![(1, 10)]);
        assert!(entries(&f, 6).is_empty());
        assert_eq!(f.len(), 1);
    }

    /// Many tracks added one by one answer exactly as one map would, stay
    /// in few runs, and take 12 bytes a posting.
    #[test]
    fn runs_agree_with_a_map_and_stay_few() {
        let mut f = FreshTier::default();
        let mut all: std::collections::HashMap<u32, Vec<(TrackId, u32)>> = Default::default();
        let mut x = 0x1234_5678u32;
        for track in 1..=300u32 {
            let mut ps = Vec::new();
            for t in 0..(50 + track % 97) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                ps.push(p(x % 5000, track, t));
            }
            for q in &ps {
                all.entry(q.hash).or_default().push((q.track, q.time));
            }
            f.add(&ps); // unsorted on purpose
        }
        assert!(f.runs.len() <= 12, "{} runs", f.runs.len());
        for h in 0..5000 {
            let mut want = all.get(&h).cloned().unwrap_or_default();
            want.sort_unstable();
            assert_eq!(entries(&f, h), want, "hash {h}");
        }
        assert_eq!(f.len(), all.values().map(Vec::len).sum::<usize>());
        assert!(f.heap_bytes() <= f.len() * 12 * 2, "{} bytes", f.heap_bytes());
        let gone: Vec<TrackId> = (1..=300).filter(|t| t % 3 == 0).collect();
        f.remove_tracks(&gone);
        for h in 0..5000 {
            let mut want: Vec<_> = all
                .get(&h)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|(t, _)| t % 3 != 0)
                .collect();
            want.sort_unstable();
            assert_eq!(entries(&f, h), want, "hash {h} after removal");
        }
        f.remove_tracks(&(1..=300).collect::<Vec<_>>());
        assert!(f.is_empty());
        assert!(f.runs.is_empty());
    }
}

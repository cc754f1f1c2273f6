//! The fresh tier in memory: postings of recently added tracks, kept as a
//! hash map for lookup until compaction moves them into bucket blocks.
//!
//! On disk a fresh track is just its record and canonical peaks, written in
//! one atomic batch: adding a track is one small write, with no
//! read-modify-write of shared buckets. That is what makes the tier
//! write-friendly; compaction pays the merge cost later, in bulk. The map
//! here is rebuilt from those peaks when the index opens.

use std::collections::HashMap;

use sonica_schema::{Posting, TrackId};

#[derive(Debug, Default)]
pub struct FreshTier {
    by_hash: HashMap<u32, Vec<(TrackId, u32)>>,
    postings: usize,
}

impl FreshTier {
    pub fn add(&mut self, postings: &[Posting]) {
        for p in postings {
            self.by_hash.entry(p.hash).or_default().push((p.track, p.time));
        }
        self.postings += postings.len();
    }

    /// Drops every posting of the given tracks.
    pub fn remove_tracks(&mut self, ids: &[TrackId]) {
        if ids.is_empty() {
            return;
        }
        let ids: std::collections::HashSet<TrackId> = ids.iter().copied().collect();
        let mut removed = 0;
        self.by_hash.retain(|_, v| {
            let before = v.len();
            v.retain(|(t, _)| !ids.contains(t));
            removed += before - v.len();
            !v.is_empty()
        });
        self.postings -= removed;
    }

    pub fn get(&self, hash: u32) -> &[(TrackId, u32)] {
        self.by_hash.get(&hash).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Postings held in memory.
    pub fn len(&self) -> usize {
        self.postings
    }

    pub fn is_empty(&self) -> bool {
        self.postings == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_get_remove() {
        let mut f = FreshTier::default();
        f.add(&[
            Posting {
                hash: 5,
                track: 1,
                time: 10,
            },
            Posting {
                hash: 5,
                track: 2,
                time: 3,
            },
            Posting {
                hash: 6,
                track: 2,
                time: 4,
            },
        ]);
        assert_eq!(f.get(5).len(), 2);
        assert_eq!(f.len(), 3);
        f.remove_tracks(&[2]);
        assert_eq!(f.get(5), &[(1, 10)]);
        assert!(f.get(6).is_empty());
        assert_eq!(f.len(), 1);
    }
}

//! Voting on (track, time offset): the decision rule of constellation
//! matching.
//!
//! A clip that really comes from a track hits many of that track's hashes at
//! one consistent offset (reference time minus query time); chance hits
//! scatter over offsets. Votes are therefore counted per track in a window
//! of `±tolerance` frames, and the best window per track is its candidate.

use sonica_schema::TrackId;

/// A query hash with its time already mapped onto the reference time axis
/// (the caller scales it when testing a speed hypothesis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryHash {
    pub hash: u32,
    pub time: f32,
}

/// A track's best-supported alignment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub track: TrackId,
    /// Reference frame that query time 0 aligns with.
    pub offset: i64,
    /// Distinct hashes hit inside the winning offset window. A landmark
    /// pair that recurs (a repeated bar) counts once, so a repetitive figure
    /// shared by two different pieces cannot pile up votes.
    pub count: u32,
    /// Query-time span (reference frames) covered by the winning hits.
    pub first: f32,
    pub last: f32,
    /// All of this track's hits, at any offset: the chance background the
    /// winning window stands out from.
    pub total: u32,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    track: TrackId,
    offset: i64,
    qtime: f32,
    hash: u32,
}

/// Accumulates hits from lookups and ranks candidates.
#[derive(Debug, Default)]
pub struct Votes {
    hits: Vec<Hit>,
}

impl Votes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.hits.clear();
    }

    /// Records that query hash `hash` at `qtime` found `track` at `ref_time`.
    #[inline]
    pub fn hit(&mut self, hash: u32, track: TrackId, ref_time: u32, qtime: f32) {
        let offset = (f64::from(ref_time) - f64::from(qtime)).round() as i64;
        self.hits.push(Hit {
            track,
            offset,
            qtime,
            hash,
        });
    }

    pub fn len(&self) -> usize {
        self.hits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// The best window of each track, best first. `tolerance` is the
    /// half-width of the offset window in frames.
    pub fn candidates(&mut self, tolerance: i64) -> Vec<Candidate> {
        self.hits.sort_unstable_by_key(|h| (h.track, h.offset));
        let mut out: Vec<Candidate> = Vec::new();
        let hits = &self.hits;
        let mut i = 0;
        while i < hits.len() {
            let track = hits[i].track;
            let mut j = i;
            while j < hits.len() && hits[j].track == track {
                j += 1;
            }
            // Sliding window over this track's sorted offsets.
            let run = &hits[i..j];
            let (mut best_lo, mut best_hi) = (0usize, 0usize);
            let mut hi = 0usize;
            for lo in 0..run.len() {
                if hi < lo {
                    hi = lo;
                }
                while hi < run.len() && run[hi].offset - run[lo].offset <= 2 * tolerance {
                    hi += 1;
                }
                if hi - lo > best_hi - best_lo {
                    best_lo = lo;
                    best_hi = hi;
                }
            }
            let win = &run[best_lo..best_hi];
            let count = distinct_hashes(win);
            let (first, last) = win
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), h| (a.min(h.qtime), b.max(h.qtime)));
            let mid = win[win.len() / 2].offset;
            out.push(Candidate {
                track,
                offset: mid,
                count,
                first,
                last,
                total: run.len() as u32,
            });
            i = j;
        }
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.track.cmp(&b.track)));
        out
    }
}

fn distinct_hashes(win: &[Hit]) -> u32 {
    let mut h: Vec<u32> = win.iter().map(|x| x.hash).collect();
    h.sort_unstable();
    h.dedup();
    h.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_offsets_beat_scattered_hits() {
        let mut v = Votes::new();
        // Track 1: 20 hits at offset 100 (±1 jitter).
        for i in 0..20 {
            v.hit(i, 1, 100 + i * 3 + (i % 3) - 1, (i * 3) as f32);
        }
        // Track 2: 30 hits at random offsets.
        for i in 0..30u32 {
            v.hit(1000 + i, 2, (i * 7919) % 5000, (i % 10) as f32);
        }
        let c = v.candidates(1);
        assert_eq!(c[0].track, 1);
        assert!(c[0].count >= 18, "{:?}", c[0]);
        assert!((c[0].offset - 100).abs() <= 1);
        assert!(c[1].count < 5);
    }

    #[test]
    fn a_repeated_hash_counts_once() {
        let mut v = Votes::new();
        for i in 0..10u32 {
            v.hit(7, 3, 200 + i * 50, (i * 50) as f32);
        }
        assert_eq!(v.candidates(1)[0].count, 1);
    }

    #[test]
    fn empty_votes_give_no_candidates() {
        assert!(Votes::new().candidates(1).is_empty());
    }
}

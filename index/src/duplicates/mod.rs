//! Duplicate detection: is a new file already in the library, whole, in
//! part, or as a larger file containing a stored track?
//!
//! Three steps, cheapest first:
//! 1. **Exact**: the file's sha256 in the `digests` tree.
//! 2. **Candidates**: a time-spread sample of the new track's hashes is
//!    looked up in both hash tiers, exactly as recognition does; tracks
//!    whose hits agree on one time offset are candidates. A sample keeps the
//!    lookup at a few thousand hashes whatever the file's length.
//! 3. **Verdict**: each candidate's canonical peaks are compared with the
//!    new peaks at that offset ([`align`]), which says how much of each
//!    track the other covers, and so the kind.
//!
//! The index knows frames, not seconds: the caller passes the frame rate.

pub mod align;
pub mod groups;

use std::collections::HashMap;

use sonica_schema::layout::track_key;
use sonica_schema::{Duplicate, DuplicateKind, Peak, TrackId, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::IndexError;
pub use align::{AlignParams, Coverage};
pub use groups::DuplicateGroup;

/// Everything the finder needs to know about a new file.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    pub sha256: Option<&'a [u8; 32]>,
    pub peaks: &'a [Peak],
    /// (hash, frame) pairs of the new track, as stored for a track.
    pub hashes: &'a [(u32, u32)],
    /// Tracks not to report (the track itself, or the one a changed file
    /// replaces).
    pub exclude: &'a [TrackId],
}

/// The rules of the finder. The defaults were chosen on generated audio and
/// the real corpus (`benches/duplicates-eval.sh`); see the README.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateParams {
    /// Peak frames per second of audio.
    pub frames_per_second: f64,
    /// At most this many hashes of the new track are looked up. The lookup
    /// is most of a check's cost (one bucket block read and decoded per
    /// hash, about 12 µs each with 1000 tracks); 1500 still give a lossy
    /// copy hundreds of aligned hits, and a 30 s track inside a one-hour
    /// file about 10.
    pub sample_hashes: usize,
    /// A candidate needs this many hash hits on one offset (±1 frame).
    pub min_votes: u32,
    /// At most this many candidates are compared peak by peak.
    pub max_candidates: usize,
    /// A side is "covered" when this share of its musical bins match.
    pub min_coverage: f64,
    /// Shared audio shorter than this is never a duplicate, in seconds.
    pub min_overlap_s: f64,
    /// Share of the new track's peaks (within the shared span) that must
    /// have a partner. Re-encodings keep 0.8–0.98 of them; two different
    /// songs over the very same drum loop share about 0.4.
    pub min_score: f64,
    pub align: AlignParams,
}

impl DuplicateParams {
    /// Defaults for a fingerprint with `frames_per_second` frames a second.
    pub fn new(frames_per_second: f64) -> Self {
        DuplicateParams {
            frames_per_second,
            sample_hashes: 1500,
            min_votes: 6,
            max_candidates: 8,
            min_coverage: 0.8,
            min_overlap_s: 5.0,
            min_score: 0.5,
            align: AlignParams {
                // Two-second bins: short enough that a section's ragged
                // edges cost little, long enough to hold dozens of peaks.
                bin_frames: (2.0 * frames_per_second).round().max(1.0) as u32,
                min_bin_peaks: 8,
                min_bin_ratio: 0.4,
                dt: 1,
                df16: 16,
            },
        }
    }
}

/// The kind two coverages make, if any.
pub fn classify(c: &Coverage, min_coverage: f64) -> Option<DuplicateKind> {
    match (c.new >= min_coverage, c.old >= min_coverage) {
        (true, true) => Some(DuplicateKind::SameRecording),
        (true, false) => Some(DuplicateKind::SectionOf),
        (false, true) => Some(DuplicateKind::Contains),
        (false, false) => None,
    }
}

impl FingerprintIndex {
    /// The live tracks `probe` duplicates, best first (an exact copy alone
    /// when there is one).
    pub fn find_duplicates(&self, probe: &Probe<'_>, p: &DuplicateParams) -> Result<Vec<Duplicate>, IndexError> {
        if let Some(sha) = probe.sha256 {
            if let Some(d) = self.exact_duplicate(sha, probe.exclude)? {
                return Ok(vec![d]);
            }
        }
        let mut out = Vec::new();
        for (id, offset) in self.duplicate_candidates(probe, p)? {
            let Some(rec) = self.get(id)? else { continue };
            let old = self.peaks(id)?;
            let c = align::compare(probe.peaks, &old, offset, &p.align);
            let overlap_s = f64::from(c.span_frames) / p.frames_per_second;
            if overlap_s < p.min_overlap_s || c.ratio < p.min_score {
                continue;
            }
            if let Some(kind) = classify(&c, p.min_coverage) {
                out.push(Duplicate {
                    of: id,
                    of_path: rec.path,
                    kind,
                    overlap_s: (overlap_s * 10.0).round() / 10.0,
                    score: (c.ratio * 1000.0).round() / 1000.0,
                });
            }
        }
        out.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.score.total_cmp(&a.score)));
        Ok(out)
    }

    /// Tracks whose hash hits agree on one offset, with that offset
    /// (`old frame = new frame + offset`), most votes first.
    pub fn duplicate_candidates(
        &self,
        probe: &Probe<'_>,
        p: &DuplicateParams,
    ) -> Result<Vec<(TrackId, i64)>, IndexError> {
        let mut sample: Vec<(u32, u32)> = probe.hashes.to_vec();
        sample.sort_unstable_by_key(|&(h, t)| (t, h));
        if sample.len() > p.sample_hashes {
            let step = sample.len() as f64 / p.sample_hashes as f64;
            sample = (0..p.sample_hashes)
                .map(|i| sample[(i as f64 * step) as usize])
                .collect();
        }
        let mut hashes: Vec<u32> = sample.iter().map(|&(h, _)| h).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut times: Vec<Vec<u32>> = vec![Vec::new(); hashes.len()];
        for &(h, t) in &sample {
            if let Ok(i) = hashes.binary_search(&h) {
                times[i].push(t);
            }
        }
        let mut votes: HashMap<(TrackId, i64), u32> = HashMap::new();
        self.lookup_hashes(&hashes, &mut |i, track, time| {
            if probe.exclude.contains(&track) {
                return;
            }
            for &qt in &times[i] {
                *votes.entry((track, i64::from(time) - i64::from(qt))).or_default() += 1;
            }
        })?;
        // Best offset per track, counting the neighbouring offsets too (a
        // resampled or re-encoded file lands a frame either side).
        let mut best: HashMap<TrackId, (u32, i64)> = HashMap::new();
        for (&(track, offset), _) in votes.iter() {
            let n: u32 = (-1..=1).filter_map(|d| votes.get(&(track, offset + d))).sum();
            let e = best.entry(track).or_insert((0, offset));
            if n > e.0 || (n == e.0 && offset < e.1) {
                *e = (n, offset);
            }
        }
        let mut ranked: Vec<(TrackId, u32, i64)> = best
            .into_iter()
            .filter(|(_, (n, _))| *n >= p.min_votes)
            .map(|(t, (n, o))| (t, n, o))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(p.max_candidates);
        Ok(ranked.into_iter().map(|(t, _, o)| (t, o)).collect())
    }

    /// The live track (not in `exclude`) stored from a file with these
    /// exact bytes, as an `exact` duplicate.
    pub fn exact_duplicate(&self, sha256: &[u8; 32], exclude: &[TrackId]) -> Result<Option<Duplicate>, IndexError> {
        let Some(id) = self.id_by_digest(sha256)?.filter(|id| !exclude.contains(id)) else {
            return Ok(None);
        };
        Ok(self.get(id)?.map(|rec| Duplicate {
            of: id,
            of_path: rec.path,
            kind: DuplicateKind::Exact,
            overlap_s: rec.duration_s,
            score: 1.0,
        }))
    }

    /// The live track stored from a file with this sha256, if any.
    pub fn id_by_digest(&self, sha256: &[u8; 32]) -> Result<Option<TrackId>, IndexError> {
        let Some(v) = self.store.get(Tree::Digests, sha256)? else {
            return Ok(None);
        };
        let Some(id) = sonica_schema::layout::parse_track_key(&v) else {
            return Ok(None);
        };
        Ok(self.store.get(Tree::Tracks, &track_key(id))?.map(|_| id))
    }
}

#[cfg(test)]
mod tests;

//! Identification: a clip's hashes, looked up and voted on.
//!
//! The clip is fingerprinted with the denser query parameters, looked up at
//! speed 1, and accepted when the best track's aligned hits pass the
//! evidence threshold. When they do not, the same peaks are rescaled for a
//! grid of speed hypotheses (±4%, for sped-up radio edits, tape and vinyl
//! drift) and looked up again. A wrong answer is worse than none, so a match
//! needs both an absolute count of time-consistent hits and a clear margin
//! over the best other track.

use sonica_index::{Candidate, FingerprintIndex, IndexError, QueryHash, Votes};
use sonica_schema::{Peak, TrackRecord};

use crate::fingerprint::hashes::{hash_peaks, scale_peaks};
use crate::fingerprint::{extract_peaks, FingerprintParams, FRAMES_PER_SECOND};

/// Decision and search parameters for identification.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchParams {
    /// Minimum time-consistent hits for a match.
    pub min_hits: u32,
    /// The best track needs this many times the hits of the runner-up.
    pub min_margin: f32,
    /// Offset window half-width, in frames.
    pub tolerance: i64,
    /// Speed hypotheses tried when speed 1 finds nothing.
    pub fallback_speeds: Vec<f32>,
}

impl Default for MatchParams {
    fn default() -> Self {
        let mut speeds = Vec::new();
        for i in 1..=7 {
            let d = 0.006 * i as f32;
            speeds.push(1.0 + d);
            speeds.push(1.0 - d);
        }
        MatchParams {
            min_hits: 10,
            min_margin: 2.0,
            tolerance: 1,
            fallback_speeds: speeds,
        }
    }
}

/// A confident answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub track: TrackRecord,
    /// Time-consistent hits supporting the match.
    pub score: u32,
    /// Where the clip starts in the track, in seconds.
    pub offset_s: f64,
    /// Span of the clip covered by matching hashes, in seconds.
    pub duration_s: f64,
    /// Playback speed of the clip relative to the track (1.0 = unchanged).
    pub speed: f32,
}

/// The best candidate of one speed hypothesis, with its runner-up.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    best: Candidate,
    runner_up: u32,
    speed: f32,
}

pub struct Identifier<'a> {
    index: &'a FingerprintIndex,
    query: FingerprintParams,
    params: MatchParams,
}

impl<'a> Identifier<'a> {
    pub fn new(index: &'a FingerprintIndex) -> Self {
        Self::with_params(index, FingerprintParams::query(), MatchParams::default())
    }

    pub fn with_params(index: &'a FingerprintIndex, query: FingerprintParams, params: MatchParams) -> Self {
        Identifier { index, query, params }
    }

    /// Identifies mono samples at the analysis rate.
    pub fn identify_pcm(&self, pcm: &[f32]) -> Result<Option<Match>, IndexError> {
        let peaks = extract_peaks(pcm, &self.query.peaks);
        self.identify_peaks(&peaks)
    }

    /// Identifies a clip from its query peaks.
    pub fn identify_peaks(&self, peaks: &[Peak]) -> Result<Option<Match>, IndexError> {
        if peaks.len() < 2 || self.index.is_empty() {
            return Ok(None);
        }
        let mut votes = Votes::new();
        let mut best = self.verdict(peaks, 1.0, &mut votes)?;
        if !best.is_some_and(|v| self.accepts(&v)) {
            for &s in &self.params.fallback_speeds {
                if let Some(v) = self.verdict(peaks, s, &mut votes)? {
                    if best.is_none_or(|b| v.best.count > b.best.count) {
                        best = Some(v);
                    }
                }
            }
        }
        let Some(v) = best.filter(|v| self.accepts(v)) else {
            return Ok(None);
        };
        let Some(track) = self.index.get(v.best.track)? else {
            return Ok(None); // removed while we were voting
        };
        Ok(Some(Match {
            track,
            score: v.best.count,
            offset_s: v.best.offset as f64 / FRAMES_PER_SECOND,
            duration_s: f64::from(v.best.last - v.best.first) / FRAMES_PER_SECOND,
            speed: v.speed,
        }))
    }

    fn accepts(&self, v: &Verdict) -> bool {
        v.best.count >= self.params.min_hits && v.best.count as f32 >= self.params.min_margin * v.runner_up as f32
    }

    fn verdict(&self, peaks: &[Peak], speed: f32, votes: &mut Votes) -> Result<Option<Verdict>, IndexError> {
        let hashes = hash_peaks(&scale_peaks(peaks, speed), &self.query.pairs);
        let query: Vec<QueryHash> = hashes
            .iter()
            .map(|h| QueryHash {
                hash: h.hash,
                time: h.time,
            })
            .collect();
        votes.clear();
        self.index.lookup(&query, votes)?;
        let cands = votes.candidates(self.params.tolerance);
        let Some(&best) = cands.first() else {
            return Ok(None);
        };
        let runner_up = cands.get(1).map_or(0, |c| c.count);
        Ok(Some(Verdict { best, runner_up, speed }))
    }
}

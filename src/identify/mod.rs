//! Identification: a clip's hashes, looked up and voted on.
//!
//! First the clip is fingerprinted exactly as the index was: for clean or
//! mildly degraded audio this reproduces the stored hashes, and a quarter of
//! the lookups settle it. Otherwise it is fingerprinted with the denser
//! query parameters, looked up at speed 1, and accepted when the best
//! track's aligned hits pass the evidence threshold. When they do not, the same peaks are rescaled for a
//! grid of speed hypotheses (±4%, for sped-up radio edits, tape and vinyl
//! drift) and looked up again.
//!
//! Copies of one recording in the library (the same audio under two names)
//! all match about equally; they are reported as duplicates of the best
//! rather than counted as competing noise. A wrong answer is worse than
//! none, so a match
//! needs both an absolute count of time-consistent hits and a clear margin
//! over the best other track.

mod aligned;
pub mod tolerant;

use sonica_index::{Candidate, FingerprintIndex, IndexError, Votes};
use sonica_schema::{Peak, TrackRecord};

use crate::cpu_stages::{timed, Stage};
use crate::fingerprint::hashes::{hash_peaks, scale_peaks};
use crate::fingerprint::params::PairParams;
use crate::fingerprint::triplets::TripletParams;
use crate::fingerprint::{ClipSpectrum, FingerprintParams, FRAMES_PER_SECOND};
pub use tolerant::{TolerantParams, TolerantVerdict};

/// Seconds of the clip's opening tried first in stage 1.
const STAGE1_OPENING_S: f64 = 3.0;
/// Below this share of the clip covered by its aligned hits, an exact
/// match is taken for a possibly stretched clip and its factors measured
/// (a clean clip's hits span nearly all of it).
const STRETCH_COVERAGE: f32 = 0.5;
/// Share of stage-1 hashes that must align for stage 1 to settle a clip.
const STAGE1_MIN_SHARE: f32 = 0.12;

/// Decision and search parameters for identification.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchParams {
    /// Minimum time-consistent hits for a match…
    pub min_hits: u32,
    /// …and at least this many per query hash looked up.
    pub min_hit_rate: f32,
    /// The best track needs this many times the hits of the runner-up.
    pub min_margin: f32,
    /// Offset window half-width, in frames.
    pub tolerance: i64,
    /// Below `strong_hits`, the aligned hits must span at least this share
    /// of the clip.
    pub min_coverage: f32,
    /// Speed 1 evidence at least this strong (with twice the margin) skips
    /// the other speed hypotheses.
    pub strong_hits: u32,
    /// Speed hypotheses tried when speed 1 is not clearly settled.
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
            min_hit_rate: 1.0 / 600.0,
            min_margin: 2.0,
            tolerance: 1,
            min_coverage: 0.35,
            strong_hits: 25,
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
    /// Span of the clip covered by time-consistent matching hashes, in
    /// seconds: the evidence actually examined. A clean clip is often
    /// settled on its opening seconds, and then this is that span.
    pub duration_s: f64,
    /// Playback speed of the clip relative to the track (1.0 = unchanged):
    /// pitch and tempo changed together, as a turntable does.
    pub speed: f32,
    /// Tempo of the clip relative to the track with its pitch kept (a time
    /// stretch), on top of `speed`.
    pub tempo: f32,
    /// Pitch of the clip relative to the track in cents with its tempo
    /// kept (a key change), on top of `speed`.
    pub pitch_cents: f32,
}

/// The best candidate of one speed hypothesis, with its runner-up: the raw
/// evidence behind a decision, exposed for threshold calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub best: Candidate,
    /// Hits of the best other track that is not a copy of the best one:
    /// the noise level the best must stand out from.
    pub runner_up: u32,
    /// Other tracks matching as strongly as the best: copies of the same
    /// recording in the library (see the module docs).
    pub duplicates: Vec<sonica_schema::TrackId>,
    pub speed: f32,
    /// Query hashes looked up under this hypothesis.
    pub queried: u32,
    /// Length of the query examined, in reference frames.
    pub clip_frames: f32,
}

/// An answer (if any) with the evidence behind it.
pub type Explained = (Option<Match>, Option<Verdict>);

/// Decodes a clip file and identifies it, with its strongest evidence.
/// Clips shorter than [`MIN_DURATION_S`](crate::pipeline::MIN_DURATION_S)
/// are refused: they cannot carry enough landmarks to answer.
pub fn identify_file(
    ident: &Identifier<'_>,
    path: &std::path::Path,
) -> Result<(Option<Match>, Option<Verdict>), crate::SonicaError> {
    if !path.exists() {
        return Err(crate::SonicaError::Missing);
    }
    let (pcm, _) = crate::decode::load_clip(path)?;
    let secs = pcm.len() as f64 / f64::from(crate::fingerprint::FINGERPRINT_RATE);
    if secs < crate::pipeline::MIN_DURATION_S {
        return Err(crate::SonicaError::TooShort {
            secs,
            min: crate::pipeline::MIN_DURATION_S,
        });
    }
    Ok(ident.explain_pcm(&pcm)?)
}

pub struct Identifier<'a> {
    index: &'a FingerprintIndex,
    query: FingerprintParams,
    params: MatchParams,
    triplets: TripletParams,
    tolerant: TolerantParams,
}

impl<'a> Identifier<'a> {
    pub fn new(index: &'a FingerprintIndex) -> Self {
        Self::with_params(index, FingerprintParams::query(), MatchParams::default())
    }

    pub fn with_params(index: &'a FingerprintIndex, query: FingerprintParams, params: MatchParams) -> Self {
        Identifier {
            index,
            query,
            params,
            triplets: TripletParams::query(),
            tolerant: TolerantParams::default(),
        }
    }

    /// The same identifier with other tolerant-stage parameters.
    pub fn with_tolerant(mut self, triplets: TripletParams, tolerant: TolerantParams) -> Self {
        self.triplets = triplets;
        self.tolerant = tolerant;
        self
    }

    /// Identifies mono samples at the analysis rate.
    pub fn identify_pcm(&self, pcm: &[f32]) -> Result<Option<Match>, IndexError> {
        Ok(self.explain_pcm(pcm)?.0)
    }

    /// Identifies mono samples, also returning the strongest evidence found
    /// whether or not it was accepted.
    pub fn explain_pcm(&self, pcm: &[f32]) -> Result<(Option<Match>, Option<Verdict>), IndexError> {
        if self.index.is_empty() {
            return Ok((None, None));
        }
        let index_side = FingerprintParams::index();
        let rate = f64::from(crate::fingerprint::FINGERPRINT_RATE);
        // Stage 1a: only the opening seconds are analysed and hashed exactly
        // as the index was. Clean clips settle here, having paid for a third
        // of a 10 s clip's FFTs and lookups.
        let head_len = ((STAGE1_OPENING_S + 0.5) * rate) as usize;
        if pcm.len() > head_len + head_len / 2 {
            let head = timed(Stage::Peaks, || {
                ClipSpectrum::new(&pcm[..head_len]).peaks(&index_side.peaks)
            });
            let opening = head.partition_point(|p| f64::from(p.time) < STAGE1_OPENING_S * FRAMES_PER_SECOND);
            if let Some(v) = self.settled_exactly(&head[..opening], &index_side)? {
                return self.with_factors(self.decide(Some(v))?, &head);
            }
        }
        // Stage 1b: the whole clip, hashed as the index was.
        let spectrum = timed(Stage::Peaks, || ClipSpectrum::new(pcm));
        let index_peaks = timed(Stage::Peaks, || spectrum.peaks(&index_side.peaks));
        if let Some(v) = self.settled_exactly(&index_peaks, &index_side)? {
            return self.with_factors(self.decide(Some(v))?, &index_peaks);
        }
        // Stage 2: denser query peaks, then speed hypotheses.
        let query_peaks = timed(Stage::Peaks, || spectrum.peaks(&self.query.peaks));
        let (m, v) = self.explain_peaks(&query_peaks)?;
        if m.is_some() {
            return self.with_factors((m, v), &index_peaks);
        }
        // Stage 3: triplets, for pitch shifts, speed changes and stretches
        // beyond the speed hypotheses.
        match self.tolerant_stage(&index_peaks)? {
            Some(found) => Ok(found),
            None => Ok((None, v)),
        }
    }

    /// An exact stage's answer, with its speed, tempo and pitch measured
    /// by the tolerant stage on `peaks` when the exact evidence says the
    /// clip was changed: it matched under a speed hypothesis other than 1,
    /// or its aligned hits cover less than [`STRETCH_COVERAGE`] of the clip
    /// (a stretch drifts out of the offset window). The triplets tell a
    /// speed change from a stretch or a key change; when they name another
    /// track, another place in it or nothing, the factors stay the
    /// hypothesis that matched. A clean clip pays nothing.
    fn with_factors(&self, (m, v): Explained, peaks: &[Peak]) -> Result<Explained, IndexError> {
        let changed = match (&m, &v) {
            (Some(found), Some(verdict)) => {
                let covered = verdict.best.last - verdict.best.first;
                found.speed != 1.0 || covered < STRETCH_COVERAGE * verdict.clip_frames
            }
            _ => false,
        };
        let Some(mut found) = m else {
            return Ok((None, v));
        };
        if !changed {
            return Ok((Some(found), v));
        }
        // The same track at the same place: the offsets agree within what a
        // stretch's drift can move a partial alignment.
        let clip_s = v.as_ref().map_or(0.0, |v| f64::from(v.clip_frames) / FRAMES_PER_SECOND);
        let agrees =
            |t: &Match| t.track.id == found.track.id && (t.offset_s - found.offset_s).abs() <= 1.0 + 0.15 * clip_s;
        if let Some((Some(t), _)) = self.tolerant_stage(peaks)? {
            if agrees(&t) {
                (found.speed, found.tempo, found.pitch_cents) = (t.speed, t.tempo, t.pitch_cents);
            }
        }
        Ok((Some(found), v))
    }

    /// The tolerant stage's answer, when it finds one.
    fn tolerant_stage(&self, peaks: &[Peak]) -> Result<Option<Explained>, IndexError> {
        if peaks.len() < 3 {
            return Ok(None);
        }
        let Some(t) = tolerant::tolerant_verdict(
            self.index,
            peaks,
            &self.triplets,
            &self.tolerant,
            self.params.strong_hits,
        )?
        else {
            return Ok(None);
        };
        let clip_frames = clip_frames(peaks);
        let p = &self.tolerant;
        let c = t.best.count;
        // No coverage rule here: the peak share is itself a measure over
        // the whole clip.
        let accepted =
            c >= p.min_hits && c as f32 >= p.min_margin * t.runner_up as f32 && t.peak_share >= p.min_peak_share;
        if !accepted {
            return Ok(None);
        }
        let Some(track) = self.index.get(t.best.track)? else {
            return Ok(None);
        };
        let (speed, tempo, pitch_cents) = factors(t.scale, t.cents);
        let verdict = Verdict {
            best: t.best,
            runner_up: t.runner_up,
            duplicates: t.duplicates.clone(),
            speed: t.scale,
            queried: t.queried,
            clip_frames,
        };
        let m = Match {
            track,
            score: c,
            offset_s: t.best.offset as f64 / FRAMES_PER_SECOND,
            duration_s: f64::from((t.best.last - t.best.first) * t.scale) / FRAMES_PER_SECOND,
            speed,
            tempo,
            pitch_cents,
        };
        Ok(Some((Some(m), Some(verdict))))
    }

    /// Stage-1 evidence, when it settles the clip on its own. The peaks were
    /// hashed exactly as the index was, so a real match reproduces a good
    /// share of its hashes; a merely similar piece (same key, tempo and
    /// sound) does not.
    fn settled_exactly(&self, peaks: &[Peak], index_side: &FingerprintParams) -> Result<Option<Verdict>, IndexError> {
        if peaks.len() < 2 {
            return Ok(None);
        }
        let v = self
            .verdicts_with(peaks, &[1.0], &index_side.pairs)?
            .into_iter()
            .flatten()
            .next();
        Ok(v.filter(|v| self.is_strong(v) && v.best.count as f32 >= STAGE1_MIN_SHARE * v.queried as f32))
    }

    fn explain_peaks(&self, peaks: &[Peak]) -> Result<(Option<Match>, Option<Verdict>), IndexError> {
        if peaks.len() < 2 || self.index.is_empty() {
            return Ok((None, None));
        }
        let mut best = self.verdicts(peaks, &[1.0])?.pop().flatten();
        if !best.as_ref().is_some_and(|v| self.is_strong(v)) {
            // Not clearly settled at speed 1: try every hypothesis (speed 1
            // included, in the same pass) and keep the best supported. The
            // runner-up becomes the best *other* track under any hypothesis,
            // so searching many speeds raises the bar as it raises the
            // chance of a lucky alignment.
            let mut speeds = vec![1.0];
            speeds.extend_from_slice(&self.params.fallback_speeds);
            let all = self.verdicts(peaks, &speeds)?;
            best = None;
            for v in all.iter().flatten() {
                if best.as_ref().is_none_or(|b| v.best.count > b.best.count) {
                    best = Some(v.clone());
                }
            }
            if let Some(b) = best.as_mut() {
                let same = |t| t == b.best.track || b.duplicates.contains(&t);
                b.runner_up = all
                    .iter()
                    .flatten()
                    .map(|v| if same(v.best.track) { v.runner_up } else { v.best.count })
                    .max()
                    .unwrap_or(0);
            }
        }
        self.decide(best)
    }

    /// Turns the strongest evidence into an answer, or none.
    fn decide(&self, best: Option<Verdict>) -> Result<(Option<Match>, Option<Verdict>), IndexError> {
        let Some(v) = best.as_ref().filter(|v| self.accepts(v)) else {
            return Ok((None, best));
        };
        let Some(track) = self.index.get(v.best.track)? else {
            return Ok((None, best)); // removed while we were voting
        };
        let m = Match {
            track,
            score: v.best.count,
            offset_s: v.best.offset as f64 / FRAMES_PER_SECOND,
            duration_s: f64::from(v.best.last - v.best.first) / FRAMES_PER_SECOND,
            speed: v.speed,
            tempo: 1.0,
            pitch_cents: 0.0,
        };
        Ok((Some(m), best))
    }

    fn accepts(&self, v: &Verdict) -> bool {
        let c = v.best.count;
        // Modest evidence must also be spread through the clip: a real match
        // aligns hashes all along it, a chance alignment of a repeated
        // figure covers a short stretch.
        let spread =
            c >= self.params.strong_hits || v.best.last - v.best.first >= self.params.min_coverage * v.clip_frames;
        // Chance alignments grow with the number of hashes looked up (long or
        // noisy clips make many), so the bar scales with it.
        let needed = (self.params.min_hits as f32).max(v.queried as f32 * self.params.min_hit_rate);
        c as f32 >= needed && c as f32 >= self.params.min_margin * v.runner_up as f32 && spread
    }

    /// Evidence so clear that other speeds need not be tried.
    fn is_strong(&self, v: &Verdict) -> bool {
        v.best.count >= self.params.strong_hits
            && v.best.count as f32 >= 2.0 * self.params.min_margin * v.runner_up as f32
    }

    /// One lookup pass for all `speeds`: each hypothesis's hashes are
    /// generated, the distinct hashes of all of them are looked up once, and
    /// every hit is voted into its hypotheses.
    fn verdicts(&self, peaks: &[Peak], speeds: &[f32]) -> Result<Vec<Option<Verdict>>, IndexError> {
        self.verdicts_with(peaks, speeds, &self.query.pairs)
    }

    fn verdicts_with(
        &self,
        peaks: &[Peak],
        speeds: &[f32],
        pairs: &PairParams,
    ) -> Result<Vec<Option<Verdict>>, IndexError> {
        let (entries, hashes, starts) = timed(Stage::Hash, || {
            let mut entries: Vec<(u32, u16, f32)> = Vec::new();
            for (k, &s) in speeds.iter().enumerate() {
                for h in hash_peaks(&scale_peaks(peaks, s), pairs) {
                    entries.push((h.hash, k as u16, h.time));
                }
            }
            entries.sort_unstable_by_key(|e| e.0);
            let (hashes, starts) = group_by_hash(&entries, |e| e.0);
            (entries, hashes, starts)
        });
        let clip_frames = clip_frames(peaks);
        let mut queried = vec![0u32; speeds.len()];
        for e in &entries {
            queried[e.1 as usize] += 1;
        }
        let mut votes: Vec<Votes> = speeds.iter().map(|_| Votes::new()).collect();
        timed(Stage::Lookup, || {
            self.index.lookup_hashes(&hashes, &mut |i, track, time| {
                for &(h, k, qt) in &entries[starts[i]..starts[i + 1]] {
                    votes[k as usize].hit(h, track, time, qt);
                }
            })
        })?;
        Ok(timed(Stage::Vote, || {
            votes
                .iter_mut()
                .zip(speeds)
                .zip(queried)
                .map(|((v, &speed), queried)| {
                    let clip_frames = clip_frames * speed;
                    let cands = v.candidates(self.params.tolerance);
                    let &best = cands.first()?;
                    // Other tracks matching (nearly) as strongly as the best are
                    // copies of one recording, not noise. Different recordings
                    // that merely share material fall short of this and keep
                    // the clip ambiguous (no answer).
                    let copy_bar = self.params.strong_hits.max(best.count - best.count / 10);
                    let strong = best.count >= self.params.strong_hits;
                    let (duplicates, rest): (Vec<&Candidate>, Vec<&Candidate>) =
                        cands[1..].iter().partition(|c| strong && c.count >= copy_bar);
                    Some(Verdict {
                        best,
                        runner_up: rest.first().map_or(0, |c| c.count),
                        duplicates: duplicates.iter().map(|c| c.track).collect(),
                        speed,
                        queried,
                        clip_frames,
                    })
                })
                .collect()
        }))
    }
}

/// The distinct hashes of `entries` (sorted by hash) and where each one's
/// run starts, with `entries.len()` last: what a lookup asks for, and how
/// its hits find their entries again.
pub(crate) fn group_by_hash<T>(entries: &[T], hash: impl Fn(&T) -> u32) -> (Vec<u32>, Vec<usize>) {
    let mut hashes: Vec<u32> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if hashes.last() != Some(&hash(e)) {
            hashes.push(hash(e));
            starts.push(i);
        }
    }
    starts.push(entries.len());
    (hashes, starts)
}

/// The span of `peaks` (sorted by time), in frames.
fn clip_frames(peaks: &[Peak]) -> f32 {
    match (peaks.first(), peaks.last()) {
        (Some(a), Some(b)) => (b.time - a.time) as f32,
        _ => 0.0,
    }
}

/// Splits a measured time scale (reference frames per clip frame) and pitch
/// (cents) into the simplest story: a speed change when both moved
/// together, else a tempo change and a pitch change. Returns (speed, tempo,
/// pitch in cents).
pub fn factors(scale: f32, cents: f32) -> (f32, f32, f32) {
    let scale_cents = 1200.0 * scale.log2();
    if (scale - 1.0).abs() > 0.015 && (scale_cents - cents).abs() <= SAME_CHANGE_CENTS {
        (scale, 1.0, 0.0)
    } else {
        let tempo = if (scale - 1.0).abs() <= 0.005 { 1.0 } else { scale };
        let pitch = if cents.abs() <= 10.0 { 0.0 } else { cents };
        (1.0, tempo, pitch)
    }
}

/// A time scale and a pitch within this many cents of each other are one
/// speed change.
const SAME_CHANGE_CENTS: f32 = 40.0;

//! "Why this match": the evidence behind a recognition, laid out for a
//! person to check. The clip's peaks are mapped onto the matched track's
//! time axis at the found offset and speed, beside the track's own stored
//! peaks over the same span; the landmark pairs whose hashes agreed there
//! are listed; and the vote histogram (hits by time offset) of the
//! strongest candidates shows how far the winner stands out.
//!
//! It is recomputed from the clip after the decision, with the index's own
//! peak and pairing rules, so it shows what the fingerprint is, not a
//! drawing of it. Everything is in seconds and hertz.

use std::collections::HashMap;

use serde::Serialize;
use sonica_index::{FingerprintIndex, IndexError};
use sonica_schema::TrackId;

use crate::fingerprint::hashes::{hash_peaks, index_hashes, scale_peaks, unpack};
use crate::fingerprint::params::{FFT_SIZE, FRAMES_PER_SECOND};
use crate::fingerprint::{ClipSpectrum, FingerprintParams, FINGERPRINT_RATE};

/// Candidates shown, best first.
pub const MAX_CANDIDATES: usize = 5;
/// Histogram bar width, in frames (128 ms).
const BAR_FRAMES: i64 = 8;
/// The histogram covers this many seconds either side of a candidate's
/// best offset.
const HISTOGRAM_SPAN_S: f64 = 10.0;
/// A clip hash agrees when the track has it within this many frames of
/// where the alignment puts it.
const AGREE_FRAMES: f32 = 2.0;

/// The evidence behind one match.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// Where the clip starts in the track, seconds.
    pub offset_s: f64,
    /// Playback speed of the clip relative to the track.
    pub speed: f32,
    /// Length of the clip, seconds.
    pub clip_s: f64,
    /// The clip's peaks on the track's time axis: `[t_s, hz]`.
    pub clip_peaks: Vec<[f32; 2]>,
    /// The track's stored peaks over the clip's span: `[t_s, hz]`.
    pub track_peaks: Vec<[f32; 2]>,
    /// Landmark pairs whose hash agreed at the alignment, track time:
    /// `[anchor_t_s, anchor_hz, target_t_s, target_hz]`.
    pub agreeing: Vec<[f32; 4]>,
    /// Clip hashes looked up.
    pub hashes: usize,
    /// The strongest candidates, the match first when it is among them.
    pub candidates: Vec<CandidateVotes>,
}

/// One candidate's votes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CandidateVotes {
    pub id: TrackId,
    pub title: String,
    /// Hits in its best histogram bar and the two beside it.
    pub votes: u32,
    /// Where its best bar puts the clip's start in the track, seconds.
    pub best_offset_s: f64,
    pub histogram: Histogram,
}

/// Hits by offset (track time of the clip's start).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Histogram {
    /// Offset of the first bar's left edge, seconds.
    pub start_s: f64,
    /// Width of a bar, seconds.
    pub step_s: f64,
    pub counts: Vec<u32>,
}

fn secs(frames: f32) -> f32 {
    frames / FRAMES_PER_SECOND as f32
}

fn hz(bin: f32) -> f32 {
    bin * FINGERPRINT_RATE as f32 / FFT_SIZE as f32
}

/// Explains why `pcm` (mono, fingerprint rate) matched `track` at
/// `offset_s` and `speed`.
pub fn explain(
    index: &FingerprintIndex,
    pcm: &[f32],
    track: TrackId,
    offset_s: f64,
    speed: f32,
) -> Result<Explanation, IndexError> {
    let params = FingerprintParams::index();
    let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
    let clip = ClipSpectrum::new(pcm).peaks(&params.peaks);
    let scaled = scale_peaks(&clip, speed);
    let hashed = hash_peaks(&scaled, &params.pairs);
    let offset = (offset_s * FRAMES_PER_SECOND) as f32;

    // The track's peaks over the clip's span (a little either side).
    let first = scaled.first().map_or(0.0, |p| p.time) + offset - 64.0;
    let last = scaled.last().map_or(0.0, |p| p.time) + offset + 64.0;
    let stored = index.peaks(track)?;
    let window: Vec<_> = stored
        .iter()
        .copied()
        .filter(|p| (p.time as f32) >= first && (p.time as f32) <= last)
        .collect();
    let mut track_times: HashMap<u32, Vec<u32>> = HashMap::new();
    for (h, t) in index_hashes(&window, &params.pairs) {
        track_times.entry(h).or_default().push(t);
    }
    let mut agreeing = Vec::new();
    for h in &hashed {
        let expected = offset + h.time;
        let Some(times) = track_times.get(&h.hash) else {
            continue;
        };
        if let Some(&t) = times.iter().find(|&&t| (t as f32 - expected).abs() <= AGREE_FRAMES) {
            let (f1, df, dt) = unpack(h.hash);
            let t = t as f32;
            agreeing.push([secs(t), hz(f1 as f32), secs(t + dt as f32), hz((f1 + df) as f32)]);
        }
    }

    let candidates = vote_histograms(index, &hashed, track)?;
    Ok(Explanation {
        offset_s: crate::answer::round3(offset_s),
        speed,
        clip_s: crate::answer::round3(pcm.len() as f64 / f64::from(FINGERPRINT_RATE)),
        clip_peaks: scaled.iter().map(|p| [secs(offset + p.time), hz(p.bin)]).collect(),
        track_peaks: window.iter().map(|p| [secs(p.time as f32), hz(p.bin())]).collect(),
        agreeing,
        hashes: hashed.len(),
        candidates,
    })
}

/// Looks the clip's hashes up once and histograms every track's hits by
/// offset; the strongest [`MAX_CANDIDATES`] are kept, `matched` first.
fn vote_histograms(
    index: &FingerprintIndex,
    hashed: &[crate::fingerprint::hashes::HashedPeak],
    matched: TrackId,
) -> Result<Vec<CandidateVotes>, IndexError> {
    let mut entries: Vec<(u32, f32)> = hashed.iter().map(|h| (h.hash, h.time)).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut hashes: Vec<u32> = entries.iter().map(|e| e.0).collect();
    hashes.dedup();
    let mut offsets: HashMap<TrackId, Vec<i64>> = HashMap::new();
    index.lookup_hashes(&hashes, &mut |i, track, time| {
        let h = hashes[i];
        let from = entries.partition_point(|e| e.0 < h);
        for e in entries[from..].iter().take_while(|e| e.0 == h) {
            offsets
                .entry(track)
                .or_default()
                .push(i64::from(time) - e.1.round() as i64);
        }
    })?;
    let mut ranked: Vec<(TrackId, u32, i64, Vec<i64>)> = offsets
        .into_iter()
        .map(|(track, offs)| {
            let mut bars: HashMap<i64, u32> = HashMap::new();
            for &o in &offs {
                *bars.entry(o.div_euclid(BAR_FRAMES)).or_default() += 1;
            }
            let around = |b: i64| (b - 1..=b + 1).map(|k| bars.get(&k).copied().unwrap_or(0)).sum::<u32>();
            let (best_bar, votes) = bars
                .keys()
                .map(|&b| (b, around(b)))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .unwrap_or((0, 0));
            (track, votes, best_bar, offs)
        })
        .collect();
    ranked.sort_by(|a, b| {
        (b.0 == matched)
            .cmp(&(a.0 == matched))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    ranked.truncate(MAX_CANDIDATES);
    let span_bars = (HISTOGRAM_SPAN_S * FRAMES_PER_SECOND / BAR_FRAMES as f64).round() as i64;
    let mut out = Vec::with_capacity(ranked.len());
    for (track, votes, best_bar, offs) in ranked {
        let lo = best_bar - span_bars;
        let mut counts = vec![0u32; (2 * span_bars + 1) as usize];
        for o in offs {
            let k = o.div_euclid(BAR_FRAMES) - lo;
            if let Some(c) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
                *c += 1;
            }
        }
        let frames_to_s = |f: i64| crate::answer::round3(f as f64 / FRAMES_PER_SECOND);
        out.push(CandidateVotes {
            id: track,
            title: index.get(track)?.map(|r| r.title).unwrap_or_default(),
            votes,
            best_offset_s: frames_to_s(best_bar * BAR_FRAMES + BAR_FRAMES / 2),
            histogram: Histogram {
                start_s: frames_to_s(lo * BAR_FRAMES),
                step_s: crate::answer::round3(BAR_FRAMES as f64 / FRAMES_PER_SECOND),
                counts,
            },
        });
    }
    Ok(out)
}

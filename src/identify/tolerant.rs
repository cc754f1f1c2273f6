//! The tolerant stage: a clip the exact stages could not settle is looked
//! up by its triplet hashes ([`crate::fingerprint::triplets`]), which a
//! pitch shift, a speed change or a time stretch leave alone.
//!
//! A triplet hit tells which track and which anchor frame, but not the
//! clip's time scale: a clip stretched by `τ` aligns with its track along
//! `ref = τ · query + offset`. Votes are therefore counted per track on a
//! grid of time scales (Hough voting): every hit is placed at its offset
//! under each scale, and the best (scale, offset) cell of each track is its
//! candidate. The scale step keeps the drift across a 10 s clip within the
//! offset cell, so a true match lands in one cell.
//!
//! The winner's pitch is then read off the stored peaks: each clip peak at
//! the aligned time is compared with the track's peaks there, and the most
//! common frequency ratio is the shift. The share of clip peaks that find
//! their partner at that ratio is a second, independent check: a chance
//! alignment of hashes does not make the clip's peaks line up.

use crate::cpu_stages::{timed, Stage};
use sonica_index::{Candidate, FingerprintIndex, IndexError};
use sonica_schema::{Peak, TrackId};

use crate::fingerprint::triplets::{query_triplets, TripletParams};

/// How the tolerant stage searches and decides.
#[derive(Debug, Clone, PartialEq)]
pub struct TolerantParams {
    /// Time scales searched: reference frames per clip frame.
    pub scale_min: f32,
    pub scale_max: f32,
    pub scale_step: f32,
    /// Offset cell width, in frames.
    pub offset_cell: i64,
    /// Minimum distinct triplet hashes in the winning cell…
    pub min_hits: u32,
    /// …and this many times the best other track's.
    pub min_margin: f32,
    /// Share of the clip's peaks that must meet a track peak once aligned…
    pub min_peak_share: f32,
    /// …within this many frames (a stretch smears onsets by a frame or two).
    pub peak_window: f32,
    /// Pitch shifts read off the peaks, in cents either way.
    pub max_cents: f32,
}

impl Default for TolerantParams {
    fn default() -> Self {
        TolerantParams {
            scale_min: 0.82,
            scale_max: 1.22,
            scale_step: 0.005,
            offset_cell: 3,
            min_hits: 8,
            min_margin: 2.0,
            min_peak_share: 0.2,
            peak_window: 2.5,
            max_cents: 400.0,
        }
    }
}

/// The tolerant stage's evidence for its best track.
#[derive(Debug, Clone, PartialEq)]
pub struct TolerantVerdict {
    /// `offset` in reference frames; `first`/`last` in clip frames.
    pub best: Candidate,
    /// Reference frames per clip frame (> 1: the clip runs faster).
    pub scale: f32,
    /// The clip's pitch against the track's, in cents.
    pub cents: f32,
    /// Share of the clip's peaks meeting a track peak at that alignment.
    pub peak_share: f32,
    pub runner_up: u32,
    pub duplicates: Vec<TrackId>,
    /// Probes looked up.
    pub queried: u32,
}

/// Tracks with fewer hits in their best cell are not candidates, not even
/// runners-up: below this, a cell is chance.
const RUNNER_UP_FLOOR: u32 = 4;

#[derive(Debug, Clone, Copy)]
struct Hit {
    track: TrackId,
    qt: u32,
    rt: u32,
    hash: u32,
}

/// Looks the clip's `peaks` (sorted by time) up by their triplets and
/// returns the best supported track, accepted or not.
pub fn tolerant_verdict(
    index: &FingerprintIndex,
    peaks: &[Peak],
    triplets: &TripletParams,
    p: &TolerantParams,
    strong_hits: u32,
) -> Result<Option<TolerantVerdict>, IndexError> {
    let (entries, hashes, starts) = timed(Stage::Hash, || {
        let mut entries: Vec<(u32, u32)> = query_triplets(peaks, triplets)
            .into_iter()
            .map(|q| (q.hash, q.time))
            .collect();
        entries.sort_unstable();
        entries.dedup();
        let (hashes, starts) = super::group_by_hash(&entries, |e| e.0);
        (entries, hashes, starts)
    });
    if entries.is_empty() {
        return Ok(None);
    }
    let mut hits: Vec<Hit> = Vec::new();
    timed(Stage::Lookup, || {
        index.lookup_hashes(&hashes, &mut |i, track, rt| {
            for &(hash, qt) in &entries[starts[i]..starts[i + 1]] {
                hits.push(Hit { track, qt, rt, hash });
            }
        })
    })?;
    timed(Stage::Vote, || {
        decide(index, peaks, &mut hits, p, strong_hits, entries.len() as u32)
    })
}

/// The scale vote over `hits`, each candidate checked on its stored peaks.
fn decide(
    index: &FingerprintIndex,
    peaks: &[Peak],
    hits: &mut [Hit],
    p: &TolerantParams,
    strong_hits: u32,
    queried: u32,
) -> Result<Option<TolerantVerdict>, IndexError> {
    let mut cands = vote(hits, p);
    if cands.is_empty() {
        return Ok(None);
    }
    cands.sort_by(|a, b| b.0.count.cmp(&a.0.count).then(a.0.track.cmp(&b.0.track)));
    // Refined candidates are checked on their stored peaks, best first;
    // only those that line up are evidence, for the answer or against it.
    // Reading a track's peaks is the costly part, so the checks stop once
    // no candidate left could change the decision: none could be accepted
    // (fewer than `min_hits`), or none could block the best verified one
    // (the margin) or be its copy. The runner-up reported is then the best
    // verified rival among those checked.
    let mut checked = Vec::with_capacity(cands.len());
    let mut leader: Option<u32> = None;
    for &(c, scale) in &cands {
        let settled = match leader {
            None => c.count < p.min_hits,
            Some(b) => (c.count as f32) * p.min_margin < b as f32 && c.count < copy_bar(b, strong_hits),
        };
        if settled {
            break;
        }
        let stored = index.peaks(c.track)?;
        let (cents, share) = pitch_of(peaks, &stored, scale, c.offset as f32, p);
        checked.push((c, scale, cents, share));
        if share >= p.min_peak_share && leader.is_none() {
            leader = Some(c.count);
        }
    }
    if checked.is_empty() {
        // Nothing could be accepted: the best cell, unchecked.
        let (c, scale) = cands[0];
        checked.push((c, scale, 0.0, 0.0));
    }
    let verified = |c: &&(Candidate, f32, f32, f32)| c.3 >= p.min_peak_share;
    let &(best, scale, cents, peak_share) = checked.iter().find(verified).unwrap_or(&checked[0]);
    let copies = copy_bar(best.count, strong_hits);
    let strong = best.count >= strong_hits;
    let others = checked.iter().filter(verified).filter(|c| c.0.track != best.track);
    type Checked = (Candidate, f32, f32, f32);
    let (dups, rest): (Vec<&Checked>, Vec<&Checked>) = others.partition(|c| strong && c.0.count >= copies);
    Ok(Some(TolerantVerdict {
        best,
        scale,
        cents,
        peak_share,
        runner_up: rest.first().map_or(0, |c| c.0.count),
        duplicates: dups.iter().map(|c| c.0.track).collect(),
        queried,
    }))
}

/// Other tracks this close to the best one's count are copies of its
/// recording, not rivals.
fn copy_bar(best: u32, strong_hits: u32) -> u32 {
    strong_hits.max(best - best / 10)
}

/// The coarse pass's scale step and offset cell (frames): wide enough that
/// a true alignment's drift across a 10 s clip stays within two cells.
const COARSE_STEP: f32 = 0.02;
const COARSE_CELL: f32 = 8.0;
/// Tracks whose best coarse cell is refined at the fine scale step.
const REFINED: usize = 8;

/// Each refined track's best (scale, offset) cell, as a candidate and its
/// scale. A coarse pass over every track's hits (raw counts on a 0.02
/// scale grid) picks the tracks and cells worth a fine look; the fine pass
/// counts distinct hashes on the `scale_step` grid within them.
fn vote(hits: &mut [Hit], p: &TolerantParams) -> Vec<(Candidate, f32)> {
    hits.sort_unstable_by_key(|h| h.track);
    let coarse_scales = grid(p.scale_min, p.scale_max, COARSE_STEP);
    // (raw count, run start, run end, scale, offset of the cell pair)
    let mut coarse: Vec<(u32, usize, usize, f32, f32)> = Vec::new();
    let mut keys: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < hits.len() {
        let track = hits[i].track;
        let mut j = i;
        while j < hits.len() && hits[j].track == track {
            j += 1;
        }
        let (start, end) = (i, j);
        i = j;
        if ((end - start) as u32) < RUNNER_UP_FLOOR {
            continue;
        }
        keys.clear();
        for (k, &s) in coarse_scales.iter().enumerate() {
            for h in &hits[start..end] {
                let o = h.rt as f32 - s * h.qt as f32;
                let cell = (o / COARSE_CELL).floor() as i64 + (1 << 22);
                keys.push((k as u32) << 24 | (cell as u32 & 0xff_ffff));
            }
        }
        keys.sort_unstable();
        if let Some((n, key)) = best_pair(&keys) {
            let k = (key >> 24) as usize;
            let cell = i64::from(key & 0xff_ffff) - (1 << 22);
            coarse.push((n, start, end, coarse_scales[k], (cell + 1) as f32 * COARSE_CELL));
        }
    }
    coarse.sort_by_key(|c| std::cmp::Reverse(c.0));
    coarse.truncate(REFINED);
    let mut out = Vec::new();
    let mut fine: Vec<u64> = Vec::new();
    for &(_, start, end, scale, offset) in &coarse {
        let run = &hits[start..end];
        let near: Vec<&Hit> = run
            .iter()
            .filter(|h| (h.rt as f32 - scale * h.qt as f32 - offset).abs() <= 2.0 * COARSE_CELL)
            .collect();
        let scales = grid(scale - COARSE_STEP, scale + COARSE_STEP, p.scale_step);
        fine.clear();
        for (k, &s) in scales.iter().enumerate() {
            for h in &near {
                let o = h.rt as f32 - s * h.qt as f32;
                let cell = (o / p.offset_cell as f32).floor() as i64 + (1 << 22);
                fine.push((k as u64) << 56 | ((cell as u64) & 0xff_ffff) << 32 | u64::from(h.hash));
            }
        }
        fine.sort_unstable();
        fine.dedup();
        let cells: Vec<u32> = fine.iter().map(|&x| (x >> 32) as u32).collect();
        let Some((count, key)) = best_pair(&cells) else {
            continue;
        };
        let s = scales[(key >> 24) as usize];
        let cell = i64::from(key & 0xff_ffff) - (1 << 22);
        // The supporting hits: refine the scale and offset by least squares.
        let lo = cell as f32 * p.offset_cell as f32;
        let hi = (cell + 2) as f32 * p.offset_cell as f32;
        let support: Vec<&Hit> = near
            .iter()
            .copied()
            .filter(|h| {
                let o = h.rt as f32 - s * h.qt as f32;
                o >= lo && o < hi
            })
            .collect();
        let (s, o) = fit(&support).unwrap_or((s, (lo + hi) / 2.0));
        let first = support.iter().map(|h| h.qt).min().unwrap_or(0) as f32;
        let last = support.iter().map(|h| h.qt).max().unwrap_or(0) as f32;
        out.push((
            Candidate {
                track: run[0].track,
                offset: o.round() as i64,
                count,
                first,
                last,
                total: run.len() as u32,
            },
            s,
        ));
    }
    out
}

/// Scales from `lo` to `hi` in `step`s.
fn grid(lo: f32, hi: f32, step: f32) -> Vec<f32> {
    let n = ((hi - lo) / step).round() as usize + 1;
    (0..n).map(|k| lo + k as f32 * step).collect()
}

/// In sorted keys of (scale << 24 | cell), the most populated pair of
/// neighbouring cells of one scale (a true alignment may straddle an
/// edge): its count and its first cell's key.
fn best_pair(keys: &[u32]) -> Option<(u32, u32)> {
    let mut best: Option<(u32, u32)> = None;
    let mut prev: Option<(u32, u32)> = None;
    let mut s = 0;
    while s < keys.len() {
        let key = keys[s];
        let mut e = s;
        while e < keys.len() && keys[e] == key {
            e += 1;
        }
        let n = (e - s) as u32;
        let (pair, first) = match prev {
            Some((pk, pn)) if pk + 1 == key => (pn + n, pk),
            _ => (n, key),
        };
        if best.is_none_or(|b| pair > b.0) {
            best = Some((pair, first));
        }
        prev = Some((key, n));
        s = e;
    }
    best.filter(|b| b.0 >= RUNNER_UP_FLOOR)
}

/// Least-squares line `rt = scale · qt + offset` through the hits, when
/// they span enough clip time to fix a slope.
fn fit(hits: &[&Hit]) -> Option<(f32, f32)> {
    let n = hits.len() as f64;
    if n < 3.0 {
        return None;
    }
    let mx = hits.iter().map(|h| f64::from(h.qt)).sum::<f64>() / n;
    let my = hits.iter().map(|h| f64::from(h.rt)).sum::<f64>() / n;
    let sxx: f64 = hits.iter().map(|h| (f64::from(h.qt) - mx).powi(2)).sum();
    let sxy: f64 = hits
        .iter()
        .map(|h| (f64::from(h.qt) - mx) * (f64::from(h.rt) - my))
        .sum();
    if sxx < 100.0 * n {
        return None;
    }
    let scale = sxy / sxx;
    Some((scale as f32, (my - scale * mx) as f32))
}

/// The clip's pitch against the stored peaks at `ref = scale · t + offset`
/// (the most common ratio of aligned peak frequencies, in cents), and the
/// share of clip peaks with a partner at that ratio.
fn pitch_of(clip: &[Peak], stored: &[Peak], scale: f32, offset: f32, p: &TolerantParams) -> (f32, f32) {
    let (max_cents, win) = (p.max_cents, p.peak_window);
    const CELL: f32 = 10.0;
    let cells = (2.0 * max_cents / CELL) as usize + 1;
    let mut hist = vec![0u32; cells];
    let mut pairs: Vec<(usize, f32)> = Vec::new();
    let mut inside = 0usize;
    for (qi, q) in clip.iter().enumerate() {
        let t = scale * q.time as f32 + offset;
        if t < 0.0 {
            continue;
        }
        let from = stored.partition_point(|s| (s.time as f32) < t - win);
        if from >= stored.len() {
            continue;
        }
        inside += 1;
        for s in stored[from..].iter().take_while(|s| (s.time as f32) <= t + win) {
            if s.freq16 < 16 || q.freq16 < 16 {
                continue;
            }
            let cents = 1200.0 * (q.bin() / s.bin()).log2();
            if cents.abs() <= max_cents {
                hist[((cents + max_cents) / CELL) as usize] += 1;
                pairs.push((qi, cents));
            }
        }
    }
    let Some(mode) = (1..cells.saturating_sub(1)).max_by_key(|&c| hist[c - 1] + hist[c] + hist[c + 1]) else {
        return (0.0, 0.0);
    };
    let centre = mode as f32 * CELL - max_cents + CELL / 2.0;
    let near: Vec<&(usize, f32)> = pairs.iter().filter(|p| (p.1 - centre).abs() <= 1.5 * CELL).collect();
    if near.is_empty() || inside == 0 {
        return (0.0, 0.0);
    }
    let cents = near.iter().map(|p| p.1).sum::<f32>() / near.len() as f32;
    let mut met: Vec<usize> = near.iter().map(|p| p.0).collect();
    met.dedup();
    (cents, met.len() as f32 / inside as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(track: TrackId, qt: u32, rt: u32, hash: u32) -> Hit {
        Hit { track, qt, rt, hash }
    }

    #[test]
    fn a_stretched_alignment_wins_its_scale() {
        let p = TolerantParams::default();
        let mut hits = Vec::new();
        // Track 1: the clip runs 10 % fast from frame 500 of the track.
        for i in 0..40u32 {
            let qt = i * 15;
            hits.push(hit(1, qt, (1.1 * qt as f32 + 500.0).round() as u32, 100 + i));
        }
        // Track 2: as many hits, scattered.
        for i in 0..40u32 {
            hits.push(hit(2, (i * 37) % 600, (i * 7919) % 9000, 200 + i));
        }
        let c = vote(&mut hits, &p);
        let (best, scale) = c.iter().max_by_key(|c| c.0.count).copied().unwrap();
        assert_eq!(best.track, 1);
        assert!(best.count >= 36, "{best:?}");
        assert!((scale - 1.1).abs() < 0.003, "{scale}");
        assert!((best.offset - 500).abs() <= 2, "{best:?}");
        assert!(c.iter().all(|c| c.0.track != 2 || c.0.count < 10));
    }

    #[test]
    fn pitch_is_read_off_aligned_peaks() {
        let stored: Vec<Peak> = (0..200)
            .map(|i| Peak {
                time: i * 5,
                freq16: ((40 + (i * 37) % 300) * 16) as u16,
            })
            .collect();
        let ratio = 2f32.powf(150.0 / 1200.0);
        let clip: Vec<Peak> = stored[40..120]
            .iter()
            .map(|s| Peak {
                time: s.time - 200,
                freq16: (s.bin() * ratio * 16.0).round() as u16,
            })
            .collect();
        let (cents, share) = pitch_of(&clip, &stored, 1.0, 200.0, &TolerantParams::default());
        assert!((cents - 150.0).abs() < 5.0, "{cents}");
        assert!(share > 0.9, "{share}");
    }
}

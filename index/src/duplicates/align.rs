//! Peak-level comparison of two tracks at a known time offset: the verdict
//! half of duplicate detection.
//!
//! Hash votes say *which* track and *where*; this says *how much* of each
//! track the other covers. Each track's peaks are cut into short time bins;
//! a bin is "matched" when enough of its peaks have a partner in the other
//! track (same frequency ±1 bin, same time ±1 frame after the offset). A
//! transcode or gain change keeps a large share of peaks in every bin; a
//! different recording of the same piece keeps almost none, because peaks
//! are exact spectral maxima, not melody. Coverage is counted over bins that
//! hold music at all, so added or trimmed silence changes nothing.

use sonica_schema::Peak;

/// Thresholds of the comparison, in frames and ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignParams {
    /// Length of a coverage bin, in frames.
    pub bin_frames: u32,
    /// A bin holds music when it has at least this many peaks.
    pub min_bin_peaks: usize,
    /// A bin is matched when this share of its peaks has a partner.
    pub min_bin_ratio: f64,
    /// Time tolerance in frames, and frequency tolerance in 1/16 bins.
    pub dt: u32,
    pub df16: u16,
}

/// How two tracks cover each other at one offset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Coverage {
    /// Share of the new track's musical bins that are matched.
    pub new: f64,
    /// Share of the existing track's musical bins that are matched.
    pub old: f64,
    /// Frames from the first to the last matched peak, on the new track.
    pub span_frames: u32,
    /// Share of the new track's peaks inside that span that have a partner.
    pub ratio: f64,
    /// Matched peaks in all.
    pub matched: usize,
}

/// Compares `new` with `old` shifted so that `old.time == new.time + offset`.
/// Both peak lists may be in any order.
pub fn compare(new: &[Peak], old: &[Peak], offset: i64, p: &AlignParams) -> Coverage {
    if new.is_empty() || old.is_empty() {
        return Coverage::default();
    }
    // Old peaks grouped by frame: a frame holds a handful at most.
    let max_t = old.iter().map(|q| q.time).max().unwrap_or(0) as usize;
    let mut start = vec![0u32; max_t + 2];
    for q in old {
        start[q.time as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut fill = start.clone();
    let mut by_frame = vec![(0u16, 0u32); old.len()];
    for (k, q) in old.iter().enumerate() {
        let slot = &mut fill[q.time as usize];
        by_frame[*slot as usize] = (q.freq16, k as u32);
        *slot += 1;
    }
    let mut old_hit = vec![false; old.len()];
    let mut new_hit = vec![false; new.len()];
    for (i, q) in new.iter().enumerate() {
        let centre = i64::from(q.time) + offset;
        let lo = (centre - i64::from(p.dt)).max(0);
        let hi = (centre + i64::from(p.dt)).min(max_t as i64);
        for t in lo..=hi {
            let t = t as usize;
            for &(f, k) in &by_frame[start[t] as usize..start[t + 1] as usize] {
                if f.abs_diff(q.freq16) <= p.df16 {
                    new_hit[i] = true;
                    old_hit[k as usize] = true;
                }
            }
        }
    }
    let matched = new_hit.iter().filter(|&&h| h).count();
    let (first, last) = new
        .iter()
        .zip(&new_hit)
        .filter(|(_, &h)| h)
        .fold((u32::MAX, 0u32), |(a, b), (q, _)| (a.min(q.time), b.max(q.time)));
    let (span_frames, ratio) = if matched == 0 {
        (0, 0.0)
    } else {
        let inside = new.iter().filter(|q| q.time >= first && q.time <= last).count();
        (last - first, matched as f64 / inside.max(1) as f64)
    };
    Coverage {
        new: bin_coverage(new, &new_hit, p),
        old: bin_coverage(old, &old_hit, p),
        span_frames,
        ratio,
        matched,
    }
}

/// Share of the musical bins of one track whose peaks are matched enough.
fn bin_coverage(peaks: &[Peak], hit: &[bool], p: &AlignParams) -> f64 {
    let bins = peaks.iter().map(|q| q.time / p.bin_frames).max().unwrap_or(0) as usize + 1;
    let mut total = vec![0usize; bins];
    let mut matched = vec![0usize; bins];
    for (q, &h) in peaks.iter().zip(hit) {
        let b = (q.time / p.bin_frames) as usize;
        total[b] += 1;
        matched[b] += usize::from(h);
    }
    let mut musical = 0usize;
    let mut covered = 0usize;
    for (t, m) in total.iter().zip(&matched) {
        if *t >= p.min_bin_peaks {
            musical += 1;
            if *m as f64 >= p.min_bin_ratio * *t as f64 {
                covered += 1;
            }
        }
    }
    if musical == 0 {
        0.0
    } else {
        covered as f64 / musical as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AlignParams {
        AlignParams {
            bin_frames: 100,
            min_bin_peaks: 5,
            min_bin_ratio: 0.3,
            dt: 1,
            df16: 16,
        }
    }

    /// A deterministic pseudo-random constellation, `per_frame` peaks every
    /// other frame for `frames` frames.
    fn constellation(seed: u64, frames: u32) -> Vec<Peak> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut out = Vec::new();
        for t in (0..frames).step_by(2) {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            out.push(Peak {
                time: t,
                freq16: 300 + ((s >> 33) % 7000) as u16,
            });
        }
        out
    }

    fn shifted(p: &[Peak], by: u32) -> Vec<Peak> {
        p.iter()
            .map(|q| Peak {
                time: q.time + by,
                ..*q
            })
            .collect()
    }

    #[test]
    fn identical_tracks_cover_each_other_fully() {
        let a = constellation(1, 3000);
        let c = compare(&a, &a, 0, &params());
        assert_eq!((c.new, c.old), (1.0, 1.0));
        assert!(c.ratio > 0.99);
    }

    #[test]
    fn a_section_covers_itself_but_little_of_the_whole() {
        let whole = constellation(2, 5000);
        let section: Vec<Peak> = whole
            .iter()
            .filter(|q| (2000..2600).contains(&q.time))
            .map(|q| Peak {
                time: q.time - 2000,
                ..*q
            })
            .collect();
        let c = compare(&section, &whole, 2000, &params());
        assert!(c.new > 0.95, "{c:?}");
        assert!(c.old < 0.2, "{c:?}");
        assert!((590..=600).contains(&c.span_frames), "{c:?}");
    }

    #[test]
    fn leading_silence_is_not_counted_against_coverage() {
        let a = constellation(3, 3000);
        let later = shifted(&a, 500);
        let c = compare(&later, &a, -500, &params());
        assert_eq!((c.new, c.old), (1.0, 1.0));
    }

    #[test]
    fn the_wrong_offset_or_another_track_matches_almost_nothing() {
        let a = constellation(4, 3000);
        let b = constellation(5, 3000);
        assert!(compare(&a, &b, 0, &params()).new < 0.1);
        assert!(compare(&a, &a, 37, &params()).new < 0.1);
    }

    #[test]
    fn small_time_and_frequency_jitter_still_matches() {
        let a = constellation(6, 3000);
        let jittered: Vec<Peak> = a
            .iter()
            .enumerate()
            .map(|(i, q)| Peak {
                time: q.time + (i % 2) as u32,
                freq16: q.freq16 + (i % 3) as u16 * 5,
            })
            .collect();
        let c = compare(&jittered, &a, 0, &params());
        assert!(c.new > 0.95 && c.old > 0.95, "{c:?}");
    }

    #[test]
    fn empty_inputs_give_no_coverage() {
        assert_eq!(compare(&[], &constellation(7, 100), 0, &params()), Coverage::default());
    }
}

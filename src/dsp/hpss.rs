//! Harmonic/percussive separation by median filtering (Fitzgerald 2010),
//! streaming, on a band spectrogram.
//!
//! A sustained note is a horizontal line in a spectrogram and a drum hit a
//! vertical one: the median of a band over neighbouring frames estimates the
//! harmonic part, the median of a frame over neighbouring bands the
//! percussive part, and a soft (Wiener-like) mask `P/(P+H)` (on powers) says how much
//! of each cell is percussive. Working on a few dozen bands (a mel bank)
//! rather than every FFT bin keeps it to a few microseconds a frame.
//!
//! The time median needs `half_time` frames of the future, so masks come
//! out that many frames late; [`Hpss::finish`] flushes the last ones with
//! the frames there are.

use std::collections::VecDeque;

pub struct Hpss {
    bands: usize,
    half_time: usize,
    half_bands: usize,
    /// The last `2 × half_time + 1` frames (fewer at the start).
    hist: VecDeque<Vec<f32>>,
    /// Index of the next frame whose mask is due.
    next: usize,
    /// Frames pushed so far.
    pushed: usize,
    scratch: Vec<f32>,
}

impl Hpss {
    /// `bands` values per frame; medians over ±`half_time` frames and
    /// ±`half_bands` bands.
    pub fn new(bands: usize, half_time: usize, half_bands: usize) -> Self {
        Hpss {
            bands,
            half_time,
            half_bands,
            hist: VecDeque::with_capacity(2 * half_time + 1),
            next: 0,
            pushed: 0,
            scratch: Vec::with_capacity(2 * half_time.max(half_bands) + 1),
        }
    }

    /// Frames pushed but not yet given a mask.
    pub fn delay(&self) -> usize {
        self.pushed - self.next
    }

    /// One frame of band powers (`bands` long; shorter frames are padded
    /// with zeros). Calls `out` with the percussive mask (0–1 per band) of
    /// every frame that became due, in order.
    pub fn push(&mut self, frame: &[f32], out: &mut dyn FnMut(&[f32])) {
        let mut f = frame.to_vec();
        f.resize(self.bands, 0.0);
        if self.hist.len() == 2 * self.half_time + 1 {
            self.hist.pop_front();
        }
        self.hist.push_back(f);
        self.pushed += 1;
        while self.next + self.half_time < self.pushed {
            self.emit(out);
        }
    }

    /// Masks of the frames still waiting for their future.
    pub fn finish(&mut self, out: &mut dyn FnMut(&[f32])) {
        while self.next < self.pushed {
            self.emit(out);
        }
    }

    fn emit(&mut self, out: &mut dyn FnMut(&[f32])) {
        // The frame `next` sits at this position of the history.
        let first = self.pushed - self.hist.len();
        let at = self.next - first;
        let lo = at.saturating_sub(self.half_time);
        let hi = (at + self.half_time + 1).min(self.hist.len());
        let mut mask = vec![0.0f32; self.bands];
        for (b, m) in mask.iter_mut().enumerate() {
            self.scratch.clear();
            self.scratch.extend((lo..hi).map(|t| self.hist[t][b]));
            let h = median(&mut self.scratch);
            self.scratch.clear();
            let (blo, bhi) = (
                b.saturating_sub(self.half_bands),
                (b + self.half_bands + 1).min(self.bands),
            );
            self.scratch.extend_from_slice(&self.hist[at][blo..bhi]);
            let p = median(&mut self.scratch);
            // The values are powers: P/(P+H) is the usual soft mask on
            // squared magnitudes (librosa's `softmask` with power 2).
            *m = if p + h > 0.0 { p / (p + h) } else { 0.0 };
        }
        self.next += 1;
        out(&mask);
    }
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady tone in band 3 and a click across every band at frame 20.
    fn masks() -> Vec<Vec<f32>> {
        let mut h = Hpss::new(8, 4, 2);
        let mut out = Vec::new();
        for t in 0..40 {
            let mut f = vec![0.001f32; 8];
            f[3] = 1.0;
            if t == 20 {
                f.iter_mut().for_each(|v| *v += 1.0);
            }
            h.push(&f, &mut |m| out.push(m.to_vec()));
            assert!(h.delay() <= 4);
        }
        h.finish(&mut |m| out.push(m.to_vec()));
        out
    }

    #[test]
    fn a_tone_is_harmonic_and_a_click_percussive() {
        let m = masks();
        assert_eq!(m.len(), 40, "one mask per frame, in order");
        assert!(m[10][3] < 0.05, "the steady tone: {}", m[10][3]);
        for b in [0, 1, 5, 7] {
            assert!(m[20][b] > 0.9, "the click in band {b}: {}", m[20][b]);
        }
        assert!(m[30][6] < 0.6, "quiet steady noise is not percussive: {}", m[30][6]);
    }
}

//! The last few windows' audio, stitched back into one stretch on demand:
//! placing a play's start or end needs the audio around it after the
//! windows that heard it have been answered, and keeping just the recent
//! windows (not the recording) is what bounds a monitor's memory.

use std::collections::VecDeque;
use std::sync::Arc;

/// Recent windows of a stream, by window number.
#[derive(Debug)]
pub struct Recent {
    /// Samples between window starts.
    hop: usize,
    keep: usize,
    windows: VecDeque<(u64, Arc<[f32]>)>,
}

impl Recent {
    /// Holds the last `keep` windows of a stream whose windows start every
    /// `hop` samples.
    pub fn new(hop: usize, keep: usize) -> Recent {
        Recent {
            hop: hop.max(1),
            keep: keep.max(1),
            windows: VecDeque::new(),
        }
    }

    /// Adds window `index` (windows come in order).
    pub fn push(&mut self, index: u64, pcm: Arc<[f32]>) {
        self.windows.push_back((index, pcm));
        while self.windows.len() > self.keep {
            self.windows.pop_front();
        }
    }

    /// The held audio from sample `from` to sample `to` (stream sample
    /// numbers), as (first sample number actually returned, samples): the
    /// stretch is cut to what is still held.
    pub fn region(&self, from: u64, to: u64) -> (u64, Vec<f32>) {
        let Some(&(first, _)) = self.windows.front() else {
            return (from, Vec::new());
        };
        let mut cursor = from.max(first * self.hop as u64);
        let start = cursor;
        let mut out = Vec::new();
        for (index, pcm) in &self.windows {
            let ws = index * self.hop as u64;
            let we = ws + pcm.len() as u64;
            if ws > cursor || we <= cursor {
                continue;
            }
            let end = we.min(to);
            if end > cursor {
                out.extend_from_slice(&pcm[(cursor - ws) as usize..(end - ws) as usize]);
                cursor = end;
            }
            if cursor >= to {
                break;
            }
        }
        (start, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Window `k` of a stream whose sample n is n itself, 10 long, hop 4.
    fn window(k: u64) -> Arc<[f32]> {
        (k * 4..k * 4 + 10).map(|n| n as f32).collect::<Vec<_>>().into()
    }

    #[test]
    fn stitches_overlapping_windows_into_the_original_samples() {
        let mut r = Recent::new(4, 3);
        for k in 0..5 {
            r.push(k, window(k));
        }
        // Windows 2, 3, 4 are held: samples 8..26.
        let (start, s) = r.region(0, 100);
        assert_eq!(start, 8);
        assert_eq!(s, (8..26).map(|n| n as f32).collect::<Vec<_>>());
        let (start, s) = r.region(11, 19);
        assert_eq!(start, 11);
        assert_eq!(s, (11..19).map(|n| n as f32).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_or_evicted_stretch_is_empty() {
        let r = Recent::new(4, 3);
        assert!(r.region(0, 10).1.is_empty());
        let mut r = Recent::new(4, 1);
        r.push(0, window(0));
        r.push(1, window(1));
        assert!(r.region(0, 4).1.is_empty());
    }
}

//! Cutting a sample stream into frames.
//!
//! Frames are `size` samples, `hop` apart, the first starting at sample 0;
//! at most a few frames of samples are kept, so a 3-hour file streams
//! through in constant memory.

/// Cuts a sample stream into frames of `size`, `hop` apart.
pub struct Framer {
    size: usize,
    hop: usize,
    buf: Vec<f32>,
    /// Start of the next frame within `buf`.
    next: usize,
}

impl Framer {
    pub fn new(size: usize, hop: usize) -> Self {
        Framer {
            size,
            hop: hop.max(1),
            buf: Vec::with_capacity(size * 4),
            next: 0,
        }
    }

    /// Feeds samples; calls `on_frame(frame)` for each completed frame.
    pub fn push(&mut self, samples: &[f32], on_frame: &mut dyn FnMut(&[f32])) {
        self.buf.extend_from_slice(samples);
        while self.buf.len() >= self.next + self.size {
            on_frame(&self.buf[self.next..self.next + self.size]);
            self.next += self.hop;
        }
        // Drop used samples only now and then: a memmove per packet shows.
        let used = self.next.min(self.buf.len());
        if used >= 4 * self.size.max(self.hop) {
            self.buf.drain(..used);
            self.next -= used;
        }
    }

    /// Emits the last partial frame zero-padded, when at least `min_fill`
    /// of it is real audio, and starts over.
    pub fn finish(&mut self, min_fill: usize, on_frame: &mut dyn FnMut(&[f32])) {
        if self.buf.len() > self.next && self.buf.len() - self.next >= min_fill.max(1) {
            let mut last = self.buf[self.next..].to_vec();
            last.resize(self.size, 0.0);
            on_frame(&last);
        }
        self.buf.clear();
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_hop_spaced_whatever_the_chunking() {
        let data: Vec<f32> = (0..40).map(|i| i as f32).collect();
        for chunk in [1, 3, 7, 40] {
            let mut f = Framer::new(8, 4);
            let mut starts = Vec::new();
            for c in data.chunks(chunk) {
                f.push(c, &mut |fr| starts.push(fr[0] as usize));
            }
            assert_eq!(starts, vec![0, 4, 8, 12, 16, 20, 24, 28, 32], "chunk {chunk}");
        }
    }

    #[test]
    fn the_tail_is_padded_only_when_full_enough() {
        let data: Vec<f32> = (1..=10).map(|i| i as f32).collect();
        let mut f = Framer::new(8, 8);
        let mut frames = Vec::new();
        f.push(&data, &mut |fr| frames.push(fr.to_vec()));
        f.finish(3, &mut |fr| frames.push(fr.to_vec()));
        assert_eq!(frames.len(), 1, "2 samples left, 3 needed");
        let mut f = Framer::new(8, 8);
        f.push(&data, &mut |_| {});
        f.finish(2, &mut |fr| frames.push(fr.to_vec()));
        assert_eq!(frames[1], vec![9.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}

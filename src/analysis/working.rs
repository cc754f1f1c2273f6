//! The mono working-rate stream that tempo, key, timbre and drums run on.
//!
//! Every source is downmixed (by the caller) and resampled with rubato to
//! [`WORK_RATE`], so that every estimator sees the same time and frequency
//! grid whatever the file's rate: 22.05 kHz keeps everything up to 11 kHz
//! (hi-hats included) at half the cost of 44.1 kHz. The stream is capped at
//! [`WORK_CAP_S`]: beyond it the music is assumed to repeat itself, and a
//! 3-hour file then costs no more than a 20-minute one (loudness and the
//! bands still cover everything).

use rubato::{FftFixedIn, Resampler};

use super::error::AnalysisError;

/// Sample rate of the working stream.
pub const WORK_RATE: u32 = 22050;
/// At most this many seconds of the range reach the working stream.
pub const WORK_CAP_S: f64 = 20.0 * 60.0;

const CHUNK: usize = 2048;

/// Streaming mono resampler to [`WORK_RATE`], with the cap.
pub struct ToWorkRate {
    from: u32,
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
    /// Output samples still to drop (the resampler's delay), so output 0 lines up with input 0.
    skip: usize,
    /// Output samples the input so far implies.
    expected_out: f64,
    emitted: usize,
    cap: usize,
}

impl ToWorkRate {
    pub fn new(from: u32) -> Result<Self, AnalysisError> {
        let inner = if from == WORK_RATE {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(from as usize, WORK_RATE as usize, CHUNK, 1, 1)
                    .map_err(|e| AnalysisError::internal("resampler", e))?,
            )
        };
        let skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let out = inner.as_ref().map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(ToWorkRate {
            from,
            inner,
            pending: Vec::with_capacity(CHUNK * 2),
            out,
            skip,
            expected_out: 0.0,
            emitted: 0,
            cap: (WORK_CAP_S * f64::from(WORK_RATE)) as usize,
        })
    }

    /// Whether the cap has been reached (later input is ignored).
    pub fn full(&self) -> bool {
        self.emitted >= self.cap
    }

    /// Mono source-rate samples in; working-rate samples to `sink`.
    pub fn push(&mut self, mono: &[f32], sink: &mut dyn FnMut(&[f32])) -> Result<(), AnalysisError> {
        if self.full() {
            return Ok(());
        }
        self.expected_out += mono.len() as f64 * f64::from(WORK_RATE) / f64::from(self.from);
        let Some(r) = self.inner.as_mut() else {
            let take = mono.len().min(self.cap - self.emitted);
            self.emitted += take;
            sink(&mono[..take]);
            return Ok(());
        };
        self.pending.extend_from_slice(mono);
        let mut start = 0;
        while self.pending.len() - start >= r.input_frames_next() {
            let need = r.input_frames_next();
            let (_, n) = r
                .process_into_buffer(&[&self.pending[start..start + need]], &mut self.out, None)
                .map_err(|e| AnalysisError::internal("resampler", e))?;
            start += need;
            emit(&self.out[0][..n], &mut self.skip, &mut self.emitted, self.cap, sink);
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the tail: exactly as many samples as the input implies (up to the cap).
    pub fn finish(&mut self, sink: &mut dyn FnMut(&[f32])) -> Result<(), AnalysisError> {
        let target = (self.expected_out.round() as usize).min(self.cap);
        let Some(r) = self.inner.as_mut() else {
            return Ok(());
        };
        let mut rounds = 0;
        while self.emitted < target && rounds < 8 {
            let input: Option<&[&[f32]]> = if self.pending.is_empty() {
                None
            } else {
                Some(&[&self.pending[..]])
            };
            let (_, n) = r
                .process_partial_into_buffer(input, &mut self.out, None)
                .map_err(|e| AnalysisError::internal("resampler", e))?;
            self.pending.clear();
            let take = n.min(target - self.emitted + self.skip);
            emit(&self.out[0][..take], &mut self.skip, &mut self.emitted, target, sink);
            rounds += 1;
        }
        Ok(())
    }
}

fn emit(buf: &[f32], skip: &mut usize, emitted: &mut usize, cap: usize, sink: &mut dyn FnMut(&[f32])) {
    let drop = (*skip).min(buf.len());
    *skip -= drop;
    let rest = &buf[drop..];
    let rest = &rest[..rest.len().min(cap.saturating_sub(*emitted))];
    if !rest.is_empty() {
        *emitted += rest.len();
        sink(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampled_length_and_alignment() {
        // A click at 1.0 s must stay at 1.0 s.
        let mut x = vec![0.0f32; 44100 * 2];
        x[44100] = 1.0;
        let mut r = ToWorkRate::new(44100).unwrap();
        let mut out = Vec::new();
        for c in x.chunks(1000) {
            r.push(c, &mut |s| out.extend_from_slice(s)).unwrap();
        }
        r.finish(&mut |s| out.extend_from_slice(s)).unwrap();
        assert_eq!(out.len(), 44100);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert!((peak as i64 - 22050).abs() <= 2, "peak at {peak}");
    }
}

//! Resampling to the analysis rate with rubato, as a streaming stage.
//!
//! Every file is analysed at [`ANALYSIS_RATE`] so that hashes from a 44.1 kHz
//! FLAC and an 8 kHz phone recording of the same song agree. rubato's FFT
//! resampler is used because it is the fastest of its resamplers and its
//! quality is ample below 4 kHz, where the fingerprint looks.

use rubato::{FftFixedIn, Resampler};

/// The one sample rate all analysis runs at. 8 kHz keeps 0–4 kHz, the band
/// that survives telephone lines, low-bitrate codecs and noisy rooms, and
/// makes decoding-to-peaks cheap.
pub const ANALYSIS_RATE: u32 = 8000;

const CHUNK: usize = 4096;

/// Streaming mono resampler from a source rate to [`ANALYSIS_RATE`].
pub struct ToAnalysisRate {
    from: u32,
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
    /// Output frames still to drop: the resampler's group delay, so that
    /// sample 0 of the output lines up with sample 0 of the input.
    skip: usize,
    /// Output frames still owed: total input / ratio, so the tail is exact.
    expected_out: f64,
    emitted: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot resample from {from} Hz: {why}")]
pub struct ResampleError {
    pub from: u32,
    pub why: String,
}

impl ToAnalysisRate {
    pub fn new(from: u32) -> Result<Self, ResampleError> {
        if from == 0 {
            return Err(ResampleError {
                from,
                why: "sample rate is zero".into(),
            });
        }
        let inner = if from == ANALYSIS_RATE {
            None
        } else {
            let r = FftFixedIn::<f32>::new(from as usize, ANALYSIS_RATE as usize, CHUNK, 1, 1).map_err(|e| {
                ResampleError {
                    from,
                    why: e.to_string(),
                }
            })?;
            Some(r)
        };
        let skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let out = inner.as_ref().map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(ToAnalysisRate {
            from,
            inner,
            pending: Vec::with_capacity(CHUNK * 2),
            out,
            skip,
            expected_out: 0.0,
            emitted: 0,
        })
    }

    fn ratio(&self, from_len: usize) -> f64 {
        from_len as f64 * f64::from(ANALYSIS_RATE) / f64::from(self.from)
    }

    /// Feeds source-rate samples; resampled output goes to `sink`.
    pub fn push(&mut self, input: &[f32], sink: &mut dyn FnMut(&[f32])) -> Result<(), ResampleError> {
        self.expected_out += self.ratio(input.len());
        let Some(r) = self.inner.as_mut() else {
            self.emitted += input.len();
            sink(input);
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= r.input_frames_next() {
            let need = r.input_frames_next();
            let (_, n) = r
                .process_into_buffer(&[&self.pending[start..start + need]], &mut self.out, None)
                .map_err(|e| ResampleError {
                    from: 0,
                    why: e.to_string(),
                })?;
            start += need;
            emit(&self.out[0][..n], &mut self.skip, &mut self.emitted, sink);
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the tail, emitting exactly as many samples as the input
    /// duration implies.
    pub fn finish(&mut self, sink: &mut dyn FnMut(&[f32])) -> Result<(), ResampleError> {
        let Some(r) = self.inner.as_mut() else {
            return Ok(());
        };
        let target = self.expected_out.round() as usize;
        let mut rounds = 0;
        while self.emitted < target && rounds < 8 {
            let input: Option<&[&[f32]]> = if self.pending.is_empty() {
                None
            } else {
                Some(&[&self.pending[..]])
            };
            let (_, n) = r
                .process_partial_into_buffer(input, &mut self.out, None)
                .map_err(|e| ResampleError {
                    from: 0,
                    why: e.to_string(),
                })?;
            self.pending.clear();
            let take = n.min(target - self.emitted + self.skip);
            emit(&self.out[0][..take], &mut self.skip, &mut self.emitted, sink);
            rounds += 1;
        }
        Ok(())
    }
}

fn emit(buf: &[f32], skip: &mut usize, emitted: &mut usize, sink: &mut dyn FnMut(&[f32])) {
    let drop = (*skip).min(buf.len());
    *skip -= drop;
    let rest = &buf[drop..];
    if !rest.is_empty() {
        *emitted += rest.len();
        sink(rest);
    }
}

/// Resamples a whole buffer (tests and small clips).
pub fn resample(input: &[f32], from: u32) -> Result<Vec<f32>, ResampleError> {
    let mut out =
        Vec::with_capacity((input.len() as f64 * f64::from(ANALYSIS_RATE) / f64::from(from.max(1))) as usize + 16);
    let mut r = ToAnalysisRate::new(from)?;
    for chunk in input.chunks(10_000) {
        r.push(chunk, &mut |s| out.extend_from_slice(s))?;
    }
    r.finish(&mut |s| out.extend_from_slice(s))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, secs: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Estimated frequency from zero crossings.
    fn zc_freq(x: &[f32], rate: u32) -> f32 {
        let z = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        z as f32 * rate as f32 / x.len() as f32
    }

    #[test]
    fn length_and_pitch_are_preserved() {
        for from in [44_100u32, 48_000, 16_000, 192_000, 11_025] {
            let x = sine(440.0, from, 2.0);
            let y = resample(&x, from).unwrap();
            let expect = 2 * ANALYSIS_RATE as usize;
            assert!(
                (y.len() as i64 - expect as i64).abs() <= 2,
                "{from}: {} vs {expect}",
                y.len()
            );
            let f = zc_freq(&y[800..y.len() - 800], ANALYSIS_RATE);
            assert!((f - 440.0).abs() < 3.0, "{from}: {f}");
        }
    }

    #[test]
    fn content_above_nyquist_is_removed() {
        let x = sine(6000.0, 44_100, 1.0);
        let y = resample(&x, 44_100).unwrap();
        let rms = (y[500..7500].iter().map(|v| v * v).sum::<f32>() / 7000.0).sqrt();
        assert!(rms < 0.05, "aliasing rms {rms}");
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(ToAnalysisRate::new(0).is_err());
    }
}

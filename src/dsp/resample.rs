//! The one streaming resampler: any rate in, one rate out, rubato's FFT
//! resampler underneath.
//!
//! The fingerprint reads 8 kHz and the music analysis 22.05 kHz; both go
//! through this type. rubato's FFT resampler is the fastest of its kind and
//! its quality is ample for both. Output sample 0 lines up with input
//! sample 0 (the resampler's delay is dropped) and the output length is
//! exactly what the input duration implies, so stages that count samples
//! agree on time. An optional cap stops the output after so many samples
//! (the analysis reads at most 20 minutes of a long file).

use rubato::{FftFixedIn, Resampler as _};

/// Streaming mono resampler from `from` Hz to `to` Hz.
pub struct Resampler {
    from: u32,
    to: u32,
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
    /// Output frames still to drop: the resampler's group delay.
    skip: usize,
    /// Output frames the input so far implies.
    expected_out: f64,
    emitted: usize,
    /// No output past this many samples.
    cap: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot resample from {from} Hz: {why}")]
pub struct ResampleError {
    pub from: u32,
    pub why: String,
}

impl Resampler {
    /// A resampler from `from` to `to` Hz taking input `chunk` samples at a
    /// time (rubato's FFT size; larger is faster per sample, smaller has
    /// less delay). Equal rates pass samples through untouched.
    pub fn new(from: u32, to: u32, chunk: usize) -> Result<Self, ResampleError> {
        let fail = |why: String| ResampleError { from, why };
        if from == 0 || to == 0 {
            return Err(fail("sample rate is zero".into()));
        }
        let inner = if from == to {
            None
        } else {
            Some(FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 1, 1).map_err(|e| fail(e.to_string()))?)
        };
        let skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let out = inner.as_ref().map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(Resampler {
            from,
            to,
            inner,
            pending: Vec::with_capacity(chunk * 2),
            out,
            skip,
            expected_out: 0.0,
            emitted: 0,
            cap: usize::MAX,
        })
    }

    /// Stops the output after `max_out` samples; later input is ignored.
    pub fn with_cap(mut self, max_out: usize) -> Self {
        self.cap = max_out;
        self
    }

    /// Whether the cap has been reached.
    pub fn full(&self) -> bool {
        self.emitted >= self.cap
    }

    /// Output samples emitted so far.
    pub fn emitted(&self) -> usize {
        self.emitted
    }

    /// Feeds input samples; resampled output goes to `sink`.
    pub fn push(&mut self, input: &[f32], sink: &mut dyn FnMut(&[f32])) -> Result<(), ResampleError> {
        if self.full() {
            return Ok(());
        }
        self.expected_out += input.len() as f64 * f64::from(self.to) / f64::from(self.from);
        let Some(r) = self.inner.as_mut() else {
            let take = input.len().min(self.cap - self.emitted);
            self.emitted += take;
            sink(&input[..take]);
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= r.input_frames_next() {
            let need = r.input_frames_next();
            let (_, n) = r
                .process_into_buffer(&[&self.pending[start..start + need]], &mut self.out, None)
                .map_err(|e| ResampleError {
                    from: self.from,
                    why: e.to_string(),
                })?;
            start += need;
            emit(&self.out[0][..n], &mut self.skip, &mut self.emitted, self.cap, sink);
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the tail: exactly as many samples as the input implies (up
    /// to the cap).
    pub fn finish(&mut self, sink: &mut dyn FnMut(&[f32])) -> Result<(), ResampleError> {
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
                .map_err(|e| ResampleError {
                    from: self.from,
                    why: e.to_string(),
                })?;
            self.pending.clear();
            let take = n.min(target - self.emitted + self.skip);
            emit(&self.out[0][..take], &mut self.skip, &mut self.emitted, target, sink);
            rounds += 1;
        }
        Ok(())
    }
}

/// Drops what is left of the delay, then passes on at most up to `cap`.
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

/// Resamples a whole buffer (clips and tests).
///
/// ```
/// // One second of a 440 Hz tone at 44.1 kHz, to the fingerprint's 8 kHz.
/// let tone: Vec<f32> = (0..44_100)
///     .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 44_100.0).sin())
///     .collect();
/// let out = sonica::dsp::resample(&tone, 44_100, 8000, 4096).unwrap();
/// assert_eq!(out.len(), 8000);
/// ```
pub fn resample(input: &[f32], from: u32, to: u32, chunk: usize) -> Result<Vec<f32>, ResampleError> {
    let mut out = Vec::with_capacity((input.len() as f64 * f64::from(to) / f64::from(from.max(1))) as usize + 16);
    let mut r = Resampler::new(from, to, chunk)?;
    for piece in input.chunks(10_000) {
        r.push(piece, &mut |s| out.extend_from_slice(s))?;
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
        for to in [8000u32, 22_050] {
            for from in [44_100u32, 48_000, 16_000, 192_000, 11_025] {
                let x = sine(440.0, from, 2.0);
                let y = resample(&x, from, to, 4096).unwrap();
                let expect = 2 * to as usize;
                assert!(
                    (y.len() as i64 - expect as i64).abs() <= 2,
                    "{from}: {} vs {expect}",
                    y.len()
                );
                let f = zc_freq(&y[800..y.len() - 800], to);
                assert!((f - 440.0).abs() < 3.0, "{from}→{to}: {f}");
            }
        }
    }

    #[test]
    fn content_above_nyquist_is_removed() {
        let x = sine(6000.0, 44_100, 1.0);
        let y = resample(&x, 44_100, 8000, 4096).unwrap();
        let rms = (y[500..7500].iter().map(|v| v * v).sum::<f32>() / 7000.0).sqrt();
        assert!(rms < 0.05, "aliasing rms {rms}");
    }

    #[test]
    fn a_click_stays_in_place_and_the_cap_holds() {
        // A click at 1.0 s must stay at 1.0 s.
        let mut x = vec![0.0f32; 44100 * 2];
        x[44100] = 1.0;
        let mut r = Resampler::new(44100, 22050, 2048).unwrap();
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

        let mut capped = Resampler::new(44100, 22050, 2048).unwrap().with_cap(30_000);
        let mut n = 0;
        for c in x.chunks(1000) {
            capped.push(c, &mut |s| n += s.len()).unwrap();
        }
        capped.finish(&mut |s| n += s.len()).unwrap();
        assert_eq!(n, 30_000);
        assert!(capped.full());
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(Resampler::new(0, 8000, 4096).is_err());
        assert!(Resampler::new(8000, 0, 4096).is_err());
    }
}

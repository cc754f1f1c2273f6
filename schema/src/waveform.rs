//! The stored waveform of a track: what the web app's track page draws
//! without decoding the file again.
//!
//! One byte per [`HOP_S`] of audio: the peak |sample| of the mono signal in
//! that span, `round(peak * 255)` (255 = full scale, clipped above). The
//! value starts with a version byte so the layout can change without
//! breaking old stores. Ten minutes of audio take 6 KB; the six-hour limit
//! 216 KB.

use crate::SchemaError;

/// Seconds of audio per envelope byte.
pub const HOP_S: f64 = 0.1;

const VERSION: u8 = 1;

/// A track's peak envelope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Waveform {
    /// One peak per [`HOP_S`], 0–255.
    pub peaks: Vec<u8>,
}

impl Waveform {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.peaks.len() + 1);
        out.push(VERSION);
        out.extend_from_slice(&self.peaks);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Waveform, SchemaError> {
        match bytes.split_first() {
            Some((&VERSION, peaks)) => Ok(Waveform { peaks: peaks.to_vec() }),
            Some((v, _)) => Err(SchemaError::corrupt("waveform", format!("unknown version {v}"))),
            None => Err(SchemaError::corrupt("waveform", "empty value")),
        }
    }

    /// The envelope pooled into `bins` peaks (max of each span), for a
    /// drawing `bins` pixels wide. Fewer stored peaks than bins are
    /// stretched (each bin takes the peak it falls in).
    pub fn pooled(&self, bins: usize) -> Vec<u8> {
        let n = self.peaks.len();
        if n == 0 || bins == 0 {
            return vec![0; bins];
        }
        (0..bins)
            .map(|b| {
                let lo = b * n / bins;
                let hi = ((b + 1) * n / bins).max(lo + 1).min(n);
                self.peaks[lo..hi].iter().copied().max().unwrap_or(0)
            })
            .collect()
    }
}

/// Builds the envelope from audio pushed in chunks of any size.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    hop: usize,
    filled: usize,
    peak: f32,
    peaks: Vec<u8>,
}

impl EnvelopeBuilder {
    /// For audio at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        EnvelopeBuilder {
            hop: ((f64::from(rate) * HOP_S).round() as usize).max(1),
            filled: 0,
            peak: 0.0,
            peaks: Vec::new(),
        }
    }

    pub fn push(&mut self, samples: &[f32]) {
        for &x in samples {
            let a = x.abs();
            // NaN never wins a comparison: it leaves the peak alone.
            if a > self.peak {
                self.peak = a;
            }
            self.filled += 1;
            if self.filled == self.hop {
                self.close();
            }
        }
    }

    fn close(&mut self) {
        self.peaks.push((self.peak.min(1.0) * 255.0).round() as u8);
        self.peak = 0.0;
        self.filled = 0;
    }

    pub fn finish(mut self) -> Waveform {
        if self.filled > 0 {
            self.close();
        }
        Waveform { peaks: self.peaks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_pools() {
        let mut b = EnvelopeBuilder::new(100); // 10 samples per byte
        let x: Vec<f32> = (0..35).map(|i| if i == 12 { -0.5 } else { 0.1 }).collect();
        b.push(&x[..7]);
        b.push(&x[7..]);
        let w = b.finish();
        assert_eq!(w.peaks, vec![26, 128, 26, 26]);
        assert_eq!(Waveform::decode(&w.encode()).unwrap(), w);
        assert_eq!(w.pooled(2), vec![128, 26]);
        assert_eq!(w.pooled(8).len(), 8);
        assert_eq!(Waveform::default().pooled(3), vec![0, 0, 0]);
        assert!(Waveform::decode(&[]).is_err());
        assert!(Waveform::decode(&[9, 1]).is_err());
        let mut loud = EnvelopeBuilder::new(20); // 2 samples per byte
        loud.push(&[3.0, f32::NAN]);
        assert_eq!(loud.finish().peaks, vec![255]);
    }
}

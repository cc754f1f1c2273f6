//! The AcoustID-compatible Chromaprint fingerprint of a track.
//!
//! Sonica's own landmark fingerprint answers "which of *my* tracks is
//! this?"; Chromaprint is what the public AcoustID database speaks, so a
//! stored track can be looked up there (with its duration) to find its
//! MusicBrainz recording. Like `fpcalc`, it covers the first two minutes,
//! computed by rusty-chromaprint with the default algorithm (AcoustID's
//! "algorithm 2"), and compressed and base64-encoded exactly as `fpcalc`
//! prints it.

use rusty_chromaprint::{Configuration, FingerprintCompressor, Fingerprinter};

/// Seconds of audio fingerprinted, as `fpcalc`'s default `-length 120`.
pub const CHROMAPRINT_SECONDS: f64 = 120.0;

/// Feeds decoded audio to a Chromaprint fingerprinter, stopping after
/// [`CHROMAPRINT_SECONDS`].
pub struct AcoustIdPrint {
    config: Configuration,
    printer: Option<Fingerprinter>,
    channels: usize,
    left: usize,
    buf: Vec<i16>,
}

impl AcoustIdPrint {
    /// A fingerprinter for interleaved audio at `rate` with `channels`.
    /// Audio Chromaprint cannot take (a rate of 1 kHz or less) gives no
    /// fingerprint rather than an error: it is an extra, not the track.
    pub fn new(rate: u32, channels: usize) -> Self {
        let config = Configuration::default();
        let channels = channels.max(1);
        let mut printer = Fingerprinter::new(&config);
        let ok = printer.start(rate, channels as u32).is_ok();
        AcoustIdPrint {
            config,
            printer: ok.then_some(printer),
            channels,
            left: (CHROMAPRINT_SECONDS * f64::from(rate)) as usize * channels,
            buf: Vec::new(),
        }
    }

    /// Adds interleaved samples in −1..1 (whole frames).
    pub fn push(&mut self, samples: &[f32]) {
        let Some(p) = self.printer.as_mut() else { return };
        let n = samples.len().min(self.left);
        let n = n - n % self.channels;
        if n == 0 {
            return;
        }
        self.buf.clear();
        self.buf.extend(
            samples[..n]
                .iter()
                .map(|&s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16),
        );
        p.consume(&self.buf);
        self.left -= n;
    }

    /// The compressed fingerprint (before base64), or `None` when the audio
    /// gave none (too short, or an unusable rate).
    pub fn finish(mut self) -> Option<Vec<u8>> {
        let p = self.printer.as_mut()?;
        p.finish();
        let raw = p.fingerprint();
        if raw.is_empty() {
            return None;
        }
        Some(FingerprintCompressor::from(&self.config).compress(raw))
    }
}

/// URL-safe base64 without padding: how `fpcalc` and the AcoustID API write
/// a compressed fingerprint.
pub fn base64_url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors_without_padding() {
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg");
        assert_eq!(base64_url(b"fo"), "Zm8");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }

    /// A chord that changes every half second, so the chroma moves.
    fn song(rate: u32, secs: f64) -> Vec<f32> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let step = (t * 2.0) as usize % 4;
                let root = [220.0, 246.9, 261.6, 293.7][step];
                ((2.0 * std::f64::consts::PI * root * t).sin() * 0.3
                    + (2.0 * std::f64::consts::PI * root * 1.5 * t).sin() * 0.2) as f32
            })
            .collect()
    }

    fn print(rate: u32, samples: &[f32]) -> Option<Vec<u8>> {
        let mut p = AcoustIdPrint::new(rate, 1);
        for c in samples.chunks(4096) {
            p.push(c);
        }
        p.finish()
    }

    #[test]
    fn same_audio_same_print_and_it_starts_with_the_algorithm() {
        let a = print(44_100, &song(44_100, 12.0)).expect("a fingerprint");
        assert_eq!(a, print(44_100, &song(44_100, 12.0)).unwrap());
        // The compressed form starts with the algorithm id (1 = "test2",
        // AcoustID's default) and a 24-bit count of sub-fingerprints.
        assert_eq!(a[0], 1);
        let count = (usize::from(a[1]) << 16) | (usize::from(a[2]) << 8) | usize::from(a[3]);
        assert!(count > 50, "{count} sub-fingerprints for 12 s");
    }

    #[test]
    fn stops_after_two_minutes_and_refuses_unusable_rates() {
        let long = print(11_025, &song(11_025, 150.0)).unwrap();
        let two = print(11_025, &song(11_025, 120.0)).unwrap();
        assert_eq!(long, two);
        assert!(print(1_000, &song(1_000, 10.0)).is_none());
        assert!(print(44_100, &[]).is_none());
    }
}

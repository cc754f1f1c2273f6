//! A live PCM stream, turned into analysis-rate audio and cut into windows
//! worth identifying. Pure bookkeeping, no I/O: the WebSocket route feeds
//! it bytes and asks it when to try.
//!
//! Tries start after [`FIRST_TRY_S`] of audio and repeat every
//! [`EVERY_S`], each on the latest [`WINDOW_S`], so a song is named within
//! a few seconds and a change of song is noticed as the window moves on.

use serde::Deserialize;

use crate::dsp::Resampler;
use crate::fingerprint::FINGERPRINT_RATE;

pub const FIRST_TRY_S: f64 = 2.0;
pub const EVERY_S: f64 = 1.0;
pub const WINDOW_S: f64 = 10.0;

/// Sample encodings a stream may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    S16le,
    F32le,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::S16le => 2,
            Encoding::F32le => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    pub encoding: Encoding,
    pub sample_rate: u32,
    pub channels: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    sample_rate: u32,
    channels: u16,
}

/// Parses the stream's opening text frame, e.g.
/// `{"format": "pcm_s16le", "sample_rate": 44100, "channels": 2}`.
pub fn parse_header(text: &str) -> Result<PcmFormat, String> {
    let h: Header = serde_json::from_str(text).map_err(|e| format!("malformed stream header: {e}"))?;
    let encoding = match h.format.as_str() {
        "pcm_s16le" => Encoding::S16le,
        "pcm_f32le" => Encoding::F32le,
        other => {
            return Err(format!(
                "unsupported format {other:?}; use \"pcm_s16le\" or \"pcm_f32le\""
            ))
        }
    };
    // The same caps as a decoded file's header.
    crate::decode::guard::check_format(h.sample_rate, u32::from(h.channels)).map_err(|e| e.to_string())?;
    Ok(PcmFormat {
        encoding,
        sample_rate: h.sample_rate,
        channels: h.channels,
    })
}

pub struct PcmStream {
    fmt: PcmFormat,
    resampler: Resampler,
    /// Bytes of an incomplete frame left over from the last chunk.
    carry: Vec<u8>,
    /// Analysis-rate audio; the oldest is dropped beyond the window.
    buf: Vec<f32>,
    /// Samples dropped from the front of `buf` so far.
    dropped: usize,
    /// Total at the last try.
    last_try: usize,
    mono: Vec<f32>,
}

impl PcmStream {
    pub fn new(fmt: PcmFormat) -> Result<PcmStream, String> {
        // The header parser checks this too; a direct caller must not be
        // able to build a stream that divides by zero channels.
        crate::decode::guard::check_format(fmt.sample_rate, u32::from(fmt.channels)).map_err(|e| e.to_string())?;
        let resampler = crate::fingerprint::resampler(fmt.sample_rate).map_err(|e| e.to_string())?;
        Ok(PcmStream {
            fmt,
            resampler,
            carry: Vec::new(),
            buf: Vec::new(),
            dropped: 0,
            last_try: 0,
            mono: Vec::new(),
        })
    }

    /// Feeds raw bytes; frames may be split across chunks.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        let frame = self.fmt.encoding.bytes() * usize::from(self.fmt.channels);
        self.carry.extend_from_slice(bytes);
        let whole = self.carry.len() / frame * frame;
        self.mono.clear();
        let ch = usize::from(self.fmt.channels);
        let scale = 1.0 / ch as f32;
        for f in self.carry[..whole].chunks_exact(frame) {
            let mut sum = 0.0f32;
            for s in f.chunks_exact(self.fmt.encoding.bytes()) {
                sum += match self.fmt.encoding {
                    Encoding::S16le => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0,
                    Encoding::F32le => crate::decode::guard::sample(f32::from_le_bytes([s[0], s[1], s[2], s[3]])),
                };
            }
            self.mono.push(crate::decode::guard::sample(sum * scale));
        }
        self.carry.drain(..whole);
        let buf = &mut self.buf;
        self.resampler
            .push(&self.mono, &mut |o| buf.extend_from_slice(o))
            .map_err(|e| e.to_string())?;
        self.trim();
        Ok(())
    }

    /// Flushes the resampler at the end of the stream.
    pub fn finish(&mut self) -> Result<(), String> {
        let buf = &mut self.buf;
        self.resampler
            .finish(&mut |o| buf.extend_from_slice(o))
            .map_err(|e| e.to_string())?;
        self.trim();
        Ok(())
    }

    fn trim(&mut self) {
        let keep = (WINDOW_S * f64::from(FINGERPRINT_RATE)) as usize;
        // Drop in big steps so the copy is rare.
        if self.buf.len() > keep * 2 {
            let cut = self.buf.len() - keep;
            self.buf.drain(..cut);
            self.dropped += cut;
        }
    }

    fn total(&self) -> usize {
        self.dropped + self.buf.len()
    }

    /// Seconds of audio received so far.
    pub fn received_s(&self) -> f64 {
        self.total() as f64 / f64::from(FINGERPRINT_RATE)
    }

    /// Whether enough new audio has arrived to try again.
    pub fn due(&self) -> bool {
        let rate = f64::from(FINGERPRINT_RATE);
        let total = self.total();
        total as f64 >= FIRST_TRY_S * rate && (total - self.last_try) as f64 >= EVERY_S * rate
    }

    /// Whether audio arrived since the last try.
    pub fn has_untried(&self) -> bool {
        self.total() > self.last_try
    }

    /// The latest window and where it starts in the stream (seconds);
    /// marks it tried.
    pub fn take_window(&mut self) -> (Vec<f32>, f64) {
        let keep = (WINDOW_S * f64::from(FINGERPRINT_RATE)) as usize;
        let start = self.buf.len().saturating_sub(keep);
        self.last_try = self.total();
        (
            self.buf[start..].to_vec(),
            (self.dropped + start) as f64 / f64::from(FINGERPRINT_RATE),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_checked() {
        let f = parse_header(r#"{"format":"pcm_s16le","sample_rate":44100,"channels":2}"#).unwrap();
        assert_eq!(f.channels, 2);
        assert!(parse_header("{nope").unwrap_err().contains("malformed"));
        assert!(parse_header(r#"{"format":"mp3","sample_rate":44100,"channels":2}"#).is_err());
        assert!(parse_header(r#"{"format":"pcm_s16le","sample_rate":0,"channels":2}"#).is_err());
        assert!(parse_header(r#"{"format":"pcm_s16le","sample_rate":8000,"channels":0}"#).is_err());
    }

    #[test]
    fn split_frames_are_reassembled_and_windows_slide() {
        let fmt = parse_header(r#"{"format":"pcm_s16le","sample_rate":8000,"channels":2}"#).unwrap();
        let mut s = PcmStream::new(fmt).unwrap();
        // 1.5 s of a stereo frame whose channels average to 0.25.
        let mut bytes = Vec::new();
        for _ in 0..12_000 {
            bytes.extend_from_slice(&8192i16.to_le_bytes());
            bytes.extend_from_slice(&8192i16.to_le_bytes());
        }
        for chunk in bytes.chunks(333) {
            s.push(chunk).unwrap();
        }
        assert!((s.received_s() - 1.5).abs() < 1e-9);
        assert!(!s.due(), "too early for a first try");
        s.push(&bytes[..8000 * 4]).unwrap();
        assert!(s.due());
        let (w, start) = s.take_window();
        assert_eq!(start, 0.0);
        assert!(w.iter().all(|&x| (x - 0.25).abs() < 1e-6));
        assert!(!s.due(), "just tried");
        for _ in 0..12 {
            s.push(&bytes[..8000 * 4]).unwrap();
        }
        let (w, start) = s.take_window();
        assert_eq!(w.len(), 80_000);
        assert!((start + 10.0 - s.received_s()).abs() < 1e-9);
    }
}

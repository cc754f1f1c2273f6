//! What the mastering assistant keeps: the references (library tracks
//! marked with a genre, with their profile) and the analyses it has made
//! (the mix's profile, the target it was judged by, and the opening of the
//! mix for the preview).
//!
//! Keys are listed with every other tree's in `layout.rs`: `references`
//! by track id, `analyses` and `analysis_audio` by analysis id (u64 BE, so
//! a scan runs oldest first and retention drops from the front).

use serde::{Deserialize, Serialize};

use crate::mastering::MasteringProfile;
use crate::mastering_target::{Level, Target};
use crate::SchemaError;

/// Longest genre name, bytes.
pub const MAX_GENRE_BYTES: usize = 64;

/// A genre name as stored: trimmed, lower case, 1–64 bytes of letters,
/// digits, spaces, `-`, `_`, `&` or `/`. `None` for anything else.
pub fn normalise_genre(raw: &str) -> Option<String> {
    let g = raw.trim().to_lowercase();
    let ok = !g.is_empty()
        && g.len() <= MAX_GENRE_BYTES
        && g.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '&' | '/'));
    ok.then_some(g)
}

/// A library track marked as a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRecord {
    pub track_id: u32,
    pub genre: String,
    /// Seconds since the Unix epoch.
    pub marked_unix: u64,
    pub profile: MasteringProfile,
}

impl ReferenceRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a reference record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("reference record", e.to_string()))
    }
}

/// Where an analysis's target came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetSource {
    /// The user's chosen references (track ids).
    References { ids: Vec<u32> },
    /// The library's references of a genre (ids at the time).
    Genre { genre: String, ids: Vec<u32> },
    /// A built-in genre target shipped with Sonica.
    BuiltIn { genre: String },
}

/// One stored analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    pub id: u64,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// The mix's file name as the client gave it, if any.
    pub name: Option<String>,
    pub level: Level,
    pub source: TargetSource,
    pub profile: MasteringProfile,
    pub target: Target,
    /// Whether `analysis_audio` holds the opening for the preview.
    pub has_preview: bool,
}

impl AnalysisRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an analysis record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("analysis record", e.to_string()))
    }
}

const AUDIO_VERSION: u8 = 1;
/// Most samples a stored opening may hold (30 s of 8 channels at 192 kHz);
/// a value claiming more is corrupt, not an allocation.
const MAX_AUDIO_SAMPLES: usize = 30 * 192_000 * 8;

/// The opening of a mix, kept for the preview: 16-bit PCM, interleaved,
/// zstd-compressed on disk (version byte, rate u32 LE, channels u8, then
/// the zstd frame of the samples, i16 LE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewAudio {
    pub rate: u32,
    pub channels: u8,
    pub samples: Vec<i16>,
}

impl PreviewAudio {
    pub fn encode(&self) -> Vec<u8> {
        let raw: Vec<u8> = self.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = vec![AUDIO_VERSION];
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.push(self.channels);
        out.extend(zstd::bulk::compress(&raw, 3).expect("zstd compresses a slice in memory"));
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        let bad = |why: &str| SchemaError::corrupt("preview audio", why.to_string());
        if bytes.len() < 6 {
            return Err(bad("shorter than its header"));
        }
        if bytes[0] != AUDIO_VERSION {
            return Err(bad(&format!("unknown version {}", bytes[0])));
        }
        let rate = u32::from_le_bytes(bytes[1..5].try_into().expect("four bytes"));
        let channels = bytes[5];
        if rate == 0 || channels == 0 {
            return Err(bad("zero rate or channels"));
        }
        let raw = zstd::bulk::decompress(&bytes[6..], MAX_AUDIO_SAMPLES * 2).map_err(|e| bad(&e.to_string()))?;
        if raw.len() % 2 != 0 {
            return Err(bad("odd byte count"));
        }
        let samples = raw.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        Ok(PreviewAudio {
            rate,
            channels,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genres_are_normalised_or_refused() {
        assert_eq!(normalise_genre("  Drum & Bass "), Some("drum & bass".into()));
        assert_eq!(normalise_genre("hip-hop/rap"), Some("hip-hop/rap".into()));
        for bad in ["", "   ", "<script>", "a\nb", &"x".repeat(65)] {
            assert_eq!(normalise_genre(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the bytes, decoding answers (never panics), and a
        /// normalised genre is stable.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = PreviewAudio::decode(&bytes);
            let _ = ReferenceRecord::decode(&bytes);
            let _ = AnalysisRecord::decode(&bytes);
            let text = String::from_utf8_lossy(&bytes);
            if let Some(g) = normalise_genre(&text) {
                proptest::prop_assert_eq!(normalise_genre(&g), Some(g.clone()));
            }
        }
    }

    #[test]
    fn preview_audio_round_trips_and_refuses_garbage() {
        let a = PreviewAudio {
            rate: 44_100,
            channels: 2,
            samples: (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect(),
        };
        assert_eq!(PreviewAudio::decode(&a.encode()).unwrap(), a);
        for bad in [
            &[][..],
            &[1, 0, 0, 0, 0, 0][..],
            &[9, 68, 172, 0, 0, 2, 1, 2, 3][..],
            &[1, 68, 172, 0, 0, 2, 1, 2][..],
        ] {
            assert!(PreviewAudio::decode(bad).is_err(), "{bad:?}");
        }
    }
}

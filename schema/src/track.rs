//! The track record: the canonical description of one indexed recording.
//!
//! Records are stored as JSON so that later issues (service status, analysis,
//! duplicates) can add fields with `#[serde(default)]` without a format
//! break; they are small next to the postings, so JSON costs little.

use serde::{Deserialize, Serialize};

use crate::SchemaError;

/// A track's id. `u32` keeps postings small; ids are never reused, so a
/// posting left behind by a deleted track can never point at a new one.
pub type TrackId = u32;

/// Which hash tier currently answers for a track's postings.
///
/// The tier is part of the record so that a compaction killed halfway is
/// harmless: postings in the compacted tier only count for tracks whose
/// record says `Compacted`, and the fresh postings only for `Fresh` ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Fresh,
    Compacted,
}

/// One indexed recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    pub id: TrackId,
    /// The path exactly as it was given to `ingest`.
    pub path: String,
    pub title: String,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub album: Option<String>,
    #[serde(default)]
    pub genre: Option<String>,
    pub duration_s: f64,
    /// The source's own sample rate and channel count, before analysis.
    pub sample_rate: u32,
    pub channels: u16,
    /// Short codec name as reported by the decoder ("vorbis", "mp3", …).
    pub codec: String,
    /// Number of constellation peaks and hashes stored for the track.
    pub peaks: u32,
    pub hashes: u32,
    pub tier: Tier,
    /// Unix seconds when ingest finished.
    pub created_at: u64,
    /// Size and modification time (Unix ms) of the source file when it was
    /// fingerprinted: the watched folder compares them to spot a replaced
    /// file. Absent for records written before the service existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_len: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mtime_ms: Option<u64>,
    /// sha256 of the source file (lower-case hex): exact-copy detection and
    /// the reindex tool's "changed?" test. Absent for older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Set when the track was added under the `flag` policy although it
    /// duplicates another: the best such match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<crate::Duplicate>,
    /// Set while the track is recognisable but its music analysis (and
    /// Chromaprint) has not been stored yet: the service stores the
    /// fingerprint first and the analysis after, and a start after a kill
    /// analyses such tracks again. Absent (false) otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub analysis_pending: bool,
}

impl TrackRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a track record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("track record", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> TrackRecord {
        TrackRecord {
            id: 7,
            path: "music/a song.ogg".into(),
            title: "A Song".into(),
            artist: Some("Someone".into()),
            album: None,
            genre: Some("rock".into()),
            duration_s: 183.5,
            sample_rate: 44100,
            channels: 2,
            codec: "vorbis".into(),
            peaks: 5000,
            hashes: 25000,
            tier: Tier::Fresh,
            created_at: 1_700_000_000,
            file_len: Some(123),
            file_mtime_ms: None,
            sha256: None,
            duplicate_of: None,
            analysis_pending: false,
        }
    }

    #[test]
    fn round_trips() {
        let r = sample();
        assert_eq!(TrackRecord::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn records_without_the_newer_fields_still_read() {
        let old = br#"{"id":1,"path":"a.ogg","title":"A","duration_s":1.0,"sample_rate":8000,"channels":1,"codec":"vorbis","peaks":1,"hashes":1,"tier":"fresh","created_at":5}"#;
        let r = TrackRecord::decode(old).unwrap();
        assert_eq!(r.file_len, None);
        assert_eq!(r.artist, None);
    }

    #[test]
    fn garbage_is_corrupt_not_panic() {
        assert!(TrackRecord::decode(b"\xff\x00nope").is_err());
    }
}

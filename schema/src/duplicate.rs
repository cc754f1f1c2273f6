//! Duplicates: what kinds there are, how one is described, and the policy
//! that decides what happens to a new track that has one.
//!
//! A duplicate link is stored under the pair (new track, existing track) in
//! the `duplicates` tree when a track is added despite having duplicates, so
//! `sonica duplicates` and `GET /duplicates` answer from the store without
//! comparing the whole library again.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{SchemaError, TrackId};

/// How a new file relates to a track already in the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKind {
    /// The same bytes (equal sha256).
    Exact,
    /// The same recording in another encoding, rate, gain, channel count or
    /// with silence added or trimmed: the audio of each covers the other.
    SameRecording,
    /// The new file is a section of the existing track.
    SectionOf,
    /// The new file contains the whole existing track.
    Contains,
}

impl DuplicateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateKind::Exact => "exact",
            DuplicateKind::SameRecording => "same_recording",
            DuplicateKind::SectionOf => "section_of",
            DuplicateKind::Contains => "contains",
        }
    }
}

impl fmt::Display for DuplicateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One existing track a new file duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    /// The existing track.
    pub of: TrackId,
    /// Its path, so a report needs no second lookup.
    pub of_path: String,
    pub kind: DuplicateKind,
    /// Seconds of audio the two share.
    pub overlap_s: f64,
    /// How strongly the shared audio matches, 0–1 (1 for exact copies).
    pub score: f64,
}

impl Duplicate {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a duplicate always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("duplicate link", e.to_string()))
    }
}

/// What to do with a new file that duplicates a track already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Do not add it; answer with the tracks it duplicates.
    Reject,
    /// Add it, mark its record as a duplicate and list it in the duplicate
    /// groups.
    #[default]
    Flag,
    /// Add it as an ordinary track; the answer still names what it
    /// duplicates and the groups still list it, but its record is not marked.
    Keep,
}

impl OnDuplicate {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDuplicate::Reject => "reject",
            OnDuplicate::Flag => "flag",
            OnDuplicate::Keep => "keep",
        }
    }
}

impl FromStr for OnDuplicate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reject" => Ok(OnDuplicate::Reject),
            "flag" => Ok(OnDuplicate::Flag),
            "keep" => Ok(OnDuplicate::Keep),
            other => Err(format!("on_duplicate must be reject, flag or keep, not {other:?}")),
        }
    }
}

impl fmt::Display for OnDuplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Key of a link in the `duplicates` tree: the newer track, then the one it
/// duplicates, both big-endian, so one track's links are one prefix scan.
pub fn link_key(new: TrackId, of: TrackId) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&new.to_be_bytes());
    k[4..].copy_from_slice(&of.to_be_bytes());
    k
}

/// The two ids of a link key.
pub fn parse_link_key(key: &[u8]) -> Option<(TrackId, TrackId)> {
    if key.len() != 8 {
        return None;
    }
    let new = u32::from_be_bytes(key[..4].try_into().ok()?);
    let of = u32::from_be_bytes(key[4..].try_into().ok()?);
    Some((new, of))
}

/// Lower-case hex of a digest, as records and answers show it.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses a 64-digit hex sha256.
pub fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_parses_and_names() {
        for p in [OnDuplicate::Reject, OnDuplicate::Flag, OnDuplicate::Keep] {
            assert_eq!(p.as_str().parse::<OnDuplicate>(), Ok(p));
        }
        assert_eq!(" FLAG ".parse::<OnDuplicate>(), Ok(OnDuplicate::Flag));
        assert!("drop"
            .parse::<OnDuplicate>()
            .unwrap_err()
            .contains("reject, flag or keep"));
        assert_eq!(OnDuplicate::default(), OnDuplicate::Flag);
    }

    #[test]
    fn link_keys_round_trip_and_group_by_new_track() {
        assert_eq!(parse_link_key(&link_key(7, 300)), Some((7, 300)));
        assert!(link_key(7, 300) < link_key(8, 1));
        assert_eq!(parse_link_key(b"short"), None);
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let d: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        let h = hex(&d);
        assert_eq!(h.len(), 64);
        assert_eq!(parse_sha256(&h), Some(d));
        assert_eq!(parse_sha256("zz"), None);
    }

    #[test]
    fn links_round_trip() {
        let d = Duplicate {
            of: 3,
            of_path: "a.ogg".into(),
            kind: DuplicateKind::SectionOf,
            overlap_s: 30.0,
            score: 0.61,
        };
        assert_eq!(Duplicate::decode(&d.encode()).unwrap(), d);
        assert_eq!(serde_json::to_value(d.kind).unwrap(), "section_of");
    }
}

//! Monitors and their play logs as the store keeps them: a record per
//! registered live source in `monitors`, and one entry per play or gap in
//! `plays`, keyed by monitor and start time so a time range of one
//! monitor's log is one ordered range of keys.

use serde::{Deserialize, Serialize};

use crate::{SchemaError, TrackId};

/// A registered live source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorRecord {
    pub id: u64,
    /// The stream's http(s) URL, as checked when it was registered.
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    pub created_unix: u64,
    /// Unix ms up to which the stream was last heard and logged: after a
    /// restart, the time from here to the reconnection is a gap.
    #[serde(default)]
    pub heard_until_ms: Option<u64>,
}

impl MonitorRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a monitor record serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<MonitorRecord, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("monitor record", e.to_string()))
    }
}

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// A track played.
    Play,
    /// The stream was not heard (down, reconnecting, the server stopped).
    Gap,
}

/// One entry of a monitor's log: a play, or a gap in listening. Times are
/// Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub kind: LogKind,
    pub start_ms: u64,
    pub end_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_in_track_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Why a gap happened (the stream's error), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LogEntry {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a log entry serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<LogEntry, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("play log entry", e.to_string()))
    }
}

/// Key in `monitors`.
pub fn monitor_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes a `monitors` key.
pub fn parse_monitor_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// Key in `plays`: monitor id, start ms, then a sequence number so two
/// entries starting in the same millisecond both keep their place.
pub fn log_key(monitor: u64, start_ms: u64, seq: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..8].copy_from_slice(&monitor.to_be_bytes());
    k[8..16].copy_from_slice(&start_ms.to_be_bytes());
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// (monitor, start ms, seq) of a `plays` key.
pub fn parse_log_key(key: &[u8]) -> Option<(u64, u64, u32)> {
    if key.len() != 20 {
        return None;
    }
    Some((
        u64::from_be_bytes(key[..8].try_into().ok()?),
        u64::from_be_bytes(key[8..16].try_into().ok()?),
        u32::from_be_bytes(key[16..].try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_monitor_then_time() {
        let a = log_key(1, 5_000, 0);
        let b = log_key(1, 70_000, 0);
        let c = log_key(2, 1, 0);
        assert!(a < b && b < c);
        assert_eq!(parse_log_key(&b), Some((1, 70_000, 0)));
        assert_eq!(parse_log_key(&b[..19]), None);
        assert_eq!(parse_monitor_key(&monitor_key(9)), Some(9));
    }

    #[test]
    fn records_round_trip_and_garbage_is_an_error() {
        let r = MonitorRecord {
            id: 3,
            url: "http://radio.example.com/live".into(),
            name: Some("Radio".into()),
            created_unix: 1,
            heard_until_ms: None,
        };
        assert_eq!(MonitorRecord::decode(&r.encode()).unwrap(), r);
        assert!(MonitorRecord::decode(b"\xff{").is_err());
        assert!(LogEntry::decode(b"[]").is_err());
    }
}

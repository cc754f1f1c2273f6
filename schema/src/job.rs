//! The job record: a track that has been accepted (uploaded, or found in the
//! watched folder) but is not fingerprinted yet.
//!
//! Jobs live in their own tree, keyed by the track id they will become, so
//! that an id handed out by `POST /tracks` answers `GET /tracks/{id}` from
//! the first moment and the queue survives restarts and `kill -9`: at start
//! every job that is not `failed` is queued again.

use serde::{Deserialize, Serialize};

use crate::{SchemaError, TrackId};

/// Where a job stands. A ready track has no job any more: its record in
/// `tracks` is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Processing,
    Failed,
    /// Fingerprinted, found to duplicate a stored track under the `reject`
    /// policy, and not added: `duplicates` names what it duplicates.
    Rejected,
}

/// How the file arrived; the watched folder only manages its own files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobSource {
    Upload,
    Watch,
}

/// A track waiting to be fingerprinted. Metadata given with an upload
/// overrides the file's own tags when the track is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: TrackId,
    pub path: String,
    pub source: JobSource,
    pub status: JobStatus,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub album: Option<String>,
    #[serde(default)]
    pub genre: Option<String>,
    /// Attempts started so far.
    #[serde(default)]
    pub attempts: u32,
    /// Why the last attempt failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Machine-readable code of that failure.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Unix seconds when the job was accepted.
    pub created_at: u64,
    /// The file's size and modification time (Unix ms) when accepted.
    #[serde(default)]
    pub file_len: Option<u64>,
    #[serde(default)]
    pub file_mtime_ms: Option<u64>,
    /// The duplicate policy asked for with the upload (the service's
    /// configured default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_duplicate: Option<crate::OnDuplicate>,
    /// What a rejected job duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<crate::Duplicate>,
}

impl JobRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a job record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("job record", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let j = JobRecord {
            id: 3,
            path: "/srv/songs/a.mp3".into(),
            source: JobSource::Upload,
            status: JobStatus::Failed,
            title: Some("A".into()),
            artist: None,
            album: None,
            genre: None,
            attempts: 3,
            error: Some("corrupt mp3 data".into()),
            error_code: Some("corrupt_media".into()),
            created_at: 9,
            file_len: Some(10),
            file_mtime_ms: Some(11),
            on_duplicate: None,
            duplicates: Vec::new(),
        };
        assert_eq!(JobRecord::decode(&j.encode()).unwrap(), j);
        assert!(JobRecord::decode(b"{}").is_err());
    }
}

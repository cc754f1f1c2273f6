//! Has a file changed since it was indexed? Decided as cheaply as possible.
//!
//! A rerun over an unchanged library must cost a stat and two store reads
//! per file, never a read of the file. So the size and modification time
//! recorded at ingest come first; only when they differ are the bytes read,
//! and their sha256 compared with the record's (a copied or touched file is
//! then refreshed, not fingerprinted again). A record older than digests
//! has no sha256: its file is decoded and the peaks compared instead, which
//! also fills in what such a record lacks.

use sonica_schema::{TrackId, TrackRecord};

/// What the store holds for a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    /// Nothing (or a path entry pointing at nothing).
    Nothing,
    /// A job of the service, not yet fingerprinted: the service owns it.
    Job(TrackId),
    /// A track; `analysed` says whether it has a current analysis.
    Track { record: Box<TrackRecord>, analysed: bool },
}

/// A file's size and modification time (Unix ms), as `file_stamp` gives.
pub type Stamp = (Option<u64>, Option<u64>);

/// What to do with one file, decided before reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Not in the library: decode and add.
    New,
    /// Size and mtime as recorded: nothing to do, unless the analysis is
    /// missing (a track ingested before analysis existed).
    Unchanged { id: TrackId, needs_analysis: bool },
    /// Size or mtime differ: compare the file's sha256 with this one.
    CompareBytes { id: TrackId, sha256: [u8; 32] },
    /// Size or mtime differ and the record has no sha256: decode the file
    /// and compare its peaks with the stored ones.
    CompareFingerprint { id: TrackId },
    /// A queued job of the service claims the path; left to the service.
    Queued { id: TrackId },
}

/// The plan for a file whose current stamp is `now`.
pub fn plan(known: &Known, now: Stamp) -> Plan {
    match known {
        Known::Nothing => Plan::New,
        Known::Job(id) => Plan::Queued { id: *id },
        Known::Track { record, analysed } => {
            let stored = (record.file_len, record.file_mtime_ms);
            if stored == now && now.0.is_some() {
                return Plan::Unchanged {
                    id: record.id,
                    needs_analysis: !analysed,
                };
            }
            match record
                .sha256
                .as_deref()
                .and_then(sonica_schema::duplicate::parse_sha256)
            {
                Some(sha256) => Plan::CompareBytes { id: record.id, sha256 },
                None => Plan::CompareFingerprint { id: record.id },
            }
        }
    }
}

/// The record refreshed with a file's new stamp (and sha256, when the
/// record had none): what an unchanged-but-touched file stores.
pub fn restamped(record: &TrackRecord, now: Stamp, sha256: &[u8; 32]) -> TrackRecord {
    let mut r = record.clone();
    r.file_len = now.0;
    r.file_mtime_ms = now.1;
    r.sha256 = Some(sonica_schema::duplicate::hex(sha256));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::Tier;

    fn record(len: Option<u64>, mtime: Option<u64>, sha: Option<[u8; 32]>) -> TrackRecord {
        TrackRecord {
            id: 7,
            path: "music/a.wav".into(),
            title: "a".into(),
            artist: None,
            album: None,
            genre: None,
            duration_s: 30.0,
            sample_rate: 22050,
            channels: 1,
            codec: "pcm".into(),
            peaks: 100,
            hashes: 600,
            tier: Tier::Compacted,
            created_at: 0,
            file_len: len,
            file_mtime_ms: mtime,
            sha256: sha.map(|s| sonica_schema::duplicate::hex(&s)),
            duplicate_of: None,
            analysis_pending: false,
        }
    }

    fn track(r: TrackRecord, analysed: bool) -> Known {
        Known::Track {
            record: Box::new(r),
            analysed,
        }
    }

    #[test]
    fn unknown_paths_are_new_and_jobs_are_left_to_the_service() {
        assert_eq!(plan(&Known::Nothing, (Some(1), Some(2))), Plan::New);
        assert_eq!(plan(&Known::Job(3), (Some(1), Some(2))), Plan::Queued { id: 3 });
    }

    #[test]
    fn an_equal_stamp_is_unchanged_without_reading_the_file() {
        let r = record(Some(100), Some(5000), Some([1; 32]));
        assert_eq!(
            plan(&track(r.clone(), true), (Some(100), Some(5000))),
            Plan::Unchanged {
                id: 7,
                needs_analysis: false
            }
        );
        assert_eq!(
            plan(&track(r, false), (Some(100), Some(5000))),
            Plan::Unchanged {
                id: 7,
                needs_analysis: true
            }
        );
    }

    #[test]
    fn a_different_size_or_mtime_compares_bytes() {
        let r = record(Some(100), Some(5000), Some([1; 32]));
        for now in [(Some(101), Some(5000)), (Some(100), Some(5001)), (Some(100), None)] {
            assert_eq!(
                plan(&track(r.clone(), true), now),
                Plan::CompareBytes { id: 7, sha256: [1; 32] },
                "{now:?}"
            );
        }
    }

    #[test]
    fn records_older_than_digests_compare_fingerprints() {
        let r = record(Some(100), Some(5000), None);
        assert_eq!(
            plan(&track(r, true), (Some(100), Some(6000))),
            Plan::CompareFingerprint { id: 7 }
        );
        // No stamp at all (before the service): cannot be "unchanged".
        let r = record(None, None, None);
        assert_eq!(plan(&track(r, true), (None, None)), Plan::CompareFingerprint { id: 7 });
    }

    #[test]
    fn restamping_keeps_everything_else() {
        let r = record(Some(100), Some(5000), None);
        let s = restamped(&r, (Some(100), Some(9000)), &[0xab; 32]);
        assert_eq!(s.file_mtime_ms, Some(9000));
        assert_eq!(s.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!((s.id, &s.path, s.tier, s.hashes), (r.id, &r.path, r.tier, r.hashes));
    }
}

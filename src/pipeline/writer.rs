//! The one ingest writer: what `sonica ingest`, the service's job workers
//! and `sonica-reindex` all do with a decoded file.
//!
//! Store the track, checked for duplicates under the policy; flush before
//! anyone is told it is done; compact the fresh tier when it has grown;
//! log what happened. A fix here (a limit, a log line) reaches every way
//! in. The writer is shared by reference and safe to call from several
//! threads: the index serialises the writes under its own lock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sonica_index::{DuplicateParams, FingerprintIndex, IndexError, NewTrack};
use sonica_schema::{Duplicate, OnDuplicate, Tier, TrackId, TrackRecord, Waveform};

use super::decode_once::{Fingerprinted, Music};

/// Compact when the fresh tier holds this many postings.
pub const COMPACT_FRESH_POSTINGS: usize = 4_000_000;

/// A track ready for the writer: what the index stores in one batch, and
/// the waveform stored beside it.
#[derive(Debug)]
pub struct Ingested {
    pub track: NewTrack,
    pub waveform: Waveform,
}

/// Where a new track goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A new track with a new id.
    New,
    /// A changed file: the new track replaces this one in the same batch.
    Replaces(TrackId),
    /// The job with this id becomes its track (same id).
    Job(TrackId),
}

/// What a write did.
#[derive(Debug)]
pub struct Written {
    /// The stored record; `None` when the policy rejected a duplicate.
    pub record: Option<TrackRecord>,
    /// What the file duplicates (flagged, kept or rejected).
    pub duplicates: Vec<Duplicate>,
    /// A compaction ran after this write and failed: the track is stored
    /// and the fresh tier keeps serving, but the caller may want to stop.
    pub compaction_failed: Option<IndexError>,
}

/// The writer of one library.
pub struct IngestWriter<'a> {
    index: &'a FingerprintIndex,
    duplicates: DuplicateParams,
    compact_at: usize,
    compactions: AtomicUsize,
}

impl<'a> IngestWriter<'a> {
    pub fn new(index: &'a FingerprintIndex) -> Self {
        IngestWriter {
            index,
            duplicates: duplicate_params(),
            compact_at: COMPACT_FRESH_POSTINGS,
            compactions: AtomicUsize::new(0),
        }
    }

    /// Compacts when the fresh tier reaches `postings` instead of the default.
    pub fn compact_at(mut self, postings: usize) -> Self {
        self.compact_at = postings.max(1);
        self
    }

    pub fn index(&self) -> &'a FingerprintIndex {
        self.index
    }

    /// Admits `t` under `policy` into `slot`, flushes, and compacts when due.
    /// A rejected replacement removes the old track too: its file now holds
    /// a duplicate of another track.
    pub fn write(&self, t: Ingested, policy: OnDuplicate, slot: Slot) -> Result<Written, IndexError> {
        let Ingested { track: t, waveform } = t;
        let path = t.record.path.clone();
        let admitted = match slot {
            Slot::New => self.index.admit(t, policy, &self.duplicates, None)?,
            Slot::Replaces(old) => self.index.admit(t, policy, &self.duplicates, Some(old))?,
            Slot::Job(id) => self
                .index
                .admit_job(id, t, policy, &self.duplicates, delete_rejected_upload)?,
        };
        if let (None, Slot::Replaces(old)) = (&admitted.record, slot) {
            self.index.remove(old)?;
        }
        if let Some(r) = &admitted.record {
            // A separate batch: a track whose waveform was lost to a kill
            // in between gets it computed when first asked for.
            match self.index.put_waveform(r.id, &waveform) {
                Ok(()) | Err(IndexError::UnknownTrack(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.index.flush()?;
        if let Some(d) = admitted.duplicates.first() {
            tracing::info!(path = %path, of = d.of, kind = %d.kind, overlap_s = d.overlap_s, score = d.score,
                stored = admitted.record.is_some(), "duplicate of a stored track");
        }
        let compaction_failed = match admitted.record {
            Some(_) => self.compact_if_due().err(),
            None => None,
        };
        Ok(Written {
            record: admitted.record,
            duplicates: admitted.duplicates,
            compaction_failed,
        })
    }

    /// Stores the music half of a track written with `analysis_pending`
    /// (the analysis, when there is one, and the Chromaprint), clears the
    /// flag and flushes. A track deleted meanwhile is
    /// [`IndexError::UnknownTrack`].
    pub fn store_music(&self, id: TrackId, music: &Music) -> Result<TrackRecord, IndexError> {
        let analysis = music.analysis.as_ref().ok();
        let r = self.index.finish_analysis(id, analysis, music.chromaprint.as_deref())?;
        self.index.flush()?;
        Ok(r)
    }

    /// Compacts when the fresh tier has reached the threshold.
    pub fn compact_if_due(&self) -> Result<bool, IndexError> {
        if self.index.fresh_postings() < self.compact_at {
            return Ok(false);
        }
        self.compact()
    }

    /// Compacts whatever the fresh tier holds (the end of a bulk run).
    pub fn finish(&self) -> Result<bool, IndexError> {
        if self.index.fresh_postings() == 0 {
            return Ok(false);
        }
        self.compact()
    }

    fn compact(&self) -> Result<bool, IndexError> {
        let r = self.index.compact().and_then(|r| self.index.flush().map(|_| r));
        match r {
            Ok(r) => {
                self.compactions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    tracks = r.tracks_moved,
                    postings = r.postings_moved,
                    "fresh tier compacted"
                );
                Ok(true)
            }
            Err(e) => {
                tracing::error!(error = %e, "compaction failed; the fresh tier keeps serving");
                Err(e)
            }
        }
    }

    /// Compactions run so far.
    pub fn compactions(&self) -> usize {
        self.compactions.load(Ordering::Relaxed)
    }
}

/// An upload's file exists only because it was uploaded: a rejected one
/// leaves nothing behind, and is gone before the rejection is visible. A
/// file the user put in the watched folder is theirs and stays (its path
/// keeps pointing at the rejected job, so it is not tried again at every
/// start).
fn delete_rejected_upload(job: &sonica_schema::JobRecord) {
    if job.source != sonica_schema::JobSource::Upload {
        return;
    }
    if let Err(e) = std::fs::remove_file(&job.path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(id = job.id, path = %job.path, error = %e, "cannot delete a rejected upload");
        }
    }
}

/// The duplicate finder's rules for Sonica's fingerprint (its frame rate).
pub fn duplicate_params() -> DuplicateParams {
    DuplicateParams::new(crate::fingerprint::params::FRAMES_PER_SECOND)
}

/// What a caller knows about a track beyond its file: the title and
/// friends an upload form gave, which win over the file's tags.
#[derive(Debug, Clone, Default)]
pub struct GivenTags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
}

/// Builds the record of a fingerprinted file (id and tier are set by the
/// index). `music` is `None` when the analysis and Chromaprint will be
/// stored after the track (`analysis_pending`); a failed analysis is
/// stored as none.
pub fn new_track(path: &str, print: Fingerprinted, music: Option<Music>, given: &GivenTags) -> Ingested {
    let p = PathBuf::from(path);
    let (file_len, file_mtime_ms) = file_stamp(&p);
    let tags = &print.info.tags;
    let analysis_pending = music.is_none();
    let (analysis, chromaprint) = music.map_or((None, None), |m| (m.analysis.ok(), m.chromaprint));
    let record = TrackRecord {
        id: 0,
        path: path.to_string(),
        title: given.title.clone().unwrap_or_else(|| tags.title_or_file_name(&p)),
        artist: given.artist.clone().or_else(|| tags.artist.clone()),
        album: given.album.clone().or_else(|| tags.album.clone()),
        genre: given.genre.clone().or_else(|| tags.genre.clone()),
        duration_s: print.info.duration_s,
        sample_rate: print.info.sample_rate,
        channels: print.info.channels,
        codec: print.info.codec.clone(),
        peaks: 0,
        hashes: 0,
        tier: Tier::Fresh,
        created_at: unix_now_s(),
        file_len,
        file_mtime_ms,
        sha256: Some(sonica_schema::duplicate::hex(&print.sha256)),
        duplicate_of: None,
        analysis_pending,
    };
    Ingested {
        track: NewTrack {
            record,
            peaks: print.peaks,
            hashes: print.hashes,
            analysis,
            chromaprint,
        },
        waveform: print.waveform,
    }
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A file's size and modification time (Unix ms), the watched folder's test
/// for "replaced".
pub fn file_stamp(path: &Path) -> (Option<u64>, Option<u64>) {
    match std::fs::metadata(path) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            (Some(m.len()), mtime)
        }
        Err(_) => (None, None),
    }
}

//! What every route and background task shares, and the library operations
//! they have in common (accept a file as a job, delete a track, describe a
//! track), so that an upload and a file dropped into the songs folder take
//! exactly the same path into the store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sonica_index::{FingerprintIndex, IndexError, MusicIndex};
use sonica_schema::{Duplicate, JobRecord, JobSource, JobStatus, TrackId, TrackRecord};

use crate::pipeline::writer::{file_stamp, unix_now_s};
use crate::service::auth::Guard;
use crate::service::cluster_queue::ClusterJobs;
use crate::service::config::Config;
use crate::service::error::ApiError;
use crate::service::metrics::Metrics;
use crate::service::scheduler::Scheduler;

/// Hidden folder inside the songs folder where uploads land before they are
/// complete; the watcher ignores hidden folders.
pub const INCOMING_DIR: &str = ".sonica-incoming";

pub struct AppState {
    pub config: Config,
    pub index: Arc<FingerprintIndex>,
    /// Vector graphs and text index, kept in step with `index`.
    pub music: Arc<MusicIndex>,
    /// The mastering assistant's references and analyses.
    pub mastering: Arc<sonica_index::MasteringLibrary>,
    pub scheduler: Arc<Scheduler>,
    /// On a cluster, where new jobs go (any node's workers take them).
    pub cluster_jobs: Option<Arc<ClusterJobs>>,
    pub metrics: Arc<Metrics>,
    pub guard: Guard,
    /// The songs folder, absolute, as watched paths are reported.
    pub songs_dir: PathBuf,
    pub incoming_dir: PathBuf,
    /// Scratch space for recognition clips.
    pub tmp_dir: PathBuf,
    /// Paths an upload is placing right now: the watcher leaves them alone.
    pub claims: Mutex<HashSet<PathBuf>>,
    /// Recognitions running at once (one per core): more only time-slice
    /// the same cores, so each waits its turn instead, which keeps latency
    /// first-come-first-served and memory flat under a burst.
    pub recognizers: tokio::sync::Semaphore,
    /// What the folder watcher is doing, for `GET /health`.
    pub watch: WatchStatus,
    /// The live monitors.
    pub monitors: Arc<crate::service::monitors::Monitors>,
    /// Webhook subscriptions and the outbox: `emit` events from anywhere.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

/// The folder watcher's state, as it last reported it.
#[derive(Debug, Default)]
pub struct WatchStatus {
    /// Running (false when `--watch false`, or before it starts).
    pub running: std::sync::atomic::AtomicBool,
    /// The folder looked empty or gone (an unmounted disk): removals are
    /// held back and it looks again every few seconds.
    pub held_back: std::sync::atomic::AtomicBool,
    /// Files seen changing and waiting for a quiet spell.
    pub settling: std::sync::atomic::AtomicUsize,
    /// Unix seconds of the last full scan.
    pub last_scan_s: std::sync::atomic::AtomicU64,
}

/// A track as the API shows it, ready or not.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackView {
    pub id: TrackId,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    pub path: String,
    /// Known once the track is READY.
    pub duration_s: Option<f64>,
    /// QUEUED, PROCESSING, READY, FAILED or REJECTED (a duplicate refused
    /// under the `reject` policy).
    pub status: &'static str,
    /// The music analysis, which follows the fingerprint: PENDING until it
    /// has been stored (a READY track is recognisable already), DONE once
    /// the pass has run (`GET /tracks/{id}/analysis` then has it, unless
    /// the audio could not be analysed). Absent for FAILED and REJECTED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<&'static str>,
    /// Unix seconds.
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TrackFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// sha256 of the source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Set when the track was added under the `flag` duplicate policy: the
    /// track it duplicates (`of`, `of_path`, `kind`, `overlap_s`, `score`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub duplicate_of: Option<Duplicate>,
    /// What a REJECTED upload duplicates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub duplicates: Vec<Duplicate>,
    /// The AcoustID-compatible Chromaprint fingerprint of the first two
    /// minutes (URL-safe base64, as `fpcalc` prints it); shown by
    /// `GET /tracks/{id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chromaprint: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackFailure {
    pub code: String,
    pub message: String,
}

impl TrackView {
    pub fn ready(r: &TrackRecord) -> TrackView {
        TrackView {
            id: r.id,
            title: r.title.clone(),
            artist: r.artist.clone(),
            album: r.album.clone(),
            genre: r.genre.clone(),
            path: r.path.clone(),
            duration_s: Some(r.duration_s),
            status: "READY",
            analysis: Some(if r.analysis_pending { "PENDING" } else { "DONE" }),
            created_at: r.created_at,
            error: None,
            attempts: None,
            sha256: r.sha256.clone(),
            duplicate_of: r.duplicate_of.clone(),
            duplicates: Vec::new(),
            chromaprint: None,
        }
    }

    pub fn pending(j: &JobRecord) -> TrackView {
        let title = j.title.clone().unwrap_or_else(|| {
            Path::new(&j.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let failed = matches!(j.status, JobStatus::Failed | JobStatus::Rejected);
        TrackView {
            id: j.id,
            title,
            artist: j.artist.clone(),
            album: j.album.clone(),
            genre: j.genre.clone(),
            path: j.path.clone(),
            duration_s: None,
            status: match j.status {
                JobStatus::Queued => "QUEUED",
                JobStatus::Processing => "PROCESSING",
                JobStatus::Failed => "FAILED",
                JobStatus::Rejected => "REJECTED",
            },
            analysis: (!failed).then_some("PENDING"),
            created_at: j.created_at,
            // A retry's last error is shown only once the job has failed
            // for good, so QUEUED means "nothing wrong yet" to a poller.
            error: failed.then(|| TrackFailure {
                code: j.error_code.clone().unwrap_or_else(|| "internal".into()),
                message: j.error.clone().unwrap_or_default(),
            }),
            attempts: Some(j.attempts),
            sha256: None,
            duplicate_of: None,
            duplicates: j.duplicates.clone(),
            chromaprint: None,
        }
    }
}

impl AppState {
    /// A track or job by id.
    ///
    /// The job is read before the track: an id only ever moves from job to
    /// track (atomically), so this order cannot miss one caught mid-move.
    pub fn view(&self, id: TrackId) -> Result<TrackView, ApiError> {
        if let Some(j) = self.index.job(id)? {
            return Ok(TrackView::pending(&j));
        }
        match self.index.get(id)? {
            Some(r) => {
                let mut v = TrackView::ready(&r);
                v.chromaprint = self.index.chromaprint(id)?.map(|c| crate::chromaprint::base64_url(&c));
                Ok(v)
            }
            None => Err(ApiError::UnknownTrack(id)),
        }
    }

    /// Every track and job, by id.
    pub fn all_views(&self) -> Result<Vec<TrackView>, ApiError> {
        // Jobs first, as in `view`; a job finished meanwhile shows as READY.
        let mut by_id: std::collections::BTreeMap<TrackId, TrackView> = self
            .index
            .jobs()?
            .iter()
            .map(|j| (j.id, TrackView::pending(j)))
            .collect();
        for r in self.index.list()? {
            by_id.insert(r.id, TrackView::ready(&r));
        }
        Ok(by_id.into_values().collect())
    }

    /// Stores a job for the file now at `path` (durably) and queues it.
    pub fn accept(&self, path: &Path, source: JobSource, meta: &[(String, String)]) -> Result<JobRecord, IndexError> {
        let (file_len, file_mtime_ms) = file_stamp(path);
        let get = |k: &str| meta.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let job = JobRecord {
            id: 0,
            path: path.to_string_lossy().into_owned(),
            source,
            status: JobStatus::Queued,
            title: get("title"),
            artist: get("artist"),
            album: get("album"),
            genre: get("genre"),
            attempts: 0,
            error: None,
            error_code: None,
            created_at: unix_now_s(),
            file_len,
            file_mtime_ms,
            on_duplicate: get("on_duplicate").and_then(|v| v.parse().ok()),
            duplicates: Vec::new(),
        };
        let job = self.index.enqueue(job)?;
        self.index.flush()?;
        match &self.cluster_jobs {
            Some(c) => c.push(job.id)?,
            None => self.scheduler.push(job.id),
        }
        Ok(job)
    }

    /// Removes a track or job by id, with its file when the file lives in
    /// the songs folder (which mirrors the library: a file left there would
    /// be ingested again). The file goes first, so a kill in between leaves
    /// a record whose file is gone, which the next start's scan removes.
    pub fn delete(&self, id: TrackId) -> Result<TrackView, ApiError> {
        let view = self.view(id)?;
        if let Some(path) = self.owned_file(id, Path::new(&view.path))? {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ApiError::Internal(format!("cannot delete {}: {e}", path.display()))),
            }
        }
        self.forget(id)?;
        Ok(view)
    }

    /// The file of track `id` that a delete may unlink: only one whose
    /// folder, symlinks resolved, is inside the songs folder (a folder
    /// symlink out of it never lets a delete reach outside; a file symlink
    /// is removed as a link, never its target), and whose path the store
    /// still gives to this id.
    pub fn owned_file(&self, id: TrackId, path: &Path) -> Result<Option<PathBuf>, ApiError> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(None);
        };
        let Ok(dir) = dir.canonicalize() else {
            return Ok(None);
        };
        if !dir.starts_with(&self.songs_dir) {
            return Ok(None);
        }
        if self.index.id_by_path(&path.to_string_lossy())? != Some(id) {
            return Ok(None);
        }
        Ok(Some(dir.join(name)))
    }

    /// Removes a track or job from the store only.
    pub fn forget(&self, id: TrackId) -> Result<(), ApiError> {
        // The job first: cancelling one that a worker is finishing makes the
        // worker drop its result; a finished one is then a track.
        match self.index.cancel_job(id) {
            Ok(_) => {}
            Err(IndexError::UnknownTrack(_)) => match self.index.remove(id) {
                Ok(_) => {}
                Err(IndexError::UnknownTrack(_)) => return Err(ApiError::UnknownTrack(id)),
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
        self.index.flush()?;
        Ok(())
    }

    pub fn claim(&self, p: &Path) {
        self.claims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.to_path_buf());
    }

    pub fn release(&self, p: &Path) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).remove(p);
    }

    pub fn is_claimed(&self, p: &Path) -> bool {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).contains(p)
    }
}

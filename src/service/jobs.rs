//! The job workers: fingerprinting off the request path, on a bounded
//! pool of threads, with retries and restart recovery.
//!
//! The durable truth is the `jobs` tree (see `sonica_index::jobs`); the
//! [`Scheduler`] orders the ids. A job found in the store at start is
//! queued again, whatever state it died in, so `kill -9` loses no upload.
//! On a cluster the jobs come from the cluster's queue instead (see
//! [`ClusterJobs`]), which is told when a job has ended.
//! Workers are plain threads, never the HTTP runtime's, so a 3-hour file
//! being fingerprinted cannot slow a request.
//!
//! Fingerprint first, analysis after: a worker stores the track as soon as
//! its fingerprint is done (READY: recognisable), hands the music analysis
//! still running beside it to the [`AnalysisPass`], and takes the next job.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use sonica_index::{FingerprintIndex, IndexError};
use sonica_schema::webhook::EventKind;
use sonica_schema::{JobRecord, JobStatus, OnDuplicate, TrackId};

use crate::fingerprint::FingerprintParams;
use crate::pipeline::{fingerprint_first, new_track, GivenTags, IngestWriter, MusicPass, Slot};
use crate::service::analysis_pass::AnalysisPass;
use crate::service::cluster_queue::ClusterJobs;
use crate::service::metrics::Metrics;
use crate::service::scheduler::{RetryPolicy, Scheduler};
use crate::webhooks::Webhooks;

/// Where the workers' jobs come from: this node's scheduler, fed on a
/// cluster by the cluster's queue, which is told when a job has ended.
pub struct Feed {
    pub scheduler: Arc<Scheduler>,
    pub cluster: Option<Arc<ClusterJobs>>,
}

/// The worker threads.
pub struct JobPool {
    handles: Vec<JoinHandle<()>>,
    scheduler: Arc<Scheduler>,
    analysis: Arc<AnalysisPass>,
}

/// What one worker thread works with.
struct Worker<'a> {
    writer: IngestWriter<'a>,
    scheduler: &'a Scheduler,
    params: FingerprintParams,
    retry: RetryPolicy,
    on_duplicate: OnDuplicate,
    metrics: &'a Metrics,
    analysis: &'a AnalysisPass,
    /// `track.ready`, `track.failed` and `duplicate.found` go out here.
    webhooks: &'a Webhooks,
}

impl JobPool {
    pub fn start(
        workers: usize,
        index: Arc<FingerprintIndex>,
        feed: Feed,
        retry: RetryPolicy,
        on_duplicate: OnDuplicate,
        metrics: Arc<Metrics>,
        webhooks: Arc<Webhooks>,
    ) -> std::io::Result<JobPool> {
        let Feed { scheduler, cluster } = feed;
        let analysis = Arc::new(AnalysisPass::start(index.clone())?);
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let (index, scheduler, metrics, analysis, webhooks, cluster) = (
                index.clone(),
                scheduler.clone(),
                metrics.clone(),
                analysis.clone(),
                webhooks.clone(),
                cluster.clone(),
            );
            handles.push(
                std::thread::Builder::new()
                    .name(format!("sonica-job-{n}"))
                    .spawn(move || {
                        let ctx = Worker {
                            writer: IngestWriter::new(&index),
                            scheduler: &scheduler,
                            params: FingerprintParams::index(),
                            retry,
                            on_duplicate,
                            metrics: &metrics,
                            analysis: &analysis,
                            webhooks: &webhooks,
                        };
                        while let Some(id) = scheduler.next() {
                            ctx.run_one(id);
                            let again = scheduler.done(id);
                            if let (false, Some(c)) = (again, &cluster) {
                                c.finished(id);
                            }
                        }
                    })?,
            );
        }
        Ok(JobPool {
            handles,
            scheduler,
            analysis,
        })
    }

    /// Stops taking jobs and waits for the running ones to finish; jobs not
    /// started stay queued in the store for the next start, and analyses
    /// not stored yet are done again at the next start.
    pub fn shutdown(self) {
        self.scheduler.stop();
        for h in self.handles {
            let _ = h.join();
        }
        if let Ok(a) = Arc::try_unwrap(self.analysis) {
            a.shutdown();
        }
    }
}

/// Queues every job the store holds that is not failed (restart recovery).
pub fn recover(index: &FingerprintIndex, scheduler: &Scheduler, max_attempts: u32) -> Result<usize, IndexError> {
    let jobs = index.recover_jobs(max_attempts)?;
    for j in &jobs {
        scheduler.push(j.id);
    }
    Ok(jobs.len())
}

impl Worker<'_> {
    fn run_one(&self, id: TrackId) {
        let (index, scheduler, retry, metrics) = (self.writer.index(), self.scheduler, self.retry, self.metrics);
        let mut job = match index.job(id) {
            Ok(Some(j)) if j.status != JobStatus::Failed => j,
            Ok(_) => return, // cancelled, or failed for good
            Err(e) => {
                tracing::error!(id, error = %e, "cannot read job; it stays queued for the next start");
                return;
            }
        };
        job.status = JobStatus::Processing;
        job.attempts += 1;
        // Durable before the work starts: if this file kills the process, the
        // next start sees PROCESSING and counts the attempt.
        if index.update_job(&job).and_then(|_| index.flush()).is_err() {
            return; // cancelled meanwhile
        }
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.fingerprint(&job)))
            .unwrap_or_else(|_| Err(("internal".to_string(), "the fingerprinting worker panicked".to_string())));
        match outcome {
            Ok(Done::Rejected) => metrics.job_outcome("rejected"),
            Ok(Done::Ready) => {
                metrics.job_outcome("ready");
                tracing::info!(id, path = %job.path, ms = started.elapsed().as_millis() as u64, "track ready");
            }
            Ok(Done::Cancelled) => tracing::info!(id, "job cancelled while it ran; result dropped"),
            Err((code, message)) => {
                job.error = Some(message.clone());
                job.error_code = Some(code.clone());
                if job.attempts < retry.attempts {
                    job.status = JobStatus::Queued;
                    let delay = retry.delay(job.attempts);
                    if index.update_job(&job).is_ok() {
                        metrics.job_outcome("retried");
                        tracing::warn!(id, attempt = job.attempts, %code, %message, retry_ms = delay.as_millis() as u64, "job failed; will retry");
                        scheduler.push_at(id, Instant::now() + delay);
                    }
                } else {
                    job.status = JobStatus::Failed;
                    if index.update_job(&job).is_ok() {
                        let _ = index.flush();
                        metrics.job_outcome("failed");
                        tracing::warn!(id, attempts = job.attempts, %code, %message, "job failed for good");
                        let mut data = track_data(&job);
                        data["code"] = code.into();
                        data["reason"] = message.into();
                        data["attempts"] = job.attempts.into();
                        self.webhooks.emit(EventKind::TrackFailed, data);
                    }
                }
            }
        }
    }

    /// Fingerprints the job's file, checks it for duplicates (under the job's
    /// own policy, else the service's) and stores the track unless rejected;
    /// its music analysis goes on in the background.
    fn fingerprint(&self, job: &JobRecord) -> Result<Done, (String, String)> {
        let fail = |code: crate::ErrorCode, m: String| (code.as_str().to_string(), m);
        let index_fail = |e: IndexError| fail(crate::error::index_code(&e), e.to_string());
        let (print, music) = fingerprint_first(Path::new(&job.path), &self.params, MusicPass::After)
            .map_err(|e| fail(e.code(), e.to_string()))?;
        let given = GivenTags {
            title: job.title.clone(),
            artist: job.artist.clone(),
            album: job.album.clone(),
            genre: job.genre.clone(),
        };
        let t = new_track(&job.path, print, None, &given);
        let policy = job.on_duplicate.unwrap_or(self.on_duplicate);
        let written = match self.writer.write(t, policy, Slot::Job(job.id)) {
            Ok(w) => w,
            Err(IndexError::UnknownTrack(_)) => return Ok(Done::Cancelled),
            Err(e) => return Err(index_fail(e)),
        };
        if !written.duplicates.is_empty() {
            let mut data = track_data(job);
            if let Some(r) = &written.record {
                data["title"] = r.title.clone().into();
            }
            data["stored"] = written.record.is_some().into();
            data["policy"] = policy.to_string().into();
            data["duplicates"] = serde_json::json!(written.duplicates);
            self.webhooks.emit(EventKind::DuplicateFound, data);
        }
        if let Some(r) = &written.record {
            self.analysis.submit(job.id, music);
            let data = serde_json::json!({"track_id": r.id, "title": r.title, "artist": r.artist,
                "path": r.path, "duration_s": r.duration_s});
            self.webhooks.emit(EventKind::TrackReady, data);
            return Ok(Done::Ready);
        }
        // A rejected upload's file was deleted by the writer.
        Ok(Done::Rejected)
    }
}

/// What a track event says about its job: id, path and the title it was
/// given or will have (the file's name when it has no tag yet).
fn track_data(job: &JobRecord) -> serde_json::Value {
    let title = job.title.clone().unwrap_or_else(|| {
        Path::new(&job.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    serde_json::json!({"track_id": job.id, "path": job.path, "title": title})
}

/// How a job ended when nothing failed.
enum Done {
    Ready,
    /// A duplicate under the `reject` policy: not stored.
    Rejected,
    /// Cancelled while it ran.
    Cancelled,
}

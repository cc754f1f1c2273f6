//! The job queue: fingerprinting off the request path, on a bounded pool of
//! worker threads, with retries and restart recovery.
//!
//! The durable truth is the `jobs` tree (see `sonica_index::jobs`); this
//! file only schedules. A job found in the store at start is queued again,
//! whatever state it died in, so `kill -9` loses no upload. Workers are
//! plain threads, never the HTTP runtime's, so a 3-hour file being
//! fingerprinted cannot slow a request.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sonica_index::{FingerprintIndex, IndexError};
use sonica_schema::{JobRecord, JobSource, JobStatus, OnDuplicate, TrackId};

use crate::analyse::analyse_file;
use crate::fingerprint::FingerprintParams;
use crate::ingest::{duplicate_params, new_track, COMPACT_FRESH_POSTINGS};
use crate::service::metrics::Metrics;

#[derive(Default)]
struct State {
    due: BinaryHeap<Reverse<(Instant, TrackId)>>,
    waiting: HashSet<TrackId>,
    running: HashSet<TrackId>,
    stopping: bool,
}

/// Which jobs are due when. Cheap to share; every method is short.
#[derive(Default)]
pub struct Scheduler {
    state: Mutex<State>,
    wake: Condvar,
}

impl Scheduler {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `id` to run at `at` (a job already waiting keeps its turn).
    pub fn push_at(&self, id: TrackId, at: Instant) {
        let mut s = self.lock();
        if s.waiting.insert(id) {
            s.due.push(Reverse((at, id)));
            self.wake.notify_one();
        }
    }

    pub fn push(&self, id: TrackId) {
        self.push_at(id, Instant::now());
    }

    /// Jobs waiting or running.
    pub fn depth(&self) -> usize {
        let s = self.lock();
        s.waiting.len() + s.running.len()
    }

    /// Blocks until a job is due (returning it, marked running) or the
    /// scheduler stops (returning `None`).
    fn next(&self) -> Option<TrackId> {
        let mut s = self.lock();
        loop {
            if s.stopping {
                return None;
            }
            let now = Instant::now();
            match s.due.peek().copied() {
                Some(Reverse((at, id))) if at <= now => {
                    s.due.pop();
                    s.waiting.remove(&id);
                    s.running.insert(id);
                    return Some(id);
                }
                Some(Reverse((at, _))) => {
                    s = self.wake.wait_timeout(s, at - now).unwrap_or_else(|p| p.into_inner()).0;
                }
                None => {
                    s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    fn done(&self, id: TrackId) {
        self.lock().running.remove(&id);
    }

    /// Wakes every worker; each exits after the job it is running.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }
}

/// How failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
}

impl RetryPolicy {
    /// Delay before attempt `n + 1` after `n` failed ones: doubling, capped.
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(10);
        (self.backoff * factor).min(Duration::from_secs(300))
    }
}

/// The worker threads.
pub struct JobPool {
    handles: Vec<JoinHandle<()>>,
    scheduler: Arc<Scheduler>,
}

impl JobPool {
    pub fn start(
        workers: usize,
        index: Arc<FingerprintIndex>,
        scheduler: Arc<Scheduler>,
        retry: RetryPolicy,
        on_duplicate: OnDuplicate,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<JobPool> {
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let (index, scheduler, metrics) = (index.clone(), scheduler.clone(), metrics.clone());
            handles.push(
                std::thread::Builder::new()
                    .name(format!("sonica-job-{n}"))
                    .spawn(move || {
                        let params = FingerprintParams::index();
                        while let Some(id) = scheduler.next() {
                            run_one(&index, &scheduler, &params, retry, on_duplicate, &metrics, id);
                            scheduler.done(id);
                        }
                    })?,
            );
        }
        Ok(JobPool { handles, scheduler })
    }

    /// Stops taking jobs and waits for the running ones to finish; jobs not
    /// started stay queued in the store for the next start.
    pub fn shutdown(self) {
        self.scheduler.stop();
        for h in self.handles {
            let _ = h.join();
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

fn run_one(
    index: &FingerprintIndex,
    scheduler: &Scheduler,
    params: &FingerprintParams,
    retry: RetryPolicy,
    on_duplicate: OnDuplicate,
    metrics: &Metrics,
    id: TrackId,
) {
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
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| fingerprint(index, params, on_duplicate, &job)))
        .unwrap_or_else(|_| Err(("internal".to_string(), "the fingerprinting worker panicked".to_string())));
    match outcome {
        Ok(Done::Rejected) => metrics.job_outcome("rejected"),
        Ok(Done::Ready) => {
            metrics.job_outcome("ready");
            tracing::info!(id, path = %job.path, ms = started.elapsed().as_millis() as u64, "track ready");
            if index.fresh_postings() >= COMPACT_FRESH_POSTINGS {
                if let Err(e) = index.compact().and_then(|_| index.flush()) {
                    tracing::error!(error = %e, "compaction failed; the fresh tier keeps serving");
                }
            }
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
                }
            }
        }
    }
}

/// How a job ended when nothing failed.
enum Done {
    Ready,
    /// A duplicate under the `reject` policy: not stored.
    Rejected,
    /// Cancelled while it ran.
    Cancelled,
}

/// Fingerprints the job's file, checks it for duplicates (under the job's
/// own policy, else `default_policy`) and stores the track unless rejected.
fn fingerprint(
    index: &FingerprintIndex,
    params: &FingerprintParams,
    default_policy: OnDuplicate,
    job: &JobRecord,
) -> Result<Done, (String, String)> {
    let fail = |code: crate::ErrorCode, m: String| (code.as_str().to_string(), m);
    let analysed = analyse_file(Path::new(&job.path), params).map_err(|e| fail(e.code(), e.to_string()))?;
    if let Some(e) = &analysed.analysis_error {
        // Still recognisable; only similarity and filters will miss it.
        tracing::warn!(id = job.id, path = %job.path, error = %e, "stored without music analysis");
    }
    let mut t = new_track(&job.path, analysed);
    let r = &mut t.record;
    for (field, given) in [
        (&mut r.artist, &job.artist),
        (&mut r.album, &job.album),
        (&mut r.genre, &job.genre),
    ] {
        if given.is_some() {
            field.clone_from(given);
        }
    }
    if let Some(title) = &job.title {
        r.title.clone_from(title);
    }
    let policy = job.on_duplicate.unwrap_or(default_policy);
    let done = match index.admit_job(job.id, t, policy, &duplicate_params()) {
        Ok(d) => d,
        Err(IndexError::UnknownTrack(_)) => return Ok(Done::Cancelled),
        Err(e) => return Err(fail(crate::error::index_code(&e), e.to_string())),
    };
    index
        .flush()
        .map_err(|e| fail(crate::error::index_code(&e), e.to_string()))?;
    if let Some(d) = done.duplicates.first() {
        tracing::info!(id = job.id, path = %job.path, of = d.of, kind = %d.kind, overlap_s = d.overlap_s,
            score = d.score, stored = done.record.is_some(), "duplicate of a stored track");
    }
    if done.record.is_some() {
        return Ok(Done::Ready);
    }
    // An upload's file exists only because it was uploaded: a rejected one
    // leaves nothing behind. A file the user put in the watched folder is
    // theirs and stays (its path keeps pointing at the rejected job, so it
    // is not tried again at every start).
    if job.source == JobSource::Upload {
        if let Err(e) = std::fs::remove_file(&job.path) {
            tracing::warn!(id = job.id, path = %job.path, error = %e, "cannot delete a rejected upload");
        }
    }
    Ok(Done::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_order_and_stop() {
        let s = Arc::new(Scheduler::default());
        let now = Instant::now();
        s.push_at(2, now + Duration::from_millis(30));
        s.push_at(1, now);
        s.push_at(1, now); // already waiting: no second copy
        assert_eq!(s.depth(), 2);
        assert_eq!(s.next(), Some(1));
        assert_eq!(s.next(), Some(2));
        assert!(now.elapsed() >= Duration::from_millis(30));
        s.done(1);
        s.done(2);
        assert_eq!(s.depth(), 0);
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.next());
        std::thread::sleep(Duration::from_millis(20));
        s.stop();
        assert_eq!(t.join().unwrap(), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
        };
        assert_eq!(p.delay(1), Duration::from_millis(500));
        assert_eq!(p.delay(2), Duration::from_millis(1000));
        assert_eq!(p.delay(3), Duration::from_millis(2000));
        assert_eq!(p.delay(40), Duration::from_secs(300));
    }
}

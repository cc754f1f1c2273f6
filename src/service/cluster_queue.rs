//! Jobs on a cluster: the Redis Stream (`sonica_index::JobQueue`) in front
//! of each node's [`Scheduler`], so any node's workers take any node's
//! uploads, and a dead node's jobs are taken over by the others.
//!
//! - Every new job is pushed to the stream (never straight to the local
//!   scheduler). One puller thread per node takes entries while its workers
//!   have room (`busy < job_workers`; a node with 0 workers takes nothing)
//!   and hands them to the local scheduler.
//! - An entry is acknowledged when its job ends for good: READY, FAILED,
//!   REJECTED, or gone (cancelled, deleted). A failed attempt with a retry
//!   left keeps its entry: the job waits out its backoff in this node's
//!   scheduler and runs here again, under the same attempts and backoff
//!   rules as without a cluster.
//! - Every [`HEARTBEAT`] the node touches the entries it holds (running or
//!   in backoff, and until its running jobs end at shutdown), so a long
//!   job is never taken from a live node, and reclaims entries nobody
//!   touched for [`RECLAIM_AFTER`]: their node died. A reclaimed job goes through the restart rule
//!   (`FingerprintIndex::recover_job`: the dead run counts as an attempt,
//!   and a job whose worker keeps dying fails with `crashed_worker`), then
//!   is pushed again as a fresh entry for any node with room.
//! - A job completes at most once: `complete_job` checks, under the
//!   cluster's writer lease, that the job is still in the `jobs` tree, so a
//!   second run of a taken-over job drops its result.
//!
//! A job's file is the path its upload was saved to, in the uploading
//! node's songs folder: another node can take a job over only when every
//! node runs with the same `--songs-dir` (a shared folder). Otherwise the
//! file is missing there, and the job fails after its attempts.
//!
//! Known gap: a node killed between storing a job and pushing its entry
//! leaves the job QUEUED with no entry; deleting and uploading it again
//! runs it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sonica_index::{FingerprintIndex, JobQueue, QueuedJob, StoreError};
use sonica_schema::{JobStatus, TrackId};

use crate::service::scheduler::RetryPolicy;
use crate::service::scheduler::Scheduler;

/// How often a node touches its entries and looks for abandoned ones.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// An entry untouched this long is taken over: its node stopped beating
/// (ten missed heartbeats; a `kill -9`ed node's job restarts elsewhere
/// after about this long).
pub const RECLAIM_AFTER: Duration = Duration::from_secs(10);
/// How long one blocking read of the stream waits for an entry.
const TAKE_WAIT: Duration = Duration::from_millis(500);

/// This node's side of the cluster's job queue.
pub struct ClusterJobs {
    queue: JobQueue,
    scheduler: Arc<Scheduler>,
    index: Arc<FingerprintIndex>,
    /// The stream entry of every job this node holds, running or waiting.
    taken: Mutex<HashMap<TrackId, String>>,
    workers: usize,
    retry: RetryPolicy,
    /// Set: take no more entries.
    stopping: AtomicBool,
    /// Set: stop touching this node's entries (it holds none any more).
    ended: AtomicBool,
}

/// The puller and heartbeat threads; [`Puller::shutdown`] hands back what
/// this node took and did not start.
pub struct Puller {
    jobs: Arc<ClusterJobs>,
    handles: Vec<JoinHandle<()>>,
}

impl ClusterJobs {
    /// Creates the stream's consumer group if needed.
    pub fn new(
        queue: JobQueue,
        scheduler: Arc<Scheduler>,
        index: Arc<FingerprintIndex>,
        workers: usize,
        retry: RetryPolicy,
    ) -> Result<ClusterJobs, StoreError> {
        queue.ensure()?;
        Ok(ClusterJobs {
            queue,
            scheduler,
            index,
            taken: Mutex::new(HashMap::new()),
            workers,
            retry,
            stopping: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        })
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, HashMap<TrackId, String>> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a new job for any node's workers.
    pub fn push(&self, id: TrackId) -> Result<(), StoreError> {
        self.queue.push(id).map(|_| ())
    }

    /// Starts the heartbeat (touch) and the puller (reclaim, take). The
    /// touch has a thread of its own so that nothing the puller waits on
    /// (the writer lease, a failover) lets a live node's jobs be stolen.
    pub fn start(self: &Arc<Self>) -> std::io::Result<Puller> {
        let (beat, pull) = (self.clone(), self.clone());
        let handles = vec![
            std::thread::Builder::new()
                .name("sonica-cluster-beat".into())
                .spawn(move || beat.beat())?,
            std::thread::Builder::new()
                .name("sonica-cluster-jobs".into())
                .spawn(move || pull.pull())?,
        ];
        Ok(Puller {
            jobs: self.clone(),
            handles,
        })
    }

    fn beat(&self) {
        while !self.ended.load(Ordering::Relaxed) {
            if let Err(e) = self.queue.touch_mine() {
                tracing::warn!(error = %e, "cannot renew this node's jobs on the cluster");
            }
            std::thread::sleep(HEARTBEAT);
        }
    }

    fn pull(&self) {
        let mut beat = Instant::now() - HEARTBEAT;
        let mut unsettled: Vec<QueuedJob> = Vec::new();
        while !self.stopping.load(Ordering::Relaxed) {
            if beat.elapsed() >= HEARTBEAT {
                beat = Instant::now();
                self.reclaim(&mut unsettled);
            }
            if self.workers == 0 || self.scheduler.busy() >= self.workers {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            match self.queue.take(TAKE_WAIT) {
                Ok(Some(q)) => self.admit(q),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the cluster's job queue");
                    std::thread::sleep(HEARTBEAT);
                }
            }
        }
    }

    /// Takes over dead nodes' entries.
    fn reclaim(&self, unsettled: &mut Vec<QueuedJob>) {
        match self.queue.reclaim(RECLAIM_AFTER) {
            Ok(found) => unsettled.extend(found),
            Err(e) => tracing::warn!(error = %e, "cannot reclaim abandoned jobs"),
        }
        // An entry whose job cannot be read now is kept (and touched) and
        // tried again next beat.
        unsettled.retain(|q| !self.take_over(q));
    }

    /// A dead node's job: the restart rule, then a fresh entry for any
    /// node. The new entry is pushed before the old one is acknowledged,
    /// so a kill in between duplicates an entry (harmless: a job completes
    /// once) rather than losing the job. `false` when it must be tried
    /// again.
    fn take_over(&self, q: &QueuedJob) -> bool {
        let again = match self.index.recover_job(q.id, self.retry.attempts) {
            Ok(again) => again,
            Err(e) => {
                tracing::warn!(id = q.id, error = %e, "cannot read a reclaimed job; trying again");
                return false;
            }
        };
        if again.is_some() {
            if let Err(e) = self.push(q.id) {
                tracing::warn!(id = q.id, error = %e, "cannot queue a reclaimed job; trying again");
                return false;
            }
            tracing::warn!(id = q.id, "job of a stopped node taken over");
        } else {
            tracing::info!(id = q.id, "reclaimed job has ended; dropped");
        }
        self.ack(&q.entry);
        true
    }

    /// An entry taken from the stream: this node runs its job.
    fn admit(&self, q: QueuedJob) {
        let mut taken = self.taken();
        if taken.contains_key(&q.id) {
            // A second entry for a job this node holds already.
            drop(taken);
            self.ack(&q.entry);
            return;
        }
        taken.insert(q.id, q.entry);
        drop(taken);
        self.scheduler.push(q.id);
    }

    /// A worker ran job `id` and did not queue a retry: acknowledges its
    /// entry if the job has ended for good. A job still QUEUED or
    /// PROCESSING (its worker could not read or write it) keeps its entry
    /// and runs here again after the backoff.
    pub fn finished(&self, id: TrackId) {
        let Some(entry) = self.taken().get(&id).cloned() else {
            return;
        };
        let ended = match self.index.job(id) {
            Ok(None) => true,
            Ok(Some(j)) => !matches!(j.status, JobStatus::Queued | JobStatus::Processing),
            Err(_) => false,
        };
        if ended {
            self.taken().remove(&id);
            self.ack(&entry);
        } else {
            let delay = self.retry.backoff.max(HEARTBEAT);
            self.scheduler.push_at(id, Instant::now() + delay);
        }
    }

    fn ack(&self, entry: &str) {
        // An entry left unacknowledged is still touched by this node; the
        // next node to reclaim it after this one stops finds the job ended.
        if let Err(e) = self.queue.ack(entry) {
            tracing::warn!(entry, error = %e, "cannot acknowledge a finished job");
        }
    }
}

impl Puller {
    /// Stops taking entries; the running jobs stay touched (this node's)
    /// until [`Puller::shutdown`].
    pub fn stop(&self) {
        self.jobs.stopping.store(true, Ordering::Relaxed);
    }

    /// After the workers stopped: joins the threads and hands the entries
    /// taken but not run back to the stream, for the other nodes.
    pub fn shutdown(self) {
        self.stop();
        self.jobs.ended.store(true, Ordering::Relaxed);
        for h in self.handles {
            let _ = h.join();
        }
        let left: Vec<(TrackId, String)> = self.jobs.taken().drain().collect();
        for (id, entry) in left {
            match self.jobs.push(id) {
                Ok(()) => self.jobs.ack(&entry),
                // Left pending: another node reclaims it.
                Err(e) => tracing::warn!(id, error = %e, "cannot hand a job back to the cluster"),
            }
        }
    }
}

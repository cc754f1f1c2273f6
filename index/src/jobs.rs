//! The durable job queue's storage: tracks accepted but not fingerprinted.
//!
//! A job is keyed by the track id it will become, and that id is reserved
//! when the job is written, so a client can poll it at once. Finishing a job
//! is one atomic batch that stores the track and deletes the job, so after a
//! kill an id is either still a job (and queued again at start) or a ready
//! track, never both and never neither. Scheduling (due times, workers)
//! belongs to the service; this file only keeps the records consistent.

use sonica_schema::layout::track_key;
use sonica_schema::{JobRecord, JobStatus, TrackId, TrackRecord, Tree};

use crate::fingerprints::{FingerprintIndex, NewTrack};
use crate::store::Batch;
use crate::IndexError;

impl FingerprintIndex {
    /// Reserves an id for `job` and stores it with its path claim. The
    /// returned record carries the id. Durable after [`FingerprintIndex::flush`].
    pub fn enqueue(&self, mut job: JobRecord) -> Result<JobRecord, IndexError> {
        let _w = self.lock_writer()?;
        let mut b = Batch::new();
        job.id = self.allocate_id(&mut b)?;
        b.put(Tree::Jobs, track_key(job.id), job.encode());
        b.put(Tree::Paths, job.path.as_bytes(), track_key(job.id));
        self.store.commit(b)?;
        Ok(job)
    }

    pub fn job(&self, id: TrackId) -> Result<Option<JobRecord>, IndexError> {
        match self.store.get(Tree::Jobs, &track_key(id))? {
            Some(v) => Ok(Some(JobRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Every job, by id.
    pub fn jobs(&self) -> Result<Vec<JobRecord>, IndexError> {
        self.store
            .scan(Tree::Jobs)
            .map(|e| Ok(JobRecord::decode(&e?.1)?))
            .collect()
    }

    /// Rewrites a job's record, unless the job has meanwhile been finished
    /// or cancelled (then `UnknownTrack`).
    pub fn update_job(&self, job: &JobRecord) -> Result<(), IndexError> {
        let _w = self.lock_writer()?;
        if self.store.get(Tree::Jobs, &track_key(job.id))?.is_none() {
            return Err(IndexError::UnknownTrack(job.id));
        }
        let mut b = Batch::new();
        b.put(Tree::Jobs, track_key(job.id), job.encode());
        self.store.commit(b)?;
        Ok(())
    }

    /// Stores the fingerprinted track for job `id` and deletes the job, in
    /// one batch. Fails with `UnknownTrack` when the job was cancelled while
    /// it ran: the work is then dropped, as the client asked.
    pub fn complete_job(&self, id: TrackId, track: NewTrack) -> Result<TrackRecord, IndexError> {
        let _w = self.lock_writer()?;
        if self.store.get(Tree::Jobs, &track_key(id))?.is_none() {
            return Err(IndexError::UnknownTrack(id));
        }
        let mut b = Batch::new();
        b.remove(Tree::Jobs, track_key(id));
        self.commit_track(id, track, &[], b)
    }

    /// Deletes a job (queued, running or failed) and its path claim.
    pub fn cancel_job(&self, id: TrackId) -> Result<JobRecord, IndexError> {
        let _w = self.lock_writer()?;
        let job = self.job(id)?.ok_or(IndexError::UnknownTrack(id))?;
        let mut b = Batch::new();
        b.remove(Tree::Jobs, track_key(id));
        if self.store.get(Tree::Paths, job.path.as_bytes())?.as_deref() == Some(&track_key(id)[..]) {
            b.remove(Tree::Paths, job.path.as_bytes());
        }
        self.store.commit(b)?;
        Ok(job)
    }

    /// Jobs that must run again after a restart: everything not failed,
    /// with `processing` put back to `queued` (its worker died with the
    /// process).
    pub fn recover_jobs(&self, max_attempts: u32) -> Result<Vec<JobRecord>, IndexError> {
        let mut out = Vec::new();
        for j in self.jobs()? {
            if let Some(j) = self.recover(j, max_attempts)? {
                out.push(j);
            }
        }
        Ok(out)
    }

    /// [`FingerprintIndex::recover_jobs`] for one job whose worker died (a
    /// cluster node's job taken over by another node): the job to run
    /// again, or `None` when it is gone, failed for good, or has now failed
    /// with [`CRASHED_WORKER`].
    pub fn recover_job(&self, id: TrackId, max_attempts: u32) -> Result<Option<JobRecord>, IndexError> {
        let Some(j) = self.job(id)? else { return Ok(None) };
        match self.recover(j, max_attempts) {
            Err(IndexError::UnknownTrack(_)) => Ok(None), // finished or cancelled meanwhile
            other => other,
        }
    }

    /// The one rule for a job found after its worker died.
    fn recover(&self, mut j: JobRecord, max_attempts: u32) -> Result<Option<JobRecord>, IndexError> {
        match j.status {
            JobStatus::Failed | JobStatus::Rejected => return Ok(None),
            JobStatus::Queued => {}
            // Found mid-run: the process died under it. That run counts
            // as an attempt (it was counted when it started), so a file
            // that kills its worker cannot kill every start after it.
            JobStatus::Processing if j.attempts >= max_attempts => {
                j.status = JobStatus::Failed;
                j.error_code = Some(CRASHED_WORKER.into());
                j.error = Some(format!(
                    "the process stopped while this file was being processed, {} time(s); it is not tried again",
                    j.attempts
                ));
                self.update_job(&j)?;
                return Ok(None);
            }
            JobStatus::Processing => {
                j.status = JobStatus::Queued;
                self.update_job(&j)?;
            }
        }
        Ok(Some(j))
    }
}

/// The error code of a job given up on because its worker kept dying.
pub const CRASHED_WORKER: &str = "crashed_worker";

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sonica_schema::{Peak, Tier};

    use super::*;
    use crate::test_support::job;
    use crate::{Hasher, KvStore, MemStore};

    fn hasher() -> Hasher {
        Arc::new(|peaks: &[Peak]| peaks.iter().map(|p| (u32::from(p.freq16), p.time)).collect())
    }

    fn track(path: &str) -> NewTrack {
        let peaks: Vec<Peak> = (0..20)
            .map(|i| Peak {
                time: i * 3,
                freq16: 100 + i as u16,
            })
            .collect();
        let hashes = peaks.iter().map(|p| (u32::from(p.freq16), p.time)).collect();
        NewTrack {
            record: crate::test_support::record(0, path, Tier::Fresh),
            peaks,
            hashes,
            analysis: None,
            chromaprint: None,
        }
    }

    #[test]
    fn a_job_becomes_a_track_atomically_and_ids_are_not_shared() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store.clone(), hasher()).unwrap();
        let j = idx.enqueue(job("a.wav")).unwrap();
        let direct = idx.add(track("b.wav")).unwrap();
        assert_ne!(j.id, direct.id);
        assert_eq!(idx.id_by_path("a.wav").unwrap(), Some(j.id));
        assert_eq!(idx.job(j.id).unwrap().unwrap().status, JobStatus::Queued);

        let rec = idx.complete_job(j.id, track("a.wav")).unwrap();
        assert_eq!(rec.id, j.id);
        assert!(idx.job(j.id).unwrap().is_none());
        assert_eq!(idx.get(j.id).unwrap().unwrap().id, j.id);
        // Finishing twice is refused rather than duplicating the track.
        assert!(matches!(
            idx.complete_job(j.id, track("a.wav")),
            Err(IndexError::UnknownTrack(_))
        ));
    }

    #[test]
    fn cancelled_jobs_are_not_completed_and_processing_is_recovered() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store.clone(), hasher()).unwrap();
        let a = idx.enqueue(job("a.wav")).unwrap();
        let mut b = idx.enqueue(job("b.wav")).unwrap();
        let mut c = idx.enqueue(job("c.wav")).unwrap();
        b.status = JobStatus::Processing;
        idx.update_job(&b).unwrap();
        c.status = JobStatus::Failed;
        idx.update_job(&c).unwrap();

        idx.cancel_job(a.id).unwrap();
        assert!(idx.id_by_path("a.wav").unwrap().is_none());
        assert!(idx.complete_job(a.id, track("a.wav")).is_err());
        assert!(idx.get(a.id).unwrap().is_none());

        let reopened = FingerprintIndex::open(store, hasher()).unwrap();
        let again = reopened.recover_jobs(3).unwrap();
        assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id]);
        assert_eq!(reopened.job(b.id).unwrap().unwrap().status, JobStatus::Queued);
        assert_eq!(reopened.job(c.id).unwrap().unwrap().status, JobStatus::Failed);
    }

    #[test]
    fn a_reclaimed_job_follows_the_restart_rule() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store, hasher()).unwrap();
        let mut j = idx.enqueue(job("taken.wav")).unwrap();
        j.status = JobStatus::Processing;
        j.attempts = 1;
        idx.update_job(&j).unwrap();
        // Its node died mid-run: queued again, the run counted.
        let again = idx.recover_job(j.id, 2).unwrap().expect("runs again");
        assert_eq!((again.status, again.attempts), (JobStatus::Queued, 1));
        // The second node dies too: given up on.
        j.attempts = 2;
        idx.update_job(&j).unwrap();
        assert!(idx.recover_job(j.id, 2).unwrap().is_none());
        assert_eq!(
            idx.job(j.id).unwrap().unwrap().error_code.as_deref(),
            Some(CRASHED_WORKER)
        );
        // Gone (finished or cancelled): nothing to run.
        assert!(idx.recover_job(j.id + 100, 2).unwrap().is_none());
    }

    #[test]
    fn a_job_that_keeps_killing_its_worker_fails_instead_of_looping() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let idx = FingerprintIndex::open(store.clone(), hasher()).unwrap();
        let mut j = idx.enqueue(job("bomb.wav")).unwrap();
        // Each start: the worker marks it PROCESSING (one more attempt) and
        // the process dies; the next start recovers it.
        for start in 1..=3u32 {
            j.status = JobStatus::Processing;
            j.attempts = start;
            idx.update_job(&j).unwrap();
            let again = FingerprintIndex::open(store.clone(), hasher())
                .unwrap()
                .recover_jobs(3)
                .unwrap();
            if start < 3 {
                assert_eq!(again.len(), 1, "start {start}");
            } else {
                assert!(again.is_empty(), "given up after 3 attempts");
            }
        }
        let failed = idx.job(j.id).unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error_code.as_deref(), Some(CRASHED_WORKER));
    }
}

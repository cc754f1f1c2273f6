//! Admission: the duplicate check and the add under one writer lock, so two
//! copies arriving at once cannot both pass the check, and a changed file
//! replaces its old track in the same atomic batch that adds the new one.

use sonica_schema::duplicate::parse_sha256;
use sonica_schema::layout::track_key;
use sonica_schema::{Duplicate, JobStatus, OnDuplicate, TrackId, TrackRecord, Tree};

use crate::duplicates::{DuplicateParams, Probe};
use crate::fingerprints::{FingerprintIndex, NewTrack};
use crate::store::Batch;
use crate::IndexError;

/// What [`FingerprintIndex::admit`] did.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The stored record; `None` when the policy rejected the track.
    pub record: Option<TrackRecord>,
    /// What the track duplicates, best first (empty: nothing).
    pub duplicates: Vec<Duplicate>,
    /// The track a changed file replaced, if any.
    pub replaced: Option<TrackRecord>,
}

impl FingerprintIndex {
    /// Checks `t` against the library and adds it unless `policy` rejects
    /// it. `replaces` names the track of the same path that a changed file
    /// supersedes: it is not counted as a duplicate and is removed in the
    /// batch that adds the new one.
    pub fn admit(
        &self,
        t: NewTrack,
        policy: OnDuplicate,
        params: &DuplicateParams,
        replaces: Option<TrackId>,
    ) -> Result<Admitted, IndexError> {
        let _w = self.lock_writer()?;
        let old = match replaces {
            Some(id) => Some(self.get(id)?.ok_or(IndexError::UnknownTrack(id))?),
            None => None,
        };
        let exclude: Vec<TrackId> = replaces.into_iter().collect();
        let duplicates = self.check(&t, &exclude, params)?;
        if policy == OnDuplicate::Reject && !duplicates.is_empty() {
            return Ok(Admitted {
                record: None,
                duplicates,
                replaced: None,
            });
        }
        let mut b = Batch::new();
        if let Some(rec) = &old {
            self.removal_ops(rec, &mut b)?;
        }
        let id = self.allocate_id(&mut b)?;
        let t = mark(t, policy, &duplicates);
        if let Some(rec) = &old {
            // The removal above dropped the old path entry; the new track
            // writes it again. Unpublish first so the catalog never holds
            // two tracks for one path.
            self.unpublish(rec);
        }
        let record = match self.commit_track(id, t, &duplicates, b) {
            Ok(r) => r,
            Err(e) => {
                if let Some(rec) = &old {
                    self.republish(rec)?;
                }
                return Err(e);
            }
        };
        Ok(Admitted {
            record: Some(record),
            duplicates,
            replaced: old,
        })
    }

    /// Finishes job `id` like [`FingerprintIndex::complete_job`], after the
    /// duplicate check. A rejected job stays in the `jobs` tree with status
    /// `rejected` and what it duplicates; an upload's path claim is dropped.
    /// `before_reject` runs under the writer lock just before a rejection is
    /// committed (the service deletes an upload's file there, so no reader
    /// ever sees a rejected job whose file is still on disk).
    pub fn admit_job(
        &self,
        id: TrackId,
        t: NewTrack,
        policy: OnDuplicate,
        params: &DuplicateParams,
        before_reject: impl FnOnce(&sonica_schema::JobRecord),
    ) -> Result<Admitted, IndexError> {
        let _w = self.lock_writer()?;
        let Some(mut job) = self.job(id)? else {
            return Err(IndexError::UnknownTrack(id));
        };
        let duplicates = self.check(&t, &[id], params)?;
        let mut b = Batch::new();
        if policy == OnDuplicate::Reject && !duplicates.is_empty() {
            job.status = JobStatus::Rejected;
            job.duplicates.clone_from(&duplicates);
            job.error_code = Some("duplicate".into());
            job.error = Some(format!(
                "rejected: {} of track {} ({})",
                duplicates[0].kind, duplicates[0].of, duplicates[0].of_path
            ));
            b.put(Tree::Jobs, track_key(id), job.encode());
            // An upload's file is deleted by the service, so its path is
            // free again; a watched file stays, and keeps its claim so it is
            // not queued again at every start.
            let owned = job.source == sonica_schema::JobSource::Upload;
            if owned && self.store.get(Tree::Paths, job.path.as_bytes())?.as_deref() == Some(&track_key(id)[..]) {
                b.remove(Tree::Paths, job.path.as_bytes());
            }
            before_reject(&job);
            self.store.commit(b)?;
            return Ok(Admitted {
                record: None,
                duplicates,
                replaced: None,
            });
        }
        b.remove(Tree::Jobs, track_key(id));
        let t = mark(t, policy, &duplicates);
        let record = self.commit_track(id, t, &duplicates, b)?;
        Ok(Admitted {
            record: Some(record),
            duplicates,
            replaced: None,
        })
    }

    /// What a new track duplicates, under the writer lock.
    fn check(&self, t: &NewTrack, exclude: &[TrackId], params: &DuplicateParams) -> Result<Vec<Duplicate>, IndexError> {
        let sha = t.record.sha256.as_deref().and_then(parse_sha256);
        self.find_duplicates(
            &Probe {
                sha256: sha.as_ref(),
                peaks: &t.peaks,
                hashes: &t.hashes,
                exclude,
            },
            params,
        )
    }

    /// Puts a track back into the in-memory tiers after a failed replace.
    fn republish(&self, rec: &TrackRecord) -> Result<(), IndexError> {
        let ps = self.derive_postings(rec.id)?;
        self.publish(rec, &ps, self.analysis(rec.id)?.as_ref());
        Ok(())
    }
}

/// Marks the record under the `flag` policy.
fn mark(mut t: NewTrack, policy: OnDuplicate, duplicates: &[Duplicate]) -> NewTrack {
    if policy == OnDuplicate::Flag {
        t.record.duplicate_of = duplicates.first().cloned();
    }
    t
}

//! `--rebuild`'s repacking of values stored in an older encoding: the
//! analysis records of a format-1 store are plain JSON, which version 2
//! reads but stores packed ([`sonica_schema::packed`]), a fifth the size.
//! A record is rewritten only if it decodes, so an unreadable one stays
//! for `--verify` to name; each rewrite is one put of the same record, so
//! a kill leaves every record readable, packed or not.

use sonica_schema::packed::is_packed;
use sonica_schema::{TrackAnalysis, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::store::Batch;
use crate::IndexError;

/// Records rewritten per committed batch.
const RECORDS_PER_BATCH: usize = 256;

impl FingerprintIndex {
    /// Rewrites every plain-JSON analysis record packed; returns how many.
    /// Runs under the writer lock.
    pub fn repack_analyses(&self) -> Result<usize, IndexError> {
        let _w = self.lock_writer()?;
        let mut plain = Vec::new();
        for e in self.store.scan(Tree::Analysis) {
            let (k, v) = e?;
            if !is_packed(&v) {
                plain.push(k);
            }
        }
        let mut repacked = 0;
        for chunk in plain.chunks(RECORDS_PER_BATCH) {
            let mut b = Batch::new();
            for k in chunk {
                let Some(v) = self.store.get(Tree::Analysis, k)? else {
                    continue;
                };
                if let Ok(a) = TrackAnalysis::decode(&v) {
                    b.put(Tree::Analysis, k.clone(), a.encode());
                    repacked += 1;
                }
            }
            self.store.commit(b)?;
        }
        self.store.flush()?;
        Ok(repacked)
    }
}

//! The mastering assistant's storage: the reference library (library
//! tracks marked with a genre, with their mastering profile) and the
//! stored analyses with their retention bound.
//!
//! References live in the `references` tree and, for "closest references",
//! in an in-memory [`VectorIndex`] over their mastering vectors (the same
//! machinery as the other vectors; references are few, so it is rebuilt
//! from the tree at open instead of being saved). The tree is the truth: a
//! search re-reads every hit, so a reference whose track was deleted since
//! is never answered. Analyses take ids from a counter in `meta`, so an id
//! is never reused even after retention has dropped older ones.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sonica_schema::layout::{parse_track_key, track_key};
use sonica_schema::mastering::MASTERING_DIM;
use sonica_schema::mastering_record::{AnalysisRecord, PreviewAudio, ReferenceRecord};
use sonica_schema::Tree;

use crate::store::Batch;
use crate::vectors::{AllowList, VectorIndex};
use crate::{FingerprintIndex, IndexError};

/// Key in `meta` of the next analysis id (u64 BE).
const NEXT_ANALYSIS_ID: &[u8] = b"next_analysis_id";

/// References and analyses over one store.
pub struct MasteringLibrary {
    index: Arc<FingerprintIndex>,
    vectors: VectorIndex,
    /// Serialises analysis ids and retention.
    analyses: Mutex<()>,
}

fn vector_error(e: crate::VectorError) -> IndexError {
    IndexError::Store(crate::StoreError::Backend(format!("reference vectors: {e}")))
}

impl MasteringLibrary {
    /// Opens over `index`, loading every readable reference's vector.
    pub fn open(index: Arc<FingerprintIndex>) -> Result<Self, IndexError> {
        let vectors = VectorIndex::in_memory(MASTERING_DIM).map_err(vector_error)?;
        let lib = MasteringLibrary {
            index,
            vectors,
            analyses: Mutex::new(()),
        };
        for r in lib.references(None)? {
            // A vector that is not finite stays out of the search; the
            // reference still counts for its genre's target.
            let _ = lib.vectors.insert(r.track_id, &r.profile.vector());
        }
        Ok(lib)
    }

    /// Marks a live track as a reference (or changes its genre or profile).
    /// [`IndexError::UnknownTrack`] when the track is not live: nothing is
    /// written. The check and the write happen under the writer lock, so a
    /// concurrent delete cannot leave a mark behind.
    pub fn mark(&self, r: &ReferenceRecord) -> Result<(), IndexError> {
        {
            let _w = self.index.lock_writer()?;
            if self.index.get(r.track_id)?.is_none() {
                return Err(IndexError::UnknownTrack(r.track_id));
            }
            let mut b = Batch::new();
            b.put(Tree::References, track_key(r.track_id), r.encode());
            self.index.store.commit(b)?;
        }
        self.index.flush()?;
        let _ = self.vectors.insert(r.track_id, &r.profile.vector());
        Ok(())
    }

    /// Removes a reference mark; false when the track had none.
    pub fn unmark(&self, track_id: u32) -> Result<bool, IndexError> {
        let key = track_key(track_id);
        let had = {
            let _w = self.index.lock_writer()?;
            let had = self.index.store.get(Tree::References, &key)?.is_some();
            if had {
                let mut b = Batch::new();
                b.remove(Tree::References, key);
                self.index.store.commit(b)?;
            }
            had
        };
        if had {
            self.index.flush()?;
        }
        self.vectors.remove(track_id);
        Ok(had)
    }

    /// One track's reference mark.
    pub fn reference(&self, track_id: u32) -> Result<Option<ReferenceRecord>, IndexError> {
        match self.index.store.get(Tree::References, &track_key(track_id))? {
            Some(v) => Ok(Some(ReferenceRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Every reference (of `genre`, when given; genres are stored
    /// normalised), by track id.
    pub fn references(&self, genre: Option<&str>) -> Result<Vec<ReferenceRecord>, IndexError> {
        let mut out = Vec::new();
        for e in self.index.store.scan(Tree::References) {
            let (k, v) = e?;
            if parse_track_key(&k).is_none() {
                continue;
            }
            let r = ReferenceRecord::decode(&v)?;
            if genre.is_none_or(|g| r.genre == g) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// How many references each genre has.
    pub fn genres(&self) -> Result<BTreeMap<String, usize>, IndexError> {
        let mut out = BTreeMap::new();
        for r in self.references(None)? {
            *out.entry(r.genre).or_insert(0) += 1;
        }
        Ok(out)
    }

    /// The `k` references whose mastering vector is closest to `vector`
    /// (cosine), of `genre` when given, with their similarity.
    pub fn nearest(
        &self,
        vector: &[f32],
        genre: Option<&str>,
        k: usize,
    ) -> Result<Vec<(ReferenceRecord, f32)>, IndexError> {
        let live: BTreeMap<u32, ReferenceRecord> =
            self.references(genre)?.into_iter().map(|r| (r.track_id, r)).collect();
        if live.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let allow = AllowList::new(live.keys().copied().collect());
        let hits = self.vectors.search(vector, k, Some(&allow)).map_err(vector_error)?;
        Ok(hits
            .into_iter()
            .filter_map(|h| live.get(&h.id).map(|r| (r.clone(), h.similarity)))
            .collect())
    }

    /// Stores an analysis (its `id` is assigned here and returned) with the
    /// mix's opening for the preview, then drops the oldest analyses beyond
    /// `keep`. One batch: a kill leaves either all of it or none.
    pub fn store_analysis(
        &self,
        rec: &AnalysisRecord,
        audio: Option<&PreviewAudio>,
        keep: usize,
    ) -> Result<u64, IndexError> {
        let _g = self.analyses.lock().unwrap_or_else(|p| p.into_inner());
        let store = &self.index.store;
        let next = match store.get(Tree::Meta, NEXT_ANALYSIS_ID)? {
            Some(v) => {
                u64::from_be_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| sonica_schema::SchemaError::Corrupt {
                            what: "analysis counter",
                            why: format!("{} bytes, not 8", v.len()),
                        })?,
                )
            }
            None => 1,
        };
        let mut r = rec.clone();
        r.id = next;
        r.has_preview = audio.is_some();
        let key = next.to_be_bytes();
        let mut b = Batch::new();
        b.put(Tree::Meta, NEXT_ANALYSIS_ID, (next + 1).to_be_bytes());
        b.put(Tree::Analyses, key, r.encode());
        if let Some(a) = audio {
            b.put(Tree::AnalysisAudio, key, a.encode());
        }
        let mut held = Vec::new();
        for e in store.scan(Tree::Analyses) {
            held.push(e?.0);
        }
        let excess = (held.len() + 1).saturating_sub(keep.max(1));
        for k in held.into_iter().take(excess) {
            b.remove(Tree::AnalysisAudio, k.clone());
            b.remove(Tree::Analyses, k);
        }
        store.commit(b)?;
        store.flush()?;
        Ok(next)
    }

    /// A stored analysis.
    pub fn analysis(&self, id: u64) -> Result<Option<AnalysisRecord>, IndexError> {
        match self.index.store.get(Tree::Analyses, &id.to_be_bytes())? {
            Some(v) => Ok(Some(AnalysisRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// The stored opening of an analysed mix.
    pub fn preview_audio(&self, id: u64) -> Result<Option<PreviewAudio>, IndexError> {
        match self.index.store.get(Tree::AnalysisAudio, &id.to_be_bytes())? {
            Some(v) => Ok(Some(PreviewAudio::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// How many analyses are kept.
    pub fn analysis_count(&self) -> Result<usize, IndexError> {
        Ok(self.index.store.len(Tree::Analyses)?)
    }
}

#[cfg(test)]
mod tests;

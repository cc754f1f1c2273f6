//! The fingerprint index: track records, canonical peaks and the two hash
//! tiers, behind one API that keeps them consistent.
//!
//! Consistency rules (what makes a kill at any moment harmless):
//! - a track is added by one atomic batch: record, path and peaks together,
//!   so a half-ingested track is never visible;
//! - the fresh tier is the set of tracks whose record says
//!   [`Tier::Fresh`]; their postings live in memory, derived from the
//!   canonical peaks by the [`Hasher`] (at add, and again at open), so a
//!   fresh track costs one small write and no shared read-modify-write;
//! - a posting counts only if its track is live and the track's record names
//!   the tier the posting was found in (see [`Tier`]);
//! - removal deletes record, path and peaks atomically and
//!   leaves a tombstone so compaction purges the bucket postings later.

use std::sync::{Arc, Mutex, RwLock};

use sonica_schema::duplicate::{link_key, parse_link_key, parse_sha256};
use sonica_schema::layout::{self, bucket_key, bucket_of, track_key};
use sonica_schema::{
    peaks, postings, Duplicate, DuplicateKind, Peak, Posting, Tier, TrackAnalysis, TrackId, TrackRecord, Tree, Waveform,
};

use crate::catalog::Catalog;
use crate::fresh::FreshTier;
use crate::music::TrackObserver;
use crate::store::{Batch, KvStore};
use crate::vote::{QueryHash, Votes};
use crate::IndexError;

const META_NEXT_ID: &[u8] = b"next_track_id";

/// Derives a track's (hash, frame) postings from its canonical peaks. The
/// index is given this rule rather than knowing it, because pairing is a
/// fingerprint decision of the audio side; it must be deterministic.
pub type Hasher = Arc<dyn Fn(&[Peak]) -> Vec<(u32, u32)> + Send + Sync>;

/// A track ready to be stored. `record.id` and `record.tier` are assigned by
/// [`FingerprintIndex::add`].
#[derive(Debug, Clone)]
pub struct NewTrack {
    pub record: TrackRecord,
    pub peaks: Vec<Peak>,
    /// (hash, frame) pairs, in any order: must equal the [`Hasher`]'s
    /// output for `peaks` (workers compute it so the writer need not).
    pub hashes: Vec<(u32, u32)>,
    /// The music analysis, stored in the same batch so a track is never
    /// visible without it. `None` when the audio could not be analysed
    /// (too short for tempo, say): the track is still recognisable.
    pub analysis: Option<TrackAnalysis>,
    /// The compressed Chromaprint fingerprint (AcoustID's format before
    /// base64), stored in its own tree.
    pub chromaprint: Option<Vec<u8>>,
}

/// Bytes and entries held by one tier or tree.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TierStats {
    pub entries: usize,
    pub bytes: u64,
}

/// What `sonica stats` reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub tracks: usize,
    pub audio_hours: f64,
    pub postings: u64,
    pub peaks: u64,
    pub fresh_tracks: usize,
    /// Fresh postings, held in memory (their peaks are on disk).
    pub fresh_postings: usize,
    pub compacted: TierStats,
    pub canonical_peaks: TierStats,
    pub records: TierStats,
    pub disk_bytes: u64,
}

pub struct FingerprintIndex {
    pub(crate) store: Arc<dyn KvStore>,
    pub(crate) catalog: RwLock<Catalog>,
    pub(crate) fresh: RwLock<FreshTier>,
    /// Serialises writers (add, remove, compact); readers never take it.
    pub(crate) writer: Mutex<()>,
    pub(crate) hasher: Hasher,
    /// Parsed compacted blocks kept in memory (off unless configured).
    pub(crate) blocks: crate::block_cache::BlockCache,
    /// Told of every add and remove after it commits (the music indexes).
    pub(crate) observer: RwLock<Option<Arc<dyn TrackObserver>>>,
    /// Opened at [`REBUILDS_FROM`] for a rebuild, which stamps the current
    /// version when it completes.
    pub(crate) upgrading: bool,
    /// Where this process is in a shared store's change stream; `None`
    /// while it does not follow one (`follow.rs`).
    pub(crate) following: Mutex<Option<String>>,
}

/// Held by an index writer: this process's lock and, on a shared store,
/// the cluster-wide lease (released first, as fields drop in order).
pub(crate) struct WriterGuard<'a> {
    _lease: Option<Box<dyn crate::store::WriterLease>>,
    _local: std::sync::MutexGuard<'a, ()>,
}

impl FingerprintIndex {
    /// Opens (or initialises) the index on `store`, checking the format
    /// version and loading the catalog and the fresh tier into memory.
    pub fn open(store: Arc<dyn KvStore>, hasher: Hasher) -> Result<Self, IndexError> {
        Self::open_with(store, hasher, false)
    }

    /// [`open`](Self::open), also accepting a store of format
    /// [`REBUILDS_FROM`] when `upgrade` (for `sonica-reindex --rebuild`,
    /// whose rebuild of the hash tiers completes the upgrade).
    pub fn open_with(store: Arc<dyn KvStore>, hasher: Hasher, upgrade: bool) -> Result<Self, IndexError> {
        let upgrading = crate::format::check(&*store, upgrade)? == crate::format::FormatCheck::Upgrading;
        let mut catalog = Catalog::default();
        for e in store.scan(Tree::Tracks) {
            let (_, v) = e?;
            catalog.insert(&TrackRecord::decode(&v)?);
        }
        let idx = FingerprintIndex {
            store,
            catalog: RwLock::new(catalog),
            fresh: RwLock::new(FreshTier::default()),
            writer: Mutex::new(()),
            hasher,
            blocks: crate::block_cache::BlockCache::new(0),
            observer: RwLock::new(None),
            upgrading,
            following: Mutex::new(None),
        };
        let mut fresh = FreshTier::default();
        for id in idx.catalog().fresh_ids() {
            fresh.add(&idx.derive_postings(id)?);
        }
        *idx.fresh.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(idx)
    }

    /// A stored track's postings, derived from its canonical peaks.
    pub(crate) fn derive_postings(&self, id: TrackId) -> Result<Vec<Posting>, IndexError> {
        let peaks = self.peaks(id)?;
        let mut ps: Vec<Posting> = (self.hasher)(&peaks)
            .into_iter()
            .map(|(hash, time)| Posting { hash, track: id, time })
            .collect();
        ps.sort_unstable();
        ps.dedup();
        Ok(ps)
    }

    /// Keeps up to `bytes` of parsed compacted blocks in memory, for
    /// processes that answer many queries (see [`crate::block_cache`]).
    pub fn with_block_cache(mut self, bytes: usize) -> Self {
        self.blocks = crate::block_cache::BlockCache::new(bytes);
        self
    }

    /// Bytes of parsed blocks held in memory.
    pub fn block_cache_bytes(&self) -> usize {
        self.blocks.bytes()
    }

    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }

    pub(crate) fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn fresh(&self) -> std::sync::RwLockReadGuard<'_, FreshTier> {
        self.fresh.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Serialises writers. On a shared store it also takes the cluster's
    /// writer lease and then catches up with what other nodes changed, so
    /// the writer decides on the current records.
    pub(crate) fn lock_writer(&self) -> Result<WriterGuard<'_>, IndexError> {
        let local = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let lease = self.store.writer_lease()?;
        let guard = WriterGuard {
            _lease: lease,
            _local: local,
        };
        if guard._lease.is_some() {
            self.catch_up()?;
        }
        Ok(guard)
    }

    /// Stores a new track atomically and returns its final record. The track
    /// is durable once [`FingerprintIndex::flush`] returns.
    pub fn add(&self, t: NewTrack) -> Result<TrackRecord, IndexError> {
        let _w = self.lock_writer()?;
        let mut b = Batch::new();
        let id = self.allocate_id(&mut b)?;
        self.commit_track(id, t, &[], b)
    }

    /// Reserves the next id into `b` (ids are never reused). Callers hold
    /// the writer lock until `b` is committed.
    pub(crate) fn allocate_id(&self, b: &mut Batch) -> Result<TrackId, IndexError> {
        let id = match self.store.get(Tree::Meta, META_NEXT_ID)? {
            Some(v) => layout::decode_version(&v).unwrap_or(1),
            None => 1,
        };
        let next = id.checked_add(1).ok_or(IndexError::IdsExhausted)?;
        b.put(Tree::Meta, META_NEXT_ID, layout::encode_version(next));
        Ok(id)
    }

    /// Writes track `id` (record, path, peaks, analysis, digest, chromaprint
    /// and the duplicate `links` found for it) together with whatever `b`
    /// already holds, in one atomic commit, publishing it to the in-memory
    /// tiers just before. Callers hold the writer lock.
    pub(crate) fn commit_track(
        &self,
        id: TrackId,
        mut t: NewTrack,
        links: &[Duplicate],
        mut b: Batch,
    ) -> Result<TrackRecord, IndexError> {
        let mut ps: Vec<Posting> = t
            .hashes
            .iter()
            .map(|&(hash, time)| Posting { hash, track: id, time })
            .collect();
        ps.sort_unstable();
        ps.dedup();
        t.peaks.sort_unstable();
        t.record.id = id;
        t.record.tier = Tier::Fresh;
        t.record.hashes = ps.len() as u32;
        t.record.peaks = t.peaks.len() as u32;

        b.put(Tree::Tracks, track_key(id), t.record.encode());
        b.put(Tree::Paths, t.record.path.as_bytes(), track_key(id));
        b.put(Tree::Peaks, track_key(id), peaks::encode(&t.peaks));
        if let Some(a) = &t.analysis {
            b.put(Tree::Analysis, track_key(id), a.encode());
        }
        if let Some(c) = &t.chromaprint {
            b.put(Tree::Chromaprints, track_key(id), c.clone());
        }
        // The first live copy keeps the digest; an exact copy added under
        // `keep` or `flag` is found through its link instead.
        if let Some(sha) = t.record.sha256.as_deref().and_then(parse_sha256) {
            if self.id_by_digest(&sha)?.is_none() {
                b.put(Tree::Digests, sha, track_key(id));
            }
        }
        for d in links {
            b.put(Tree::Duplicates, link_key(id, d.of), d.encode());
        }
        // Everything that answers queries learns of the track before the
        // store commits it: once anyone can see it READY, recognition,
        // similarity and text search all find it. A failed commit takes it
        // back out again.
        self.publish(&t.record, &ps, t.analysis.as_ref());
        if let Err(e) = self.store.commit(b) {
            self.unpublish(&t.record);
            return Err(e.into());
        }
        Ok(t.record)
    }

    /// Removes a track from every tier. Bucket postings are purged by the
    /// next compaction; until then they are ignored because the track is
    /// no longer live.
    pub fn remove(&self, id: TrackId) -> Result<TrackRecord, IndexError> {
        let _w = self.lock_writer()?;
        let rec = self.get(id)?.ok_or(IndexError::UnknownTrack(id))?;
        let mut b = Batch::new();
        self.removal_ops(&rec, &mut b)?;
        self.store.commit(b)?;
        self.unpublish(&rec);
        Ok(rec)
    }

    /// The writes that delete a stored track: its record, peaks, analysis,
    /// chromaprint, waveform, reference mark, duplicate links either way, its digest and path when
    /// they still point at it, plus a tombstone so compaction purges its
    /// bucket postings later. Callers hold the writer lock.
    pub(crate) fn removal_ops(&self, rec: &TrackRecord, b: &mut Batch) -> Result<(), IndexError> {
        let id = rec.id;
        let key = track_key(id);
        b.remove(Tree::Tracks, key);
        b.remove(Tree::Peaks, key);
        b.remove(Tree::Analysis, key);
        b.remove(Tree::Chromaprints, key);
        b.remove(Tree::Waveforms, key);
        b.remove(Tree::References, key);
        if self.store.get(Tree::Paths, rec.path.as_bytes())?.as_deref() == Some(&key[..]) {
            b.remove(Tree::Paths, rec.path.as_bytes());
        }
        let holds_digest = match rec.sha256.as_deref().and_then(parse_sha256) {
            Some(sha) if self.store.get(Tree::Digests, &sha)?.as_deref() == Some(&key[..]) => Some(sha),
            _ => None,
        };
        // An exact copy kept beside this track (linked as `exact`) inherits
        // the digest, so later copies are still found by their bytes.
        let mut heir = None;
        for e in self.store.scan(Tree::Duplicates) {
            let (k, v) = e?;
            let Some((new, of)) = parse_link_key(&k) else { continue };
            if new == id || of == id {
                b.remove(Tree::Duplicates, k);
            }
            if of == id && heir.is_none() && Duplicate::decode(&v).is_ok_and(|d| d.kind == DuplicateKind::Exact) {
                heir = Some(new);
            }
        }
        if let Some(sha) = holds_digest {
            match heir {
                Some(h) => b.put(Tree::Digests, sha, track_key(h)),
                None => b.remove(Tree::Digests, sha),
            }
        }
        b.put(Tree::Tombstones, key, Vec::new());
        Ok(())
    }

    /// Puts a track into the in-memory tiers (its postings into the fresh
    /// tier when its record says fresh) and tells the observer.
    pub(crate) fn publish(&self, rec: &TrackRecord, postings: &[Posting], analysis: Option<&TrackAnalysis>) {
        if rec.tier == Tier::Fresh {
            self.fresh.write().unwrap_or_else(|p| p.into_inner()).add(postings);
        }
        self.catalog.write().unwrap_or_else(|p| p.into_inner()).insert(rec);
        if let Some(o) = self.observer() {
            o.track_added(rec, analysis);
        }
    }

    /// Takes a removed track out of the in-memory tiers and the observer.
    pub(crate) fn unpublish(&self, rec: &TrackRecord) {
        self.unpublish_id(rec.id);
    }

    pub(crate) fn unpublish_id(&self, id: TrackId) {
        self.catalog.write().unwrap_or_else(|p| p.into_inner()).remove_id(id);
        self.fresh
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove_tracks(&[id]);
        if let Some(o) = self.observer() {
            o.track_removed(id);
        }
    }

    /// A track's compressed Chromaprint fingerprint, if it has one.
    pub fn chromaprint(&self, id: TrackId) -> Result<Option<Vec<u8>>, IndexError> {
        Ok(self.store.get(Tree::Chromaprints, &track_key(id))?)
    }

    /// A track's stored waveform; `None` when it has none (ingested before
    /// waveforms were stored).
    pub fn waveform(&self, id: TrackId) -> Result<Option<Waveform>, IndexError> {
        match self.store.get(Tree::Waveforms, &track_key(id))? {
            Some(v) => Ok(Some(Waveform::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Stores a live track's waveform (not flushed). A track that is not
    /// live is [`IndexError::UnknownTrack`]: nothing is written for it.
    pub fn put_waveform(&self, id: TrackId, w: &Waveform) -> Result<(), IndexError> {
        let _w = self.lock_writer()?;
        if self.get(id)?.is_none() {
            return Err(IndexError::UnknownTrack(id));
        }
        let mut b = Batch::new();
        b.put(Tree::Waveforms, track_key(id), w.encode());
        Ok(self.store.commit(b)?)
    }

    /// Makes every committed change durable.
    pub fn flush(&self) -> Result<(), IndexError> {
        Ok(self.store.flush()?)
    }

    pub fn get(&self, id: TrackId) -> Result<Option<TrackRecord>, IndexError> {
        match self.store.get(Tree::Tracks, &track_key(id))? {
            Some(v) => Ok(Some(TrackRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn id_by_path(&self, path: &str) -> Result<Option<TrackId>, IndexError> {
        Ok(self
            .store
            .get(Tree::Paths, path.as_bytes())?
            .and_then(|v| layout::parse_track_key(&v)))
    }

    /// Every live track, by id.
    pub fn list(&self) -> Result<Vec<TrackRecord>, IndexError> {
        self.store
            .scan(Tree::Tracks)
            .map(|e| Ok(TrackRecord::decode(&e?.1)?))
            .collect()
    }

    /// Registers the one observer told of every add and remove from now on
    /// (the music indexes, which open after the store).
    pub fn set_observer(&self, o: Arc<dyn TrackObserver>) {
        *self.observer.write().unwrap_or_else(|p| p.into_inner()) = Some(o);
    }

    pub(crate) fn observer(&self) -> Option<Arc<dyn TrackObserver>> {
        self.observer.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A track's stored music analysis, if it has one.
    pub fn analysis(&self, id: TrackId) -> Result<Option<TrackAnalysis>, IndexError> {
        match self.store.get(Tree::Analysis, &track_key(id))? {
            Some(v) => Ok(Some(TrackAnalysis::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Stores (or replaces) the analysis of a live track: what a re-analysis
    /// with a newer analyser writes.
    pub fn set_analysis(&self, id: TrackId, a: &TrackAnalysis) -> Result<(), IndexError> {
        let _w = self.lock_writer()?;
        let Some(rec) = self.store.get(Tree::Tracks, &track_key(id))? else {
            return Err(IndexError::UnknownTrack(id));
        };
        let rec = TrackRecord::decode(&rec)?;
        let mut b = Batch::new();
        b.put(Tree::Analysis, track_key(id), a.encode());
        self.store.commit(b)?;
        if let Some(o) = self.observer() {
            o.track_added(&rec, Some(a));
        }
        Ok(())
    }

    /// Ends a track's pending music analysis (fingerprint first, analysis
    /// after): stores the analysis and the Chromaprint when there are any
    /// and clears the record's `analysis_pending`, in one batch. A track
    /// deleted or replaced meanwhile is [`IndexError::UnknownTrack`].
    pub fn finish_analysis(
        &self,
        id: TrackId,
        analysis: Option<&TrackAnalysis>,
        chromaprint: Option<&[u8]>,
    ) -> Result<TrackRecord, IndexError> {
        let _w = self.lock_writer()?;
        let Some(rec) = self.store.get(Tree::Tracks, &track_key(id))? else {
            return Err(IndexError::UnknownTrack(id));
        };
        let mut rec = TrackRecord::decode(&rec)?;
        rec.analysis_pending = false;
        let mut b = Batch::new();
        b.put(Tree::Tracks, track_key(id), rec.encode());
        if let Some(a) = analysis {
            b.put(Tree::Analysis, track_key(id), a.encode());
        }
        if let Some(c) = chromaprint {
            b.put(Tree::Chromaprints, track_key(id), c.to_vec());
        }
        // The search indexes first: once the record says the analysis is
        // done, a filter or similarity query must already find it. (A kill
        // in between leaves the record pending; it is analysed again and
        // the search indexes are repaired from the store at the next open.)
        if let (Some(o), Some(a)) = (self.observer(), analysis) {
            o.track_added(&rec, Some(a));
        }
        self.store.commit(b)?;
        Ok(rec)
    }

    /// Every stored analysis, by track id. An unreadable record is skipped
    /// rather than failing the scan: it is derived data that re-analysis
    /// can rebuild, and one bad value must not stop the service starting.
    pub fn analyses(&self) -> Result<Vec<(TrackId, TrackAnalysis)>, IndexError> {
        let mut out = Vec::new();
        for e in self.store.scan(Tree::Analysis) {
            let (k, v) = e?;
            if let (Some(id), Ok(a)) = (layout::parse_track_key(&k), TrackAnalysis::decode(&v)) {
                out.push((id, a));
            }
        }
        Ok(out)
    }

    /// The canonical peaks of a track.
    pub fn peaks(&self, id: TrackId) -> Result<Vec<Peak>, IndexError> {
        match self.store.get(Tree::Peaks, &track_key(id))? {
            Some(v) => Ok(peaks::decode(&v)?),
            None => Err(IndexError::UnknownTrack(id)),
        }
    }

    pub fn len(&self) -> usize {
        self.catalog().len()
    }

    pub fn is_empty(&self) -> bool {
        self.catalog().is_empty()
    }

    /// Postings waiting in the fresh tier.
    pub fn fresh_postings(&self) -> usize {
        self.fresh().len()
    }

    /// Looks every query hash up in both tiers and records the hits.
    pub fn lookup(&self, query: &[QueryHash], votes: &mut Votes) -> Result<(), IndexError> {
        let mut hashes: Vec<u32> = query.iter().map(|q| q.hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut by_hash: Vec<Vec<f32>> = vec![Vec::new(); hashes.len()];
        for q in query {
            if let Ok(i) = hashes.binary_search(&q.hash) {
                by_hash[i].push(q.time);
            }
        }
        self.lookup_hashes(&hashes, &mut |i, track, time| {
            for &qt in &by_hash[i] {
                votes.hit(hashes[i], track, time, qt);
            }
        })
    }

    /// Looks up sorted, distinct `hashes` in both tiers, calling
    /// `on_hit(index into hashes, track, reference frame)` for every live
    /// posting. Each bucket block is read and decoded once per call, which
    /// is what makes trying many speed hypotheses in one pass affordable.
    pub fn lookup_hashes(&self, hashes: &[u32], on_hit: &mut dyn FnMut(usize, TrackId, u32)) -> Result<(), IndexError> {
        debug_assert!(
            hashes.windows(2).all(|w| w[0] < w[1]),
            "hashes must be sorted and distinct"
        );
        let catalog = self.catalog();
        {
            let fresh = self.fresh();
            if !fresh.is_empty() {
                for (i, &h) in hashes.iter().enumerate() {
                    for &(track, time) in fresh.get(h) {
                        if catalog.tier(track) == Some(Tier::Fresh) {
                            on_hit(i, track, time);
                        }
                    }
                }
            }
        }
        let mut group: Vec<(TrackId, u32)> = Vec::new();
        let mut block = postings::BlockReader::new();
        // A shared store answers many buckets in one round trip: fetch
        // every bucket the cache lacks first. An embedded store reads them
        // one by one as it goes (no copy of the whole set held).
        let generation = self.blocks.generation();
        let mut prefetched: std::collections::HashMap<u32, Option<Vec<u8>>> = std::collections::HashMap::new();
        if self.store.is_shared() {
            let mut wanted: Vec<u32> = hashes.iter().map(|&h| bucket_of(h)).collect();
            wanted.dedup();
            wanted.retain(|&b| self.blocks.get(b).is_none());
            let keys: Vec<Vec<u8>> = wanted.iter().map(|&b| bucket_key(b).to_vec()).collect();
            for (b, v) in wanted.into_iter().zip(self.store.get_many(Tree::Buckets, &keys)?) {
                prefetched.insert(b, v);
            }
        }
        let mut i = 0;
        while i < hashes.len() {
            let bucket = bucket_of(hashes[i]);
            let mut j = i;
            while j < hashes.len() && bucket_of(hashes[j]) == bucket {
                j += 1;
            }
            let cached;
            let reader: &postings::BlockReader = if let Some(c) = self.blocks.get(bucket) {
                cached = c;
                &cached
            } else {
                let bytes = match prefetched.remove(&bucket) {
                    Some(v) => v,
                    None => self.store.get(Tree::Buckets, &bucket_key(bucket))?,
                };
                match bytes {
                    Some(bytes) if self.blocks.enabled() => {
                        let mut r = postings::BlockReader::new();
                        r.load(&bytes)?;
                        cached = Arc::new(r);
                        self.blocks.insert(bucket, cached.clone(), generation);
                        &cached
                    }
                    Some(bytes) => {
                        block.load(&bytes)?;
                        &block
                    }
                    None => {
                        i = j;
                        continue;
                    }
                }
            };
            for (qi, &h) in hashes.iter().enumerate().take(j).skip(i) {
                group.clear();
                reader.postings_of(h, &mut group)?;
                for &(track, time) in &group {
                    if catalog.tier(track) == Some(Tier::Compacted) {
                        on_hit(qi, track, time);
                    }
                }
            }
            i = j;
        }
        Ok(())
    }

    /// Counts and sizes, for `sonica stats`.
    pub fn stats(&self) -> Result<Stats, IndexError> {
        let tier = |t: Tree| -> Result<TierStats, IndexError> {
            Ok(TierStats {
                entries: self.store.len(t)?,
                bytes: self.store.logical_bytes(t)?,
            })
        };
        let mut s = Stats {
            fresh_postings: self.fresh().len(),
            compacted: tier(Tree::Buckets)?,
            canonical_peaks: tier(Tree::Peaks)?,
            records: tier(Tree::Tracks)?,
            disk_bytes: self.store.disk_bytes()?,
            ..Stats::default()
        };
        for r in self.list()? {
            s.tracks += 1;
            s.audio_hours += r.duration_s / 3600.0;
            s.postings += u64::from(r.hashes);
            s.peaks += u64::from(r.peaks);
            if r.tier == Tier::Fresh {
                s.fresh_tracks += 1;
            }
        }
        Ok(s)
    }
}

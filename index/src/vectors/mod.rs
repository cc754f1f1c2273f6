//! Approximate nearest-neighbour search over track vectors.
//!
//! Issue 4 asks for "sounds like this" search: each track gets unit-length
//! feature vectors (timbre, rhythm, mixed), and a query returns the tracks
//! with the highest cosine similarity, optionally only among tracks a text
//! filter allows. [`VectorIndex`] is one such index (the caller keeps one
//! per vector kind). It is derived data: the canonical vectors live in sled,
//! so whenever a saved index is missing, stale or damaged the caller simply
//! re-inserts; the index only has to never lie and never panic.
//!
//! The pieces: `store.rs` holds the raw vectors in slots, `graph.rs` the
//! hnsw_rs graph over those slots, `planner.rs` picks exact scan or graph per
//! query (`brute.rs` is the scan), `compact.rs` rebuilds the graph when too
//! many slots are tombstones, `persist.rs` saves and loads kill-safely, and
//! `tuning.rs` holds every parameter with the measurements behind it.

mod allow;
mod brute;
mod compact;
mod error;
mod graph;
mod persist;
mod planner;
mod router;
mod search;
mod store;
mod tuning;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

pub use allow::AllowList;
pub use error::VectorError;
pub use graph::GraphOrigin;
pub use persist::FORMAT_VERSION;
pub use planner::{Plan, Strategy};
pub use tuning::Tuning;

use graph::Graph;
use persist::Loaded;
use router::Router;
use store::SlotStore;

/// Largest vector dimension an index accepts.
pub const MAX_DIM: usize = 4096;

/// One search result: a track and its cosine similarity to the query
/// (1 = same direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: u32,
    pub similarity: f32,
}

/// Search results with the plan that produced them.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub hits: Vec<Hit>,
    pub plan: Plan,
}

/// What [`VectorIndex::open`] found in its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Made with [`VectorIndex::in_memory`]; there is no folder.
    InMemory,
    /// No saved index: the index starts empty.
    Created,
    /// Vectors and graph were read back; the graph was not rebuilt.
    Loaded,
    /// Vectors were read back but the graph files were unusable, so the
    /// graph was rebuilt from the vectors.
    RebuiltGraph { reason: String },
    /// The save was unusable (corrupt, other dim or format): the index
    /// starts empty and the caller must re-insert every vector.
    Discarded { reason: String },
}

impl LoadOutcome {
    /// True when the vectors came from disk; false means start from empty.
    pub fn loaded_from_disk(&self) -> bool {
        matches!(self, LoadOutcome::Loaded | LoadOutcome::RebuiltGraph { .. })
    }
}

/// Counters for tests, logs and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorStats {
    pub dim: usize,
    pub live: usize,
    /// Graph points, live and tombstoned.
    pub slots: usize,
    pub tombstones: usize,
    pub graph_points: usize,
    pub graph_origin: GraphOrigin,
    /// Pivots of the lost-search check (see `router.rs`).
    pub pivots: usize,
    /// Whole-graph builds in this process (rebuild at open, compactions).
    pub graph_builds: u64,
    pub compactions: u64,
    /// Generation of the last save read or written (0: none).
    pub generation: u64,
    pub dirty: bool,
}

/// A persistent ANN index of unit vectors keyed by track id. All methods
/// take `&self`; it is `Send + Sync` and meant to sit in an `Arc`.
pub struct VectorIndex {
    shared: Arc<Shared>,
}

/// The state behind the `Arc`, shared with a background compaction.
struct Shared {
    dim: usize,
    dir: Option<PathBuf>,
    outcome: LoadOutcome,
    state: RwLock<State>,
    dirty: AtomicBool,
    /// Serialises saves (two saves would race for the same generation).
    save_lock: Mutex<()>,
    /// Serialises compactions.
    compact_lock: Mutex<()>,
    /// The background compaction thread, if one was started.
    background: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    store: SlotStore,
    graph: Graph,
    /// Pivots that catch graph searches lost in the wrong region.
    router: Router,
    tuning: Tuning,
    /// Mutations made while a compaction builds its graph off-lock, replayed
    /// onto the new graph before it is swapped in.
    journal: Option<Vec<compact::Op>>,
    graph_builds: u64,
    compactions: u64,
    generation: u64,
}

/// A poisoned lock only means another thread panicked while holding it; the
/// data is still consistent enough to serve (every mutation is one push or
/// one flag), and a search must not start panicking because of it.
fn read(lock: &RwLock<State>) -> RwLockReadGuard<'_, State> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write(lock: &RwLock<State>) -> RwLockWriteGuard<'_, State> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn lock(mutex: &Mutex<()>) -> MutexGuard<'_, ()> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl VectorIndex {
    /// Opens (or creates) the index saved in `dir`, with default tuning.
    pub fn open(dir: &Path, dim: usize) -> Result<VectorIndex, VectorError> {
        Self::open_tuned(dir, dim, Tuning::default())
    }

    /// Opens with explicit tuning. A save of another dim or format, or a
    /// damaged one, yields an empty index ([`LoadOutcome::Discarded`]); only
    /// a folder that cannot be created is an error.
    pub fn open_tuned(dir: &Path, dim: usize, tuning: Tuning) -> Result<VectorIndex, VectorError> {
        check_dim(dim)?;
        let tuning = tuning.sanitised();
        std::fs::create_dir_all(dir).map_err(|e| VectorError::io(dir, e))?;
        let (store, graph, outcome, generation, dirty, builds) = match persist::load(dir, dim) {
            Loaded::Absent => {
                persist::clean(dir, None);
                (
                    SlotStore::new(dim),
                    Graph::new(&tuning, 0),
                    LoadOutcome::Created,
                    0,
                    false,
                    0,
                )
            }
            Loaded::Found {
                store,
                graph: Ok(graph),
                generation,
            } => {
                persist::clean(dir, Some(&persist::gen_folder(generation)));
                let graph = graph.map_or_else(|| Graph::new(&tuning, 0), |g| *g);
                (store, graph, LoadOutcome::Loaded, generation, false, 0)
            }
            Loaded::Found {
                store,
                graph: Err(e),
                generation,
            } => {
                persist::clean(dir, Some(&persist::gen_folder(generation)));
                let store = store.compacted();
                let graph = Graph::build(&tuning, &store);
                (
                    store,
                    graph,
                    LoadOutcome::RebuiltGraph { reason: e.to_string() },
                    generation,
                    true,
                    1,
                )
            }
            Loaded::Discarded(e) => {
                let outcome = LoadOutcome::Discarded { reason: e.to_string() };
                (SlotStore::new(dim), Graph::new(&tuning, 0), outcome, 0, false, 0)
            }
        };
        Ok(Self::assemble(
            dim,
            Some(dir.to_path_buf()),
            outcome,
            store,
            graph,
            tuning,
            generation,
            dirty,
            builds,
        ))
    }

    /// An index without a folder, for tests and throwaway use.
    pub fn in_memory(dim: usize) -> Result<VectorIndex, VectorError> {
        Self::in_memory_tuned(dim, Tuning::default())
    }

    /// [`VectorIndex::in_memory`] with explicit tuning.
    pub fn in_memory_tuned(dim: usize, tuning: Tuning) -> Result<VectorIndex, VectorError> {
        check_dim(dim)?;
        let tuning = tuning.sanitised();
        let (store, graph) = (SlotStore::new(dim), Graph::new(&tuning, 0));
        Ok(Self::assemble(
            dim,
            None,
            LoadOutcome::InMemory,
            store,
            graph,
            tuning,
            0,
            false,
            0,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        dim: usize,
        dir: Option<PathBuf>,
        outcome: LoadOutcome,
        store: SlotStore,
        graph: Graph,
        tuning: Tuning,
        generation: u64,
        dirty: bool,
        graph_builds: u64,
    ) -> VectorIndex {
        let router = Router::build(&store);
        let state = State {
            store,
            graph,
            router,
            tuning,
            journal: None,
            graph_builds,
            compactions: 0,
            generation,
        };
        let shared = Shared {
            dim,
            dir,
            outcome,
            state: RwLock::new(state),
            dirty: AtomicBool::new(dirty),
            save_lock: Mutex::new(()),
            compact_lock: Mutex::new(()),
            background: Mutex::new(None),
        };
        VectorIndex {
            shared: Arc::new(shared),
        }
    }

    /// Length of every vector in this index.
    pub fn dim(&self) -> usize {
        self.shared.dim
    }

    /// What `open` found on disk.
    pub fn load_outcome(&self) -> &LoadOutcome {
        &self.shared.outcome
    }

    /// True when the vectors came from a save; false means the caller must
    /// insert everything from its canonical store.
    pub fn loaded_from_disk(&self) -> bool {
        self.shared.outcome.loaded_from_disk()
    }

    /// The tuning in force.
    pub fn tuning(&self) -> Tuning {
        read(&self.shared.state).tuning
    }

    /// Replaces the tuning: query and planner knobs apply at once, graph
    /// knobs (`m`, `ef_construction`) from the next graph build.
    pub fn set_tuning(&self, tuning: Tuning) {
        write(&self.shared.state).tuning = tuning.sanitised();
    }

    /// Inserts or replaces the vector of `id`. The vector must have `dim`
    /// finite values; it is normalised if it is not unit length already.
    pub fn insert(&self, id: u32, vector: &[f32]) -> Result<(), VectorError> {
        let vector = prepare(self.shared.dim, vector)?;
        {
            let mut state = write(&self.shared.state);
            let slot = state.store.push(id, &vector);
            state.graph.insert(slot, &vector);
            state.router.note(slot, &vector);
            if let Some(journal) = state.journal.as_mut() {
                journal.push(compact::Op::Insert(id, vector));
            }
            self.shared.dirty.store(true, Ordering::Release);
        }
        self.maybe_compact();
        Ok(())
    }

    /// Inserts many vectors at once, building the graph in parallel: what a
    /// start-up re-insert from the canonical store should use. All vectors
    /// are checked first; on error nothing is inserted.
    pub fn insert_many<V: AsRef<[f32]>>(&self, items: &[(u32, V)]) -> Result<(), VectorError> {
        let prepared = items
            .iter()
            .map(|(id, v)| Ok((*id, prepare(self.shared.dim, v.as_ref())?)))
            .collect::<Result<Vec<_>, _>>()?;
        {
            let mut state = write(&self.shared.state);
            let slots: Vec<u32> = prepared.iter().map(|(id, v)| state.store.push(*id, v)).collect();
            let state = &mut *state;
            let points: Vec<(&[f32], usize)> = slots
                .iter()
                .map(|&slot| (state.store.vector(slot), slot as usize))
                .collect();
            state.graph.insert_many(&points);
            for &slot in &slots {
                state.router.note(slot, state.store.vector(slot));
            }
            if let Some(journal) = state.journal.as_mut() {
                journal.extend(prepared.into_iter().map(|(id, v)| compact::Op::Insert(id, v)));
            }
            self.shared.dirty.store(true, Ordering::Release);
        }
        self.maybe_compact();
        Ok(())
    }

    /// Removes `id`; searches never return it again. False if absent.
    pub fn remove(&self, id: u32) -> bool {
        let removed = {
            let mut state = write(&self.shared.state);
            let removed = state.store.remove(id);
            if removed {
                if let Some(journal) = state.journal.as_mut() {
                    journal.push(compact::Op::Remove(id));
                }
                self.shared.dirty.store(true, Ordering::Release);
            }
            removed
        };
        if removed {
            self.maybe_compact();
        }
        removed
    }

    pub fn contains(&self, id: u32) -> bool {
        read(&self.shared.state).store.slot_of(id).is_some()
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        read(&self.shared.state).store.live()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live ids, ascending (for reconciling with the canonical store).
    pub fn ids(&self) -> Vec<u32> {
        read(&self.shared.state).store.live_ids()
    }

    /// The stored (normalised) vector of `id`.
    pub fn get(&self, id: u32) -> Option<Vec<f32>> {
        let state = read(&self.shared.state);
        state.store.slot_of(id).map(|slot| state.store.vector(slot).to_vec())
    }

    /// True when there are changes since the last save (or load).
    pub fn is_dirty(&self) -> bool {
        self.shared.dirty.load(Ordering::Acquire)
    }

    /// Saves atomically into the folder given to `open` (see `persist.rs`).
    /// Writers wait while the files are written; searches do not.
    pub fn save(&self) -> Result<(), VectorError> {
        let dir = self.shared.dir.as_deref().ok_or(VectorError::InMemory)?;
        let _one_save = lock(&self.shared.save_lock);
        let generation = {
            let state = read(&self.shared.state);
            let generation = persist::save(dir, &state.store, &state.graph, &state.tuning)?;
            // Still under the read lock, so no write slipped in since.
            self.shared.dirty.store(false, Ordering::Release);
            generation
        };
        write(&self.shared.state).generation = generation;
        Ok(())
    }

    pub fn stats(&self) -> VectorStats {
        let state = read(&self.shared.state);
        VectorStats {
            dim: self.shared.dim,
            live: state.store.live(),
            slots: state.store.slots(),
            tombstones: state.store.tombstones(),
            graph_points: state.graph.points(),
            graph_origin: state.graph.origin(),
            pivots: state.router.pivots(),
            graph_builds: state.graph_builds,
            compactions: state.compactions,
            generation: state.generation,
            dirty: self.is_dirty(),
        }
    }
}

fn check_dim(dim: usize) -> Result<(), VectorError> {
    if dim == 0 || dim > MAX_DIM {
        return Err(VectorError::BadDimension { got: dim, max: MAX_DIM });
    }
    Ok(())
}

/// Checks length and finiteness, and normalises a vector that is not unit
/// length already (unit ones are kept bit for bit, so `get` returns what
/// the caller stored).
fn prepare(dim: usize, vector: &[f32]) -> Result<Vec<f32>, VectorError> {
    if vector.len() != dim {
        return Err(VectorError::WrongDimension {
            expected: dim,
            got: vector.len(),
        });
    }
    if let Some((position, &value)) = vector.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(VectorError::NonFinite { position, value });
    }
    let norm = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(VectorError::ZeroVector);
    }
    if (norm - 1.0).abs() <= 1e-4 {
        return Ok(vector.to_vec());
    }
    Ok(vector.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}

/// The index is shared by HTTP workers through an `Arc`.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<VectorIndex>();
};

#[cfg(test)]
pub(crate) mod test_data;

#[cfg(test)]
mod tests {
    use super::test_data::{clustered, near};
    use super::*;

    #[test]
    fn exact_match_ranks_first() {
        let index = VectorIndex::in_memory(16).unwrap();
        let data = clustered(1500, 16, 7);
        index.insert_many(&data).unwrap();
        for (id, v) in data.iter().step_by(97) {
            let hits = index.search(v, 5, None).unwrap();
            assert_eq!(hits[0].id, *id);
            assert!((hits[0].similarity - 1.0).abs() < 1e-5);
            assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        }
    }

    #[test]
    fn bad_vectors_are_refused_with_the_reason() {
        let index = VectorIndex::in_memory(3).unwrap();
        let err = index.insert(1, &[1.0, 0.0]).unwrap_err();
        assert!(matches!(err, VectorError::WrongDimension { expected: 3, got: 2 }));
        let err = index.insert(1, &[1.0, f32::NAN, 0.0]).unwrap_err();
        assert!(matches!(err, VectorError::NonFinite { position: 1, .. }));
        assert!(matches!(index.insert(1, &[0.0; 3]), Err(VectorError::ZeroVector)));
        assert!(matches!(
            index.search(&[1.0], 3, None),
            Err(VectorError::WrongDimension { .. })
        ));
        assert!(index
            .insert_many(&[(1, vec![1.0, 0.0, 0.0]), (2, vec![f32::INFINITY, 0.0, 0.0])])
            .is_err());
        assert!(index.is_empty(), "a failed batch inserts nothing");
        assert!(matches!(
            VectorIndex::in_memory(0),
            Err(VectorError::BadDimension { .. })
        ));
        assert!(matches!(index.save(), Err(VectorError::InMemory)));
    }

    #[test]
    fn non_unit_vectors_are_normalised_unit_ones_kept_exactly() {
        let index = VectorIndex::in_memory(2).unwrap();
        index.insert(1, &[3.0, 4.0]).unwrap();
        assert_eq!(index.get(1).unwrap(), vec![0.6, 0.8]);
        let unit = [0.6f32, 0.8f32];
        index.insert(2, &unit).unwrap();
        assert_eq!(index.get(2).unwrap(), unit.to_vec());
        let hits = index.search(&[6.0, 8.0], 2, None).unwrap();
        assert!((hits[0].similarity - 1.0).abs() < 1e-6);
    }

    #[test]
    fn remove_then_search_never_returns_the_id() {
        let index = VectorIndex::in_memory(8).unwrap();
        let data = clustered(3000, 8, 11);
        index.insert_many(&data).unwrap();
        let strategies = [
            Strategy::Auto,
            Strategy::Exact,
            Strategy::Graph { ef: None },
            Strategy::FilteredGraph { ef: None },
        ];
        for (n, strategy) in strategies.into_iter().enumerate() {
            let (id, v) = &data[100 + n];
            assert!(index.remove(*id));
            assert!(!index.remove(*id));
            assert!(!index.contains(*id));
            let found = index.search_with(v, 20, None, strategy).unwrap();
            assert!(found.hits.iter().all(|h| h.id != *id), "{strategy:?}");
            assert_eq!(found.hits.len(), 20);
        }
        assert_eq!(index.len(), 2996);
        assert_eq!(index.ids().len(), 2996);
    }

    #[test]
    fn replacing_an_id_moves_it() {
        let index = VectorIndex::in_memory_tuned(8, Tuning::default().graph_always()).unwrap();
        let data = clustered(1200, 8, 5);
        index.insert_many(&data).unwrap();
        let (moved, old) = data[10].clone();
        let opposite: Vec<f32> = old.iter().map(|x| -x).collect();
        index.insert(moved, &opposite).unwrap();
        assert_eq!((index.len(), index.stats().tombstones), (1200, 1));
        assert_eq!(index.get(moved), Some(opposite.clone()));
        let at_new = index.search(&near(&opposite, 1e-3, 3), 3, None).unwrap();
        assert_eq!(at_new[0].id, moved, "{at_new:?}");
        let at_old = index.search(&old, 10, None).unwrap();
        assert_eq!(at_old.len(), 10);
        assert!(at_old.iter().all(|h| h.id != moved), "{at_old:?}");
    }

    #[test]
    fn ids_and_get_track_live_vectors() {
        let index = VectorIndex::in_memory(4).unwrap();
        index.insert(9, &[1.0, 0.0, 0.0, 0.0]).unwrap();
        index.insert(3, &[0.0, 1.0, 0.0, 0.0]).unwrap();
        index.insert(7, &[0.0, 0.0, 1.0, 0.0]).unwrap();
        index.remove(7);
        assert_eq!(index.ids(), vec![3, 9]);
        assert_eq!(index.get(3), Some(vec![0.0, 1.0, 0.0, 0.0]));
        assert_eq!(index.get(7), None);
        assert!(index.is_dirty());
    }
}

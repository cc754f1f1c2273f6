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
//! hnsw_rs graph over those slots, `mutate.rs` inserts and removes,
//! `search.rs` runs a query on the plan `planner.rs` picks (exact scan in
//! `brute.rs`, or the graph, checked by the pivots of `router.rs`),
//! `compact.rs` rebuilds the graph when too many slots are tombstones,
//! `open.rs`, `persist.rs` and `format.rs` open and save kill-safely,
//! `allow.rs` is the allow-list, and `tuning.rs` holds every parameter with
//! the measurements behind it.

mod allow;
mod brute;
mod compact;
mod error;
mod format;
mod graph;
mod mutate;
mod open;
mod persist;
mod planner;
mod router;
mod search;
mod store;
mod tuning;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

pub use allow::AllowList;
pub use error::VectorError;
pub use graph::GraphOrigin;
pub use planner::{Plan, Strategy};
pub use tuning::Tuning;

use graph::Graph;
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

/// The index is shared by HTTP workers through an `Arc`.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<VectorIndex>();
};

#[cfg(test)]
pub(crate) mod test_data;

#[cfg(test)]
mod tests {
    use super::test_data::clustered;
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

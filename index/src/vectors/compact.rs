//! Compaction: rebuild the graph from the live vectors only.
//!
//! hnsw_rs cannot delete points, so a removed or replaced track leaves a
//! tombstoned point that every graph search still walks through and then
//! filters out. Past `Tuning::compact_ratio` tombstones (20 %) searches slow
//! down and lose recall, so the graph is rebuilt. A rebuild of 200k points
//! takes tens of seconds on two cores, far too long to block searches, so
//! it runs in three steps: under the write lock, copy the live vectors and
//! start a journal; with no lock, build the new graph; under the write lock
//! again, replay the journal (inserts and removals made meanwhile) onto the
//! new store and graph and swap them in. Small graphs are compacted inline
//! by the mutation that crosses the ratio; larger ones in a background
//! thread (`wait_for_compaction` joins it, e.g. before a final save).

use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};

use super::graph::Graph;
use super::router::Router;
use super::store::SlotStore;
use super::tuning::Tuning;
use super::{lock, read, write, Shared, State, VectorIndex};

/// A mutation made while a compaction was building its graph.
pub(crate) enum Op {
    Insert(u32, Vec<f32>),
    Remove(u32),
}

impl VectorIndex {
    /// Rebuilds the graph from the live vectors now (also picks up new
    /// `m`/`ef_construction` from [`VectorIndex::set_tuning`]). Waits for a
    /// running compaction first.
    pub fn compact(&self) {
        let _one = lock(&self.shared.compact_lock);
        if let Some((snapshot, tuning)) = begin(&self.shared, false) {
            let graph = Graph::build(&tuning, &snapshot);
            finish(&self.shared, snapshot, graph);
        }
    }

    /// True while tombstones exceed the compaction ratio.
    pub fn needs_compaction(&self) -> bool {
        due(&read(&self.shared.state))
    }

    /// Waits for a background compaction, if one is running.
    pub fn wait_for_compaction(&self) {
        let handle = self.shared.background.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            // A panic in the thread already left the old graph in place.
            let _ = handle.join();
        }
    }

    /// Called after every mutation: compacts when due, inline for small
    /// graphs and in a background thread for large ones.
    pub(super) fn maybe_compact(&self) {
        let (is_due, slots, inline_max) = {
            let state = read(&self.shared.state);
            (
                due(&state) && state.journal.is_none(),
                state.store.slots(),
                state.tuning.inline_compact_max,
            )
        };
        if !is_due {
            return;
        }
        if slots <= inline_max {
            compact_if_due(&self.shared);
            return;
        }
        let mut background = self.shared.background.lock().unwrap_or_else(|p| p.into_inner());
        if background.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("sonica-vector-compact".into())
            .spawn(move || compact_if_due(&shared));
        // Without a thread the compaction is retried on the next mutation.
        *background = spawned.ok();
    }
}

pub(super) fn due(state: &State) -> bool {
    let tombstones = state.store.tombstones();
    tombstones > 0 && tombstones as f64 > state.tuning.compact_ratio * state.store.slots() as f64
}

/// The automatic path: skips if another compaction holds the lock.
fn compact_if_due(shared: &Shared) {
    let _one = match shared.compact_lock.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    if let Some((snapshot, tuning)) = begin(shared, true) {
        let graph = Graph::build(&tuning, &snapshot);
        finish(shared, snapshot, graph);
    }
}

/// Step 1: copy the live vectors and start journaling mutations.
fn begin(shared: &Shared, only_if_due: bool) -> Option<(SlotStore, Tuning)> {
    let mut state = write(&shared.state);
    if state.journal.is_some() || (only_if_due && !due(&state)) {
        return None;
    }
    state.journal = Some(Vec::new());
    Some((state.store.compacted(), state.tuning))
}

/// Step 3: replay the journal onto the new store and graph, swap them in.
fn finish(shared: &Shared, mut store: SlotStore, graph: Graph) {
    let mut state = write(&shared.state);
    for op in state.journal.take().unwrap_or_default() {
        match op {
            Op::Insert(id, vector) => {
                let slot = store.push(id, &vector);
                graph.insert(slot, &vector);
            }
            Op::Remove(id) => {
                store.remove(id);
            }
        }
    }
    state.router = Router::build(&store);
    state.store = store;
    state.graph = graph;
    state.compactions += 1;
    state.graph_builds += 1;
    shared.dirty.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::super::test_data::clustered;
    use super::super::{Strategy, Tuning};
    use super::*;

    fn top_ids(index: &VectorIndex, q: &[f32], strategy: Strategy) -> Vec<u32> {
        index
            .search_with(q, 10, None, strategy)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect()
    }

    #[test]
    fn removing_past_the_ratio_compacts_and_keeps_results() {
        let index = VectorIndex::in_memory_tuned(10, Tuning::default().graph_always()).unwrap();
        let data = clustered(2000, 10, 21);
        index.insert_many(&data).unwrap();
        for id in (0..2000).filter(|id| id % 4 == 1) {
            assert!(index.remove(id));
        }
        let stats = index.stats();
        assert_eq!(stats.compactions, 1, "{stats:?}");
        assert_eq!((stats.live, stats.graph_points), (1500, stats.slots));
        assert!(stats.tombstones < 100, "{stats:?}");
        let (mut agree, mut total) = (0, 0);
        for (_, q) in data.iter().step_by(53) {
            let graph = top_ids(&index, q, Strategy::Graph { ef: None });
            let exact = top_ids(&index, q, Strategy::Exact);
            assert!(graph.iter().all(|id| id % 4 != 1), "{graph:?}");
            agree += graph.iter().filter(|id| exact.contains(id)).count();
            total += exact.len();
        }
        assert!(agree * 100 >= total * 90, "recall {agree}/{total}");
    }

    #[test]
    fn explicit_compact_drops_tombstones_and_keeps_replaced_ids() {
        let index = VectorIndex::in_memory_tuned(10, Tuning::default().graph_always()).unwrap();
        let data = clustered(1000, 10, 22);
        index.insert_many(&data).unwrap();
        let moved = data[7].0;
        let opposite: Vec<f32> = data[7].1.iter().map(|x| -x).collect();
        index.insert(moved, &opposite).unwrap();
        index.remove(3);
        assert_eq!(index.stats().tombstones, 2);
        index.compact();
        let stats = index.stats();
        assert_eq!(
            (stats.tombstones, stats.slots, stats.live, stats.compactions),
            (0, 999, 999, 1)
        );
        assert_eq!(top_ids(&index, &opposite, Strategy::Graph { ef: None })[0], moved);
        assert!(!index.contains(3));
        assert!(!index.needs_compaction());
    }

    #[test]
    fn mutations_during_a_build_are_replayed() {
        let index = VectorIndex::in_memory_tuned(10, Tuning::default().graph_always()).unwrap();
        let data = clustered(800, 10, 23);
        index.insert_many(&data).unwrap();
        index.remove(1);
        let (snapshot, tuning) = begin(&index.shared, false).expect("no compaction running");
        assert!(begin(&index.shared, false).is_none(), "one compaction at a time");
        // Meanwhile: a removal, a replacement and a new id.
        index.remove(2);
        let opposite: Vec<f32> = data[5].1.iter().map(|x| -x).collect();
        index.insert(5, &opposite).unwrap();
        index.insert(5000, &data[9].1).unwrap();
        let graph = Graph::build(&tuning, &snapshot);
        finish(&index.shared, snapshot, graph);
        assert!(!index.contains(1) && !index.contains(2));
        assert_eq!(index.get(5), Some(opposite.clone()));
        assert_eq!(index.len(), 799);
        let stats = index.stats();
        assert_eq!((stats.slots, stats.graph_points, stats.tombstones), (801, 801, 2));
        assert_eq!(top_ids(&index, &opposite, Strategy::Graph { ef: None })[0], 5);
        let near_nine = top_ids(&index, &data[9].1, Strategy::Graph { ef: None });
        assert!(
            near_nine[..2].contains(&5000) && near_nine[..2].contains(&9),
            "{near_nine:?}"
        );
    }

    #[test]
    fn large_graphs_compact_in_the_background() {
        let tuning = Tuning {
            inline_compact_max: 100,
            ..Tuning::default().graph_always()
        };
        let index = VectorIndex::in_memory_tuned(10, tuning).unwrap();
        index.insert_many(&clustered(1000, 10, 24)).unwrap();
        for id in 0..300 {
            index.remove(id);
        }
        index.wait_for_compaction();
        // Removals after the snapshot may leave a few tombstones, never more
        // than the ratio.
        assert!(!index.needs_compaction());
        let stats = index.stats();
        assert!(stats.compactions >= 1, "{stats:?}");
        assert_eq!(stats.live, 700);
    }
}

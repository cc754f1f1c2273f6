//! The raw vectors, in dense slots, independent of the graph.
//!
//! Every vector ever inserted since the last compaction has a slot; the slot
//! number is also its point id in the HNSW graph. Keeping our own copy means
//! exact scans, compaction and persistence never reach into hnsw_rs
//! internals, and a replaced or removed track only flips a flag (a
//! tombstone) here, which the graph search's filter then honours.
//!
//! Track ids are allocated sequentially by the caller, so the id → slot map
//! is a plain vector indexed by id (one load per lookup, which is what makes
//! an exact scan over thousands of allowed ids take microseconds); an id far
//! beyond the others goes to a small hash map instead of growing the vector.

use std::collections::HashMap;

/// Marks "no slot" in the dense id → slot table.
const NO_SLOT: u32 = u32::MAX;

/// Ids below this always use the dense table; above it only when the table
/// would stay within twice the number of entries.
const DENSE_FLOOR: usize = 1 << 16;

/// Track id → live slot.
#[derive(Debug, Default, Clone)]
struct IdMap {
    dense: Vec<u32>,
    sparse: HashMap<u32, u32>,
}

impl IdMap {
    fn get(&self, id: u32) -> Option<u32> {
        match self.dense.get(id as usize) {
            Some(&NO_SLOT) => None,
            Some(&slot) => Some(slot),
            None => self.sparse.get(&id).copied(),
        }
    }

    fn set(&mut self, id: u32, slot: u32, entries: usize) {
        let at = id as usize;
        if at >= self.dense.len() && at < DENSE_FLOOR.max(2 * (entries + 1)) {
            self.dense.resize(at + 1, NO_SLOT);
        }
        match self.dense.get_mut(at) {
            Some(cell) => *cell = slot,
            None => {
                self.sparse.insert(id, slot);
            }
        }
    }

    fn clear(&mut self, id: u32) {
        match self.dense.get_mut(id as usize) {
            Some(cell) => *cell = NO_SLOT,
            None => {
                self.sparse.remove(&id);
            }
        }
    }
}

/// Slot-major vectors with their ids and tombstones.
#[derive(Debug, Clone)]
pub(crate) struct SlotStore {
    dim: usize,
    data: Vec<f32>,
    ids: Vec<u32>,
    alive: Vec<bool>,
    map: IdMap,
    live: usize,
}

impl SlotStore {
    pub(crate) fn new(dim: usize) -> Self {
        SlotStore {
            dim,
            data: Vec::new(),
            ids: Vec::new(),
            alive: Vec::new(),
            map: IdMap::default(),
            live: 0,
        }
    }

    /// Rebuilds a store from saved parts; `None` when they disagree (lengths,
    /// or one id live in two slots).
    pub(crate) fn from_parts(dim: usize, ids: Vec<u32>, alive: Vec<bool>, data: Vec<f32>) -> Option<Self> {
        if ids.len() != alive.len() || data.len() != ids.len().checked_mul(dim)? {
            return None;
        }
        let mut store = SlotStore {
            dim,
            data,
            ids,
            alive,
            map: IdMap::default(),
            live: 0,
        };
        for slot in 0..store.ids.len() {
            if store.alive[slot] {
                let id = store.ids[slot];
                if store.map.get(id).is_some() {
                    return None;
                }
                store.live += 1;
                store.map.set(id, slot as u32, store.live);
            }
        }
        Some(store)
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Live vectors.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// All slots, live and tombstoned (= points in the graph).
    pub(crate) fn slots(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn tombstones(&self) -> usize {
        self.slots() - self.live
    }

    /// Stores `vector` for `id` in a new slot; the id's previous slot, if
    /// any, becomes a tombstone. Returns the new slot.
    pub(crate) fn push(&mut self, id: u32, vector: &[f32]) -> u32 {
        debug_assert_eq!(vector.len(), self.dim);
        if let Some(old) = self.map.get(id) {
            self.alive[old as usize] = false;
            self.live -= 1;
        }
        let slot = self.ids.len() as u32;
        self.ids.push(id);
        self.alive.push(true);
        self.data.extend_from_slice(vector);
        self.live += 1;
        self.map.set(id, slot, self.live);
        slot
    }

    /// Tombstones the live slot of `id`; false when `id` is not live.
    pub(crate) fn remove(&mut self, id: u32) -> bool {
        match self.map.get(id) {
            Some(slot) => {
                self.alive[slot as usize] = false;
                self.map.clear(id);
                self.live -= 1;
                true
            }
            None => false,
        }
    }

    #[inline]
    pub(crate) fn slot_of(&self, id: u32) -> Option<u32> {
        self.map.get(id)
    }

    #[inline]
    pub(crate) fn vector(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    #[inline]
    pub(crate) fn id_of(&self, slot: u32) -> u32 {
        self.ids[slot as usize]
    }

    #[inline]
    pub(crate) fn is_alive(&self, slot: u32) -> bool {
        self.alive.get(slot as usize).copied().unwrap_or(false)
    }

    /// Live ids, ascending.
    pub(crate) fn live_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.live_slots().map(|slot| self.ids[slot as usize]).collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn live_slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.ids.len() as u32).filter(move |&slot| self.alive[slot as usize])
    }

    /// A store holding only the live vectors, in slot order, without
    /// tombstones: what a compaction rebuilds the graph from.
    pub(crate) fn compacted(&self) -> SlotStore {
        let mut out = SlotStore::new(self.dim);
        out.data.reserve(self.live * self.dim);
        for slot in self.live_slots() {
            out.push(self.id_of(slot), self.vector(slot));
        }
        out
    }

    /// The parts persistence writes: ids, alive flags, vectors.
    pub(crate) fn parts(&self) -> (&[u32], &[bool], &[f32]) {
        (&self.ids, &self.alive, &self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_replace_remove_keep_counts_and_map() {
        let mut store = SlotStore::new(2);
        assert_eq!(store.push(7, &[1.0, 0.0]), 0);
        assert_eq!(store.push(9, &[0.0, 1.0]), 1);
        assert_eq!(store.push(7, &[0.6, 0.8]), 2);
        assert_eq!((store.live(), store.slots(), store.tombstones()), (2, 3, 1));
        assert_eq!(store.slot_of(7), Some(2));
        assert!(!store.is_alive(0));
        assert_eq!(store.vector(2), &[0.6, 0.8]);
        assert!(store.remove(9));
        assert!(!store.remove(9));
        assert_eq!(store.live_ids(), vec![7]);
        let compact = store.compacted();
        assert_eq!((compact.live(), compact.slots()), (1, 1));
        assert_eq!(compact.slot_of(7), Some(0));
    }

    #[test]
    fn far_ids_use_the_sparse_map() {
        let mut store = SlotStore::new(1);
        store.push(3_000_000_000, &[1.0]);
        store.push(5, &[1.0]);
        assert!(store.map.dense.len() < 1 << 17);
        assert_eq!(store.slot_of(3_000_000_000), Some(0));
        assert!(store.remove(3_000_000_000));
        assert_eq!(store.slot_of(3_000_000_000), None);
        assert_eq!(store.live_ids(), vec![5]);
    }

    #[test]
    fn from_parts_rejects_disagreeing_parts() {
        assert!(SlotStore::from_parts(2, vec![1], vec![true], vec![0.0; 3]).is_none());
        assert!(SlotStore::from_parts(1, vec![1, 1], vec![true, true], vec![1.0, 1.0]).is_none());
        let store = SlotStore::from_parts(1, vec![1, 1], vec![false, true], vec![1.0, 1.0]).unwrap();
        assert_eq!(store.slot_of(1), Some(1));
        assert_eq!(store.live(), 1);
    }
}

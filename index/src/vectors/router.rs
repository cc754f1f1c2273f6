//! A cheap check that a graph search did not end in the wrong region.
//!
//! hnsw_rs's search takes a single greedy hop per upper layer (it does not
//! walk each layer to convergence as the HNSW paper does), so on clustered
//! data, which music features are, the layer-0 beam sometimes starts in the
//! wrong cluster and stays there: the bench showed 1–4 % of queries finding
//! fewer than half of their true top 10 ("lost"), which alone kept recall
//! below 0.95 at 200k vectors. Raising `ef` barely helps, since the beam
//! never leaves that cluster.
//!
//! The router keeps every `stride`-th vector as a pivot, in one contiguous
//! block; `stride` is the smallest power of two that keeps at most
//! [`MAX_PIVOTS`] of them (so 1024–2048 pivots on a large index, the same
//! set whether the index was built, grown or loaded). After a graph search,
//! one pass over them (≤ 2048 dot products, ~20 µs at dim 40) looks for an
//! acceptable pivot that is *more* similar to the query than the k-th hit
//! yet was not returned: proof that the graph missed a better region, and
//! the search is redone exactly. A correct answer can never trigger it.

use super::brute::dot;
use super::store::SlotStore;

/// Most pivots kept: enough for about one per cluster of a few hundred
/// tracks at 200k, few enough that the check costs ~5 % of a search.
pub(crate) const MAX_PIVOTS: usize = 2048;

/// Every `stride`-th slot, with its vector.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    dim: usize,
    stride: u32,
    slots: Vec<u32>,
    data: Vec<f32>,
}

impl Router {
    /// Pivots for the slots of `store`.
    pub(crate) fn build(store: &SlotStore) -> Self {
        let mut stride = 1u32;
        while store.slots().div_ceil(stride as usize) > MAX_PIVOTS {
            stride *= 2;
        }
        let mut router = Router {
            dim: store.dim(),
            stride,
            slots: Vec::new(),
            data: Vec::new(),
        };
        for slot in (0..store.slots() as u32).step_by(stride as usize) {
            router.slots.push(slot);
            router.data.extend_from_slice(store.vector(slot));
        }
        router
    }

    /// Records a new slot; keeps the pivot count bounded as the index grows
    /// by doubling the stride (dropping every other pivot).
    pub(crate) fn note(&mut self, slot: u32, vector: &[f32]) {
        if slot % self.stride != 0 {
            return;
        }
        self.slots.push(slot);
        self.data.extend_from_slice(vector);
        if self.slots.len() > MAX_PIVOTS {
            self.stride *= 2;
            let keep: Vec<usize> = (0..self.slots.len())
                .filter(|&i| self.slots[i] % self.stride == 0)
                .collect();
            self.slots = keep.iter().map(|&i| self.slots[i]).collect();
            self.data = keep
                .iter()
                .flat_map(|&i| self.data[i * self.dim..(i + 1) * self.dim].to_vec())
                .collect();
        }
    }

    pub(crate) fn pivots(&self) -> usize {
        self.slots.len()
    }

    /// True when an acceptable pivot outside `found` is more similar to
    /// `query` than `kth` (the similarity of the last of k hits).
    pub(crate) fn beats(&self, query: &[f32], kth: f32, found: &[u32], keep: &dyn Fn(u32) -> bool) -> bool {
        self.slots
            .iter()
            .zip(self.data.chunks_exact(self.dim))
            .any(|(&slot, v)| dot(query, v) > kth && keep(slot) && !found.contains(&slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(n: u32) -> SlotStore {
        let mut store = SlotStore::new(2);
        for i in 0..n {
            let a = i as f32 * 0.01;
            store.push(i, &[a.cos(), a.sin()]);
        }
        store
    }

    #[test]
    fn pivots_are_strided_and_bounded() {
        let small = Router::build(&store(100));
        assert_eq!((small.pivots(), small.stride), (100, 1));
        let built = Router::build(&store(30_000));
        assert_eq!((built.pivots(), built.stride), (30_000usize.div_ceil(16), 16));
        // Growing one slot at a time ends with the same pivots as building.
        let mut grown = Router::build(&store(0));
        let mut slots = store(0);
        for i in 0..30_000u32 {
            let a = i as f32 * 0.01;
            let slot = slots.push(i, &[a.cos(), a.sin()]);
            grown.note(slot, slots.vector(slot));
        }
        assert_eq!(
            (grown.stride, &grown.slots, &grown.data),
            (built.stride, &built.slots, &built.data)
        );
        assert!(grown.pivots() <= MAX_PIVOTS && grown.pivots() > MAX_PIVOTS / 2);
    }

    #[test]
    fn beats_only_for_an_acceptable_pivot_better_than_the_kth_hit_and_not_found() {
        let store = store(1000);
        let router = Router::build(&store);
        let query = store.vector(500).to_vec();
        let all = |_: u32| true;
        // Slot 500 is a pivot (stride 1) with similarity 1.
        assert_eq!(router.stride, 1);
        assert!(router.beats(&query, 0.9, &[7, 8], &all));
        // Found already, or not acceptable, or not better: no proof of a miss.
        assert!(!router.beats(&query, 0.99999, &[500], &all));
        assert!(!router.beats(&query, 0.99999, &[], &|s| s != 500));
        assert!(!router.beats(&query, 1.5, &[], &all));
    }
}

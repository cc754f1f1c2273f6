//! Exact search: scan vectors, keep the k most similar.
//!
//! Used when an allow-list is small (a graph search would wander through
//! mostly forbidden nodes, see `planner.rs`), when the graph returns fewer
//! hits than asked, for tiny indexes, and by tests and the bench as the
//! ground truth. The dot product is written with eight independent
//! accumulators so the compiler vectorises it without target features; the
//! HNSW distance uses the same function.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::allow::AllowList;
use super::store::SlotStore;
use super::Hit;

/// Dot product of two equally long slices (= cosine for unit vectors).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let pairs = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (pairs[0] + pairs[2]) + (pairs[1] + pairs[3]) + tail
}

/// A hit ordered worst-first, so a max-heap of them pops the worst.
#[derive(Debug, Clone, Copy)]
struct Worst(Hit);

impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lower similarity is "greater" (worse); on ties the higher id is worse.
        other
            .0
            .similarity
            .total_cmp(&self.0.similarity)
            .then(self.0.id.cmp(&other.0.id))
    }
}

impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Worst {}

/// The k best hits seen so far.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub(crate) fn offer(&mut self, id: u32, similarity: f32) {
        if self.k == 0 {
            return;
        }
        let hit = Worst(Hit { id, similarity });
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(worst) = self.heap.peek() {
            if hit < *worst {
                self.heap.pop();
                self.heap.push(hit);
            }
        }
    }

    /// Best first; ties by ascending id.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        // `into_sorted_vec` is ascending by `Worst`, i.e. best first.
        self.heap.into_sorted_vec().into_iter().map(|w| w.0).collect()
    }
}

/// Exact top-k over every live vector, optionally restricted to `allow`.
///
/// With an allow-list smaller than the index, walks the list and looks each
/// id up (O(|allow|)); otherwise walks the slots and tests membership.
pub(crate) fn search(store: &SlotStore, query: &[f32], k: usize, allow: Option<&AllowList>) -> Vec<Hit> {
    let mut top = TopK::new(k);
    match allow {
        Some(list) if list.len() < store.slots() => {
            for &id in list.ids() {
                if let Some(slot) = store.slot_of(id) {
                    top.offer(id, dot(query, store.vector(slot)));
                }
            }
        }
        _ => {
            for slot in store.live_slots() {
                let id = store.id_of(slot);
                if allow.is_none_or(|list| list.contains(id)) {
                    top.offer(id, dot(query, store.vector(slot)));
                }
            }
        }
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_naive_sum_for_every_tail_length() {
        for len in 0..30 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-5, "len {len}");
        }
    }

    #[test]
    fn topk_keeps_the_best_sorted_with_id_ties() {
        let mut top = TopK::new(3);
        for (id, s) in [(1, 0.1), (2, 0.9), (3, 0.5), (4, 0.9), (5, 0.2), (6, 0.7)] {
            top.offer(id, s);
        }
        let ids: Vec<u32> = top.into_sorted().iter().map(|h| h.id).collect();
        assert_eq!(ids, vec![2, 4, 6]);
        let mut none = TopK::new(0);
        none.offer(1, 1.0);
        assert!(none.into_sorted().is_empty());
    }

    #[test]
    fn search_walks_either_the_list_or_the_slots() {
        let mut store = SlotStore::new(2);
        store.push(1, &[1.0, 0.0]);
        store.push(2, &[0.0, 1.0]);
        store.push(3, &[0.6, 0.8]);
        store.remove(2);
        let q = [0.0, 1.0];
        let all: Vec<u32> = search(&store, &q, 5, None).iter().map(|h| h.id).collect();
        assert_eq!(all, vec![3, 1]);
        let small = AllowList::new(vec![1, 2, 99]);
        assert_eq!(
            search(&store, &q, 5, Some(&small))
                .iter()
                .map(|h| h.id)
                .collect::<Vec<_>>(),
            vec![1]
        );
        let big = AllowList::new((0..100).collect());
        assert_eq!(search(&store, &q, 1, Some(&big))[0].id, 3);
    }
}

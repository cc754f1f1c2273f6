//! The HNSW graph (hnsw_rs), behind a small wrapper.
//!
//! Everything that touches hnsw_rs lives here so the rest of the index sees
//! slots in, slots out. Three quirks of hnsw_rs 0.3 shape this file:
//! - its `DistDot` asserts `1 - dot >= 0`, which rounding breaks for unit
//!   vectors (dot = 1.0000001 panics), so the graph uses [`UnitDot`], the
//!   same distance clamped at 0 and computed with the vectorised `dot`;
//! - `file_dump`/`DumpInit` panic on I/O errors and the loader asserts on
//!   bad bytes, so dump and load run under `catch_unwind` (and the loader is
//!   only ever given files whose checksum matched, see `persist.rs`);
//! - `HnswIo::load_hnsw` returns an `Hnsw<'b>` that borrows the `HnswIo`
//!   (for its optional mmap). We do not mmap, so nothing is really borrowed,
//!   but the type says it is: the loader is `Box::leak`ed, a few hundred
//!   bytes once per `open`, which gives `Hnsw<'static>` and lets the graph
//!   live in the index like a built one. Compactions build in memory and
//!   leak nothing.
//!
//! A fourth, its single greedy hop per upper layer during search, is
//! handled outside, by the pivots of `router.rs`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use hnsw_rs::api::AnnT;
use hnsw_rs::prelude::{Distance, FilterT, Hnsw, HnswIo};

use super::brute::dot;
use super::error::VectorError;
use super::store::SlotStore;
use super::tuning::Tuning;

/// Highest layer hnsw_rs may create (its own maximum).
const MAX_LAYER: usize = 16;

/// Cosine distance for unit vectors: `1 - dot`, never negative.
///
/// The type's name is written into hnsw_rs's dump and checked on load, so it
/// must not be renamed without bumping the manifest's format version.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    #[inline]
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Where the graph in memory came from (tests and stats check it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphOrigin {
    /// Built by inserting vectors in this process.
    Built,
    /// Read from a saved dump without rebuilding.
    Loaded,
}

/// The HNSW graph over slots (hnsw_rs's `DataId` is our slot number).
pub(crate) struct Graph {
    hnsw: Hnsw<'static, f32, UnitDot>,
    origin: GraphOrigin,
}

impl Graph {
    /// An empty graph with room for about `capacity` points.
    pub(crate) fn new(tuning: &Tuning, capacity: usize) -> Self {
        let hnsw = Hnsw::new(tuning.m, capacity.max(1024), MAX_LAYER, tuning.ef_construction, UnitDot);
        Graph {
            hnsw,
            origin: GraphOrigin::Built,
        }
    }

    /// A graph over every slot of `store` (live or not, so slot numbers and
    /// point ids stay equal), inserted in parallel with rayon.
    pub(crate) fn build(tuning: &Tuning, store: &SlotStore) -> Self {
        let graph = Graph::new(tuning, store.slots());
        let items: Vec<(&[f32], usize)> = (0..store.slots() as u32)
            .map(|slot| (store.vector(slot), slot as usize))
            .collect();
        graph.insert_many(&items);
        graph
    }

    pub(crate) fn insert(&self, slot: u32, vector: &[f32]) {
        self.hnsw.insert_slice((vector, slot as usize));
    }

    /// Inserts many points; parallel when there are enough to pay for it.
    pub(crate) fn insert_many(&self, items: &Vec<(&[f32], usize)>) {
        if items.len() >= 256 {
            self.hnsw.parallel_insert_slice(items);
        } else {
            for &item in items {
                self.hnsw.insert_slice(item);
            }
        }
    }

    /// Points in the graph (live and tombstoned).
    pub(crate) fn points(&self) -> usize {
        self.hnsw.get_nb_point()
    }

    pub(crate) fn origin(&self) -> GraphOrigin {
        self.origin
    }

    /// Up to `fetch` slots nearest to `query`, best first (plain hnsw_rs
    /// search, which stops as soon as its beam cannot improve).
    pub(crate) fn search(&self, query: &[f32], fetch: usize, ef: usize) -> Vec<u32> {
        self.hnsw
            .search(query, fetch, ef.max(fetch))
            .iter()
            .map(|n| n.d_id as u32)
            .collect()
    }

    /// Up to `k` slots nearest to `query` that pass `keep`, best first
    /// (hnsw_rs `search_filter`).
    ///
    /// hnsw_rs only filters the nodes it adds to its result list; the entry
    /// point is added unfiltered and may take one of the `k` places before
    /// its final filter drops it, so one extra neighbour is asked for.
    pub(crate) fn search_filtered(&self, query: &[f32], k: usize, ef: usize, keep: &dyn Fn(u32) -> bool) -> Vec<u32> {
        let filter = |data_id: &usize| keep(*data_id as u32);
        let filter: &dyn FilterT = &filter;
        let found = self.hnsw.search_filter(query, k + 1, ef.max(k + 1), Some(filter));
        found.iter().map(|n| n.d_id as u32).take(k).collect()
    }

    /// Writes `<basename>.hnsw.graph` and `<basename>.hnsw.data` in `dir`.
    pub(crate) fn dump(&self, dir: &Path, basename: &str) -> Result<(), VectorError> {
        let fail = |reason: String| VectorError::Hnsw {
            operation: "dump",
            reason,
        };
        let written = catch_unwind(AssertUnwindSafe(|| self.hnsw.file_dump(dir, basename)))
            .map_err(|panic| fail(panic_text(&panic)))?
            .map_err(|e| fail(e.to_string()))?;
        // hnsw_rs picks another name if the files exist; our folder is fresh,
        // so a different name means something else wrote there.
        if written != basename {
            return Err(fail(format!(
                "hnsw_rs wrote basename {written:?} instead of {basename:?}"
            )));
        }
        Ok(())
    }

    /// Reads a dump written by [`Graph::dump`]; the caller has checked the
    /// files' checksums. See the module doc for why the loader is leaked.
    pub(crate) fn load(dir: &Path, basename: &str, dim: usize) -> Result<Self, VectorError> {
        let fail = |reason: String| VectorError::Hnsw {
            operation: "load",
            reason,
        };
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
            io.load_hnsw::<f32, UnitDot>()
        }))
        .map_err(|panic| fail(panic_text(&panic)))?
        .map_err(|e| fail(e.to_string()))?;
        let points = loaded.get_nb_point();
        let got = loaded.get_point_indexation().get_data_dimension();
        if points > 0 && got != dim {
            return Err(fail(format!("graph holds {got}-dimensional points, expected {dim}")));
        }
        Ok(Graph {
            hnsw: loaded,
            origin: GraphOrigin::Loaded,
        })
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else if let Some(text) = panic.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else {
        "panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = dot(v, v).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn store(n: u32) -> SlotStore {
        let mut store = SlotStore::new(4);
        for i in 0..n {
            let t = i as f32 * 0.1;
            store.push(i, &unit(&[t.sin(), t.cos(), (2.0 * t).sin() + 1.5, 0.3]));
        }
        store
    }

    #[test]
    fn unit_dot_is_never_negative() {
        let v = unit(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert!(UnitDot.eval(&v, &v) >= 0.0);
        assert!(UnitDot.eval(&v, &v) < 1e-6);
        assert!((UnitDot.eval(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn built_graph_finds_points_and_honours_the_filter() {
        let store = store(600);
        let graph = Graph::build(&Tuning::default(), &store);
        assert_eq!(graph.points(), 600);
        assert_eq!(graph.origin(), GraphOrigin::Built);
        let q = store.vector(123).to_vec();
        assert_eq!(graph.search(&q, 1, 64), vec![123]);
        let odd = |slot: u32| slot % 2 == 1;
        let hits = graph.search_filtered(&q, 10, 64, &odd);
        assert!(!hits.is_empty() && hits.len() <= 10);
        assert!(hits.iter().all(|s| s % 2 == 1), "{hits:?}");
    }

    #[test]
    fn dump_then_load_gives_the_same_answers() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(300);
        let graph = Graph::build(&Tuning::default(), &store);
        graph.dump(dir.path(), "g").unwrap();
        let loaded = Graph::load(dir.path(), "g", 4).unwrap();
        assert_eq!(loaded.origin(), GraphOrigin::Loaded);
        assert_eq!(loaded.points(), 300);
        let q = store.vector(42).to_vec();
        assert_eq!(loaded.search(&q, 5, 64), graph.search(&q, 5, 64));
        assert!(matches!(Graph::load(dir.path(), "g", 5), Err(VectorError::Hnsw { .. })));
        assert!(matches!(
            Graph::load(dir.path(), "missing", 4),
            Err(VectorError::Hnsw { .. })
        ));
    }
}

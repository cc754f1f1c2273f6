//! Opening, creating and saving an index: the lifecycle around the files
//! of `persist.rs`.
//!
//! `open` never fails because of what is in the folder: whatever
//! `persist::load` found becomes a ready index plus a [`LoadOutcome`] saying
//! what happened, and anything but `Loaded` tells the caller to re-insert
//! from its canonical store. Even after `Loaded` the save may be older than
//! sled (inserts after the last save), so the caller reconciles `ids()`
//! with its own list either way.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::graph::Graph;
use super::persist::{self, Loaded};
use super::router::Router;
use super::store::SlotStore;
use super::{lock, read, write, LoadOutcome, Shared, State, Tuning, VectorError, VectorIndex, MAX_DIM};

/// What an index starts from.
struct Start {
    store: SlotStore,
    graph: Graph,
    outcome: LoadOutcome,
    generation: u64,
    dirty: bool,
    graph_builds: u64,
}

impl Start {
    fn empty(dim: usize, tuning: &Tuning, outcome: LoadOutcome) -> Self {
        let (store, graph) = (SlotStore::new(dim), Graph::new(tuning, 0));
        Start {
            store,
            graph,
            outcome,
            generation: 0,
            dirty: false,
            graph_builds: 0,
        }
    }
}

impl VectorIndex {
    /// Opens (or creates) the index saved in `dir`, with default tuning.
    pub fn open(dir: &Path, dim: usize) -> Result<VectorIndex, VectorError> {
        Self::open_tuned(dir, dim, Tuning::default())
    }

    /// Opens with explicit tuning. A save of another dim or format, or a
    /// damaged one, yields an empty index ([`LoadOutcome::Discarded`]); only
    /// a bad `dim` or a folder that cannot be created is an error.
    pub fn open_tuned(dir: &Path, dim: usize, tuning: Tuning) -> Result<VectorIndex, VectorError> {
        check_dim(dim)?;
        let tuning = tuning.sanitised();
        std::fs::create_dir_all(dir).map_err(|e| VectorError::io(dir, e))?;
        let start = match persist::load(dir, dim) {
            Loaded::Absent => {
                persist::clean(dir, None);
                Start::empty(dim, &tuning, LoadOutcome::Created)
            }
            Loaded::Found {
                store,
                graph,
                generation,
            } => {
                persist::clean(dir, Some(&persist::gen_folder(generation)));
                match graph {
                    Ok(graph) => {
                        let graph = graph.map_or_else(|| Graph::new(&tuning, 0), |g| *g);
                        let outcome = LoadOutcome::Loaded;
                        Start {
                            store,
                            graph,
                            outcome,
                            generation,
                            dirty: false,
                            graph_builds: 0,
                        }
                    }
                    Err(e) => {
                        // The vectors are good: rebuild the graph from them
                        // (tombstones dropped) and save it at the next save.
                        let store = store.compacted();
                        let graph = Graph::build(&tuning, &store);
                        let outcome = LoadOutcome::RebuiltGraph { reason: e.to_string() };
                        Start {
                            store,
                            graph,
                            outcome,
                            generation,
                            dirty: true,
                            graph_builds: 1,
                        }
                    }
                }
            }
            Loaded::Discarded(e) => Start::empty(dim, &tuning, LoadOutcome::Discarded { reason: e.to_string() }),
        };
        Ok(Self::assemble(dim, Some(dir.to_path_buf()), tuning, start))
    }

    /// An index without a folder, for tests and throwaway use; `save`
    /// returns [`VectorError::InMemory`].
    pub fn in_memory(dim: usize) -> Result<VectorIndex, VectorError> {
        Self::in_memory_tuned(dim, Tuning::default())
    }

    /// [`VectorIndex::in_memory`] with explicit tuning.
    pub fn in_memory_tuned(dim: usize, tuning: Tuning) -> Result<VectorIndex, VectorError> {
        check_dim(dim)?;
        let tuning = tuning.sanitised();
        let start = Start::empty(dim, &tuning, LoadOutcome::InMemory);
        Ok(Self::assemble(dim, None, tuning, start))
    }

    fn assemble(dim: usize, dir: Option<PathBuf>, tuning: Tuning, start: Start) -> VectorIndex {
        let Start {
            store,
            graph,
            outcome,
            generation,
            dirty,
            graph_builds,
        } = start;
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
}

fn check_dim(dim: usize) -> Result<(), VectorError> {
    if dim == 0 || dim > MAX_DIM {
        return Err(VectorError::BadDimension { got: dim, max: MAX_DIM });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::{self, File};

    use super::super::format::{checksum, HEADER_LEN};
    use super::super::persist::{gen_folder, GEN_PREFIX, MANIFEST, MANIFEST_TMP, VECTORS};
    use super::super::test_data::clustered;
    use super::super::{GraphOrigin, Strategy, VectorStats};
    use super::*;

    fn top(index: &VectorIndex, q: &[f32], strategy: Strategy) -> Vec<u32> {
        index
            .search_with(q, 10, None, strategy)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect()
    }

    /// A saved index of 1500 vectors with one removal and one replacement.
    fn saved(dir: &Path) -> (VectorIndex, Vec<(u32, Vec<f32>)>) {
        let index = VectorIndex::open(dir, 12).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Created);
        let data = clustered(1500, 12, 31);
        index.insert_many(&data).unwrap();
        index.remove(4);
        index.insert(6, &data[700].1).unwrap();
        assert!(index.is_dirty());
        index.save().unwrap();
        assert!(!index.is_dirty());
        (index, data)
    }

    fn gen_folders(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(GEN_PREFIX))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_then_open_loads_the_graph_without_rebuilding() {
        let dir = tempfile::tempdir().unwrap();
        let (before, data) = saved(dir.path());
        let again = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!(again.load_outcome(), &LoadOutcome::Loaded);
        assert!(again.loaded_from_disk() && !again.is_dirty());
        let stats = again.stats();
        assert_eq!(stats.graph_origin, GraphOrigin::Loaded);
        assert_eq!((stats.graph_builds, stats.generation), (0, 1));
        assert_eq!(
            stats,
            VectorStats {
                graph_origin: stats.graph_origin,
                graph_builds: 0,
                ..before.stats()
            }
        );
        assert_eq!(again.ids(), before.ids());
        assert_eq!(again.get(6), before.get(6));
        for (_, q) in data.iter().step_by(101) {
            let graph = Strategy::Graph { ef: None };
            assert_eq!(top(&again, q, graph), top(&before, q, graph));
            assert!(!top(&again, q, graph).contains(&4));
        }
        // A loaded graph keeps growing and saves again as generation 2.
        again.insert(9000, &data[3].1).unwrap();
        assert!(top(&again, &data[3].1, Strategy::Graph { ef: None })[..2].contains(&9000));
        again.save().unwrap();
        assert_eq!(gen_folders(dir.path()), vec![gen_folder(2)]);
        let third = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!((third.len(), third.stats().generation), (1500, 2));
    }

    #[test]
    fn empty_index_saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        VectorIndex::open(dir.path(), 5).unwrap().save().unwrap();
        let index = VectorIndex::open(dir.path(), 5).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Loaded);
        assert!(index.is_empty());
        index.insert(1, &[1.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
        assert_eq!(index.search(&[1.0, 0.0, 0.0, 0.0, 0.0], 3, None).unwrap()[0].id, 1);
    }

    #[test]
    fn corrupt_manifest_or_vectors_give_an_empty_index() {
        let dir = tempfile::tempdir().unwrap();
        saved(dir.path());
        let other_dim = VectorIndex::open(dir.path(), 13).unwrap();
        assert!(matches!(other_dim.load_outcome(), LoadOutcome::Discarded { .. }));
        assert!(other_dim.is_empty() && !other_dim.loaded_from_disk());

        let vectors = dir.path().join(gen_folder(1)).join(VECTORS);
        let mut bytes = fs::read(&vectors).unwrap();
        bytes[HEADER_LEN + 40] ^= 0x55;
        fs::write(&vectors, &bytes).unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        let LoadOutcome::Discarded { reason } = index.load_outcome() else {
            panic!("{:?}", index.load_outcome())
        };
        assert!(reason.contains("checksum"), "{reason}");
        assert!(index.is_empty());

        fs::write(dir.path().join(MANIFEST), b"{\"format_version\": 1, \"dim\": ").unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert!(matches!(index.load_outcome(), LoadOutcome::Discarded { .. }));
        // The caller re-inserts and saves; the bad generation is replaced.
        index.insert(1, &[1.0; 12]).unwrap();
        index.save().unwrap();
        assert_eq!(gen_folders(dir.path()), vec![gen_folder(2)]);
        assert_eq!(VectorIndex::open(dir.path(), 12).unwrap().ids(), vec![1]);
    }

    #[test]
    fn bad_graph_files_are_rebuilt_from_the_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let (before, data) = saved(dir.path());
        let folder = dir.path().join(gen_folder(1));
        let graph_file = folder.join("graph.hnsw.graph");
        let len = fs::metadata(&graph_file).unwrap().len();
        File::options()
            .write(true)
            .open(&graph_file)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert!(
            matches!(index.load_outcome(), LoadOutcome::RebuiltGraph { .. }),
            "{:?}",
            index.load_outcome()
        );
        assert!(index.loaded_from_disk() && index.is_dirty());
        assert_eq!(index.ids(), before.ids());
        assert_eq!(index.stats().graph_builds, 1);
        assert_eq!(top(&index, &data[20].1, Strategy::Auto)[0], 20);

        // Garbage that passes the checksum (manifest rewritten to match)
        // reaches hnsw_rs, which panics; the panic is caught.
        let garbage = vec![0xAB; 4096];
        fs::write(&graph_file, &garbage).unwrap();
        let path = dir.path().join(MANIFEST);
        let mut manifest: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let files = manifest["files"].as_array_mut().unwrap();
        let entry = files.iter_mut().find(|f| f["name"] == "graph.hnsw.graph").unwrap();
        entry["len"] = garbage.len().into();
        entry["checksum"] = checksum(&garbage).into();
        fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert!(
            matches!(index.load_outcome(), LoadOutcome::RebuiltGraph { .. }),
            "{:?}",
            index.load_outcome()
        );
        assert_eq!(index.len(), before.len());
    }

    #[test]
    fn leftovers_of_a_crashed_save_are_ignored_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let (before, _) = saved(dir.path());
        // A save killed after writing its folder but before the manifest
        // rename: a newer generation folder with a half-written file, and a
        // temp manifest pointing at it.
        let crashed = dir.path().join(gen_folder(2));
        fs::create_dir(&crashed).unwrap();
        fs::write(crashed.join(VECTORS), b"SNVEC\0\0\x01 half").unwrap();
        fs::write(dir.path().join(MANIFEST_TMP), b"{\"format_version\":1,\"generation\":2").unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Loaded);
        assert_eq!(index.ids(), before.ids());
        assert_eq!(gen_folders(dir.path()), vec![gen_folder(1)]);
        assert!(!dir.path().join(MANIFEST_TMP).exists());
        // The next save does not reuse anything of the crashed one.
        index.remove(1);
        index.save().unwrap();
        let reopened = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!(reopened.len(), before.len() - 1);
        // Before any manifest, every generation folder is a leftover.
        let fresh = tempfile::tempdir().unwrap();
        fs::create_dir(fresh.path().join(gen_folder(1))).unwrap();
        let index = VectorIndex::open(fresh.path(), 12).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Created);
        assert!(gen_folders(fresh.path()).is_empty());
    }

    #[test]
    fn bad_dimensions_are_refused() {
        for dim in [0, MAX_DIM + 1] {
            assert!(matches!(
                VectorIndex::in_memory(dim),
                Err(VectorError::BadDimension { .. })
            ));
            let dir = tempfile::tempdir().unwrap();
            assert!(matches!(
                VectorIndex::open(dir.path(), dim),
                Err(VectorError::BadDimension { .. })
            ));
        }
        assert!(matches!(
            VectorIndex::in_memory(3).unwrap().save(),
            Err(VectorError::InMemory)
        ));
    }
}

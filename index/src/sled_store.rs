//! The sled backend of [`KvStore`].
//!
//! sled 0.34 is beta and prone to space amplification, so the store is
//! opened in low-space mode with a bounded page cache, and the index above
//! keeps few, compact values (one block per bucket) rather than a key per
//! posting. Multi-tree batches use sled's serializable transactions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sonica_schema::Tree;

use crate::store::{Batch, Entry, KvStore};
use crate::StoreError;

/// A sled database with one sled tree per [`Tree`].
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

/// Default page-cache budget: small, because Sonica must start and answer in
/// tens of megabytes of memory; postings are read a block at a time.
pub const DEFAULT_CACHE_BYTES: u64 = 16 << 20;

/// How long an open waits for a lock that a just-closed store is releasing.
pub const RELEASE_WAIT: Duration = Duration::from_millis(1500);

/// sled's settings that trade memory and disk space. The segment size is
/// fixed when a database is created (sled refuses another one later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SledTuning {
    /// sled's page cache.
    pub cache_bytes: u64,
    /// sled's log segment size (a power of two).
    pub segment_bytes: usize,
}

impl Default for SledTuning {
    fn default() -> Self {
        SledTuning {
            cache_bytes: DEFAULT_CACHE_BYTES,
            segment_bytes: 512 << 10,
        }
    }
}

impl SledStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens the store with a given page cache.
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        Self::open_tuned(
            path,
            SledTuning {
                cache_bytes,
                ..SledTuning::default()
            },
        )
    }

    /// Opens the store, waiting up to [`RELEASE_WAIT`] for a lock that is
    /// being released. sled's I/O threads finish their last writes after the
    /// `Db` is dropped, so a store closed a moment ago in this process can
    /// still hold its file lock briefly; a store held by a live owner stays
    /// locked past the wait and is refused as [`StoreError::Locked`].
    pub fn open_tuned(path: &Path, tuning: SledTuning) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path)?;
        let started = Instant::now();
        let db = loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(tuning.cache_bytes)
                .segment_size(tuning.segment_bytes)
                .mode(sled::Mode::LowSpace)
                .flush_every_ms(Some(1000))
                .open()
                .map_err(|e| map_open_error(path, e));
            match opened {
                Err(StoreError::Locked { .. }) if started.elapsed() < RELEASE_WAIT => {
                    std::thread::sleep(Duration::from_millis(25))
                }
                other => break other?,
            }
        };
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()).map_err(backend))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SledStore {
            path: path.to_path_buf(),
            db,
            trees,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tree(&self, t: Tree) -> &sled::Tree {
        &self.trees[t.index()]
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn map_open_error(path: &Path, e: sled::Error) -> StoreError {
    let msg = e.to_string();
    if msg.contains("lock") || msg.contains("Resource temporarily unavailable") || msg.contains("WouldBlock") {
        StoreError::Locked {
            path: path.display().to_string(),
        }
    } else {
        StoreError::Backend(format!("cannot open {}: {msg}", path.display()))
    }
}

impl KvStore for SledStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree(tree).get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn scan(&self, tree: Tree) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        Box::new(
            self.tree(tree)
                .iter()
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend)),
        )
    }

    fn scan_range(
        &self,
        tree: Tree,
        from: &[u8],
        to: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        Box::new(
            self.tree(tree)
                .range(from.to_vec()..to.to_vec())
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend)),
        )
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let first = batch.ops[0].0;
        if batch.ops.iter().all(|(t, _, _)| *t == first) {
            // One tree: sled applies a batch atomically without a transaction.
            let mut b = sled::Batch::default();
            for (_, k, v) in batch.ops {
                match v {
                    Some(v) => b.insert(k, v),
                    None => b.remove(k),
                }
            }
            return self.tree(first).apply_batch(b).map_err(backend);
        }
        let result: Result<(), TransactionError<()>> = self.trees.as_slice().transaction(|trees| {
            for (t, k, v) in &batch.ops {
                let tree = &trees[t.index()];
                match v {
                    Some(v) => {
                        tree.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        tree.remove(k.as_slice())?;
                    }
                }
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(()) => StoreError::Backend("transaction aborted".into()),
            TransactionError::Storage(e) => backend(e),
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(backend)
    }

    fn len(&self, tree: Tree) -> Result<usize, StoreError> {
        Ok(self.tree(tree).len())
    }

    fn disk_bytes(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_across_trees_commits_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put(Tree::Tracks, &b"k"[..], &b"v"[..]);
            b.put(Tree::Paths, &b"p"[..], &b"1"[..]);
            s.commit(b).unwrap();
            s.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get(Tree::Tracks, b"k").unwrap().unwrap(), b"v");
        assert_eq!(s.get(Tree::Paths, b"p").unwrap().unwrap(), b"1");
        assert_eq!(s.len(Tree::Tracks).unwrap(), 1);
    }

    /// sled's I/O threads can hold the file lock for a moment after a drop;
    /// a reopen in the same process must wait for it, not report `Locked`.
    #[test]
    fn reopen_right_after_close_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..60u32 {
            let s = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put(Tree::Tracks, i.to_be_bytes().to_vec(), vec![7u8; 4096]);
            b.put(Tree::Paths, i.to_be_bytes().to_vec(), vec![1u8; 64]);
            s.commit(b).unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.len(Tree::Tracks).unwrap(), 60);
    }

    #[test]
    fn second_open_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _s = SledStore::open(dir.path()).unwrap();
        match SledStore::open(dir.path()) {
            Err(StoreError::Locked { .. }) => {}
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("second open succeeded"),
        }
    }
}

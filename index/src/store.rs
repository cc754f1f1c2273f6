//! The storage seam: a minimal ordered key-value interface with named trees
//! and atomic multi-tree batches.
//!
//! Everything above this trait is backend-agnostic. The contract that keeps
//! the index consistent across kills is small: a [`Batch`] lands entirely or
//! not at all, and [`KvStore::flush`] returns only once everything committed
//! before it is durable.

use std::time::Duration;

use sonica_schema::Tree;

use crate::StoreError;

/// One write in a batch: `Some(value)` inserts, `None` removes.
pub type Op = (Tree, Vec<u8>, Option<Vec<u8>>);

/// Writes applied atomically, across trees, by [`KvStore::commit`].
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), Some(value.into())));
    }

    pub fn remove(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// A key-value entry as returned by scans.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A key another process changed in a shared store: what a node follows
/// to keep its in-memory tiers and search indexes in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub tree: Tree,
    pub key: Vec<u8>,
}

/// What [`KvStore::changes`] returns: the changes after a cursor, the
/// cursor to ask from next, and whether the stream no longer reaches back
/// to the cursor (the follower must then re-read everything).
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub changes: Vec<Change>,
    pub cursor: String,
    pub lost: bool,
}

/// Held while a writer reads and then commits; dropping it lets the next
/// writer in. A shared store makes it cluster-wide.
pub trait WriterLease: Send {}

/// An ordered key-value store with the trees of [`Tree::ALL`].
pub trait KvStore: Send + Sync {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Several keys of one tree at once, in the order asked: where a
    /// network store turns many round trips into one (hash buckets).
    fn get_many(&self, tree: Tree, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|k| self.get(tree, k)).collect()
    }

    /// All entries of a tree in key order.
    fn scan(&self, tree: Tree) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_>;

    /// Entries of a tree with `from <= key < to`, in key order: one
    /// monitor's play log over a time range. Backends with ordered range
    /// reads override this filtering default.
    fn scan_range(
        &self,
        tree: Tree,
        from: &[u8],
        to: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        let (from, to) = (from.to_vec(), to.to_vec());
        Box::new(
            self.scan(tree)
                .filter(move |e| e.as_ref().map_or(true, |(k, _)| k.as_slice() >= from.as_slice()))
                .take_while(move |e| e.as_ref().map_or(true, |(k, _)| k.as_slice() < to.as_slice())),
        )
    }

    /// Applies every op of `batch` atomically.
    fn commit(&self, batch: Batch) -> Result<(), StoreError>;

    /// Makes every committed batch durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Number of entries in a tree.
    fn len(&self, tree: Tree) -> Result<usize, StoreError>;

    /// Logical bytes (keys plus values) held in a tree.
    fn logical_bytes(&self, tree: Tree) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for e in self.scan(tree) {
            let (k, v) = e?;
            n += (k.len() + v.len()) as u64;
        }
        Ok(n)
    }

    /// Bytes the whole store occupies on disk (0 for memory backends).
    fn disk_bytes(&self) -> Result<u64, StoreError>;

    /// Whether other processes write this store too (Redis Cluster). An
    /// embedded store is written by one process only.
    fn is_shared(&self) -> bool {
        false
    }

    /// Taken by every index writer before it reads what it will commit.
    /// An embedded store needs nothing beyond the process's own lock.
    fn writer_lease(&self) -> Result<Option<Box<dyn WriterLease>>, StoreError> {
        Ok(None)
    }

    /// Where the change stream ends now: a follower reads from here after
    /// it has loaded everything.
    fn change_cursor(&self) -> Result<String, StoreError> {
        Ok(String::new())
    }

    /// Track records and analyses other processes changed after `cursor`,
    /// waiting up to `wait` for the first. `None` when the store is not
    /// shared (nothing ever changes under this process).
    fn changes(&self, _cursor: &str, _wait: Duration) -> Result<Option<Changes>, StoreError> {
        Ok(None)
    }
}

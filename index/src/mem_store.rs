//! An in-memory [`KvStore`]: the second backend that keeps the storage seam
//! honest, and a fast store for tests and throwaway queries.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sonica_schema::Tree;

use crate::store::{Batch, Entry, KvStore};
use crate::StoreError;

#[derive(Default)]
pub struct MemStore {
    trees: Mutex<Vec<BTreeMap<Vec<u8>, Vec<u8>>>>,
}

impl MemStore {
    pub fn new() -> Self {
        MemStore {
            trees: Mutex::new(vec![BTreeMap::new(); Tree::ALL.len()]),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BTreeMap<Vec<u8>, Vec<u8>>>> {
        // A panic while holding the lock cannot leave a half-applied batch
        // (batches are applied to a clone first), so poisoning is harmless.
        self.trees.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KvStore for MemStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()[tree.index()].get(key).cloned())
    }

    fn scan(&self, tree: Tree) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        let snapshot: Vec<Entry> = self.lock()[tree.index()]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Box::new(snapshot.into_iter().map(Ok))
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
        let snapshot: Vec<Entry> = self.lock()[tree.index()]
            .range(from.to_vec()..to.to_vec())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Box::new(snapshot.into_iter().map(Ok))
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        for (t, k, v) in batch.ops {
            match v {
                Some(v) => {
                    next[t.index()].insert(k, v);
                }
                None => {
                    next[t.index()].remove(&k);
                }
            }
        }
        *guard = next;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn len(&self, tree: Tree) -> Result<usize, StoreError> {
        Ok(self.lock()[tree.index()].len())
    }

    fn disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

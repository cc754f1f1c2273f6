//! A memory-bounded cache of parsed bucket blocks.
//!
//! A lookup touches one bucket per distinct hash bucket of the query (a
//! thousand or more), and each costs a store read, a zstd decompression and
//! a directory parse. Compacted blocks change only at compaction, so a
//! long-running process (the service) keeps parsed blocks in memory up to a
//! budget; a one-shot CLI run uses none. Eviction drops the least recently
//! used eighth when the budget is passed (amortised, no per-hit list work).
//!
//! Consistency: compaction calls [`BlockCache::invalidate`] after it
//! rewrites buckets and before tracks switch tiers. A reader that read a
//! block before an invalidation may not insert it afterwards (the
//! generation check), so no stale block outlives a compaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sonica_schema::postings::BlockReader;

#[derive(Default)]
struct Inner {
    map: HashMap<u32, (Arc<BlockReader>, u64)>,
    bytes: usize,
    tick: u64,
    generation: u64,
}

#[derive(Default)]
pub struct BlockCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl BlockCache {
    pub fn new(budget_bytes: usize) -> Self {
        BlockCache {
            budget: budget_bytes,
            inner: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation to pass to [`BlockCache::insert`] for a block about to
    /// be read from the store.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    pub fn get(&self, bucket: u32) -> Option<Arc<BlockReader>> {
        let mut g = self.lock();
        g.tick += 1;
        let tick = g.tick;
        let e = g.map.get_mut(&bucket)?;
        e.1 = tick;
        Some(e.0.clone())
    }

    /// Keeps `block` unless the cache was invalidated since `generation`.
    pub fn insert(&self, bucket: u32, block: Arc<BlockReader>, generation: u64) {
        let size = block.heap_bytes() + 64;
        if size > self.budget / 8 {
            return;
        }
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        g.tick += 1;
        let tick = g.tick;
        if let Some((old, _)) = g.map.insert(bucket, (block, tick)) {
            g.bytes -= old.heap_bytes() + 64;
        }
        g.bytes += size;
        if g.bytes > self.budget {
            let mut ticks: Vec<u64> = g.map.values().map(|(_, t)| *t).collect();
            let cut = ticks.len() / 8;
            let (_, &mut threshold, _) = ticks.select_nth_unstable(cut);
            let mut freed = 0;
            g.map.retain(|_, (b, t)| {
                let keep = *t > threshold;
                if !keep {
                    freed += b.heap_bytes() + 64;
                }
                keep
            });
            g.bytes -= freed;
        }
    }

    /// Drops everything; blocks read before this call are not kept.
    pub fn invalidate(&self) {
        let mut g = self.lock();
        g.map.clear();
        g.bytes = 0;
        g.generation += 1;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::{postings, Posting};

    fn block(n: u32) -> Arc<BlockReader> {
        let ps: Vec<Posting> = (0..n)
            .map(|i| Posting {
                hash: i,
                track: 1,
                time: i,
            })
            .collect();
        let mut r = BlockReader::new();
        r.load(&postings::encode(&ps)).unwrap();
        Arc::new(r)
    }

    #[test]
    fn stays_within_budget_and_keeps_recent_blocks() {
        let one = block(50).heap_bytes() + 64;
        let c = BlockCache::new(one * 20);
        for b in 0..100 {
            let g = c.generation();
            c.insert(b, block(50), g);
            assert!(c.get(0).is_some() || b == 0 || c.bytes() <= one * 20);
        }
        assert!(c.bytes() <= one * 20, "{} > {}", c.bytes(), one * 20);
        assert!(c.get(99).is_some(), "the newest block is kept");
        assert!(c.get(0).is_some(), "a block used all along is kept");
        assert!(c.get(50).is_none(), "an old unused block is gone");
    }

    #[test]
    fn blocks_read_before_an_invalidation_are_not_kept() {
        let c = BlockCache::new(1 << 20);
        let g = c.generation();
        c.invalidate();
        c.insert(1, block(5), g);
        assert!(c.get(1).is_none());
        let g = c.generation();
        c.insert(1, block(5), g);
        assert!(c.get(1).is_some());
        c.invalidate();
        assert!(c.get(1).is_none());
        assert_eq!(c.bytes(), 0);
    }
}

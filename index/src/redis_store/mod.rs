//! The Redis Cluster backend of [`KvStore`]: several Sonica nodes share one
//! library through it (issue 18).
//!
//! The layout is [`sonica_schema::cluster_layout`]: every tree is split
//! into hash partitions spread over the cluster's slots, so the hash
//! buckets are sharded by Redis itself. What sled gives for free is rebuilt
//! here from Redis primitives, one file each:
//! - all-or-nothing batches across slots: a journal ([`commit`]);
//! - one writer at a time across nodes: an expiring lease ([`lease`]);
//! - telling other nodes what changed: a stream ([`changes`]);
//! - durability: `WAIT` for a replica in [`KvStore::flush`].

mod changes;
mod commit;
mod conn;
mod lease;
mod queue;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use sonica_schema::cluster_layout::{partition_key, partition_of, partitions};
use sonica_schema::Tree;

use crate::store::{Batch, Changes, Entry, KvStore, WriterLease};
use crate::StoreError;

pub use conn::Pool;
pub use queue::{JobQueue, QueuedJob};

/// Keys fetched per round trip when a scan reads values.
const SCAN_CHUNK: usize = 512;

/// Turns a client error into the store's error, naming the cluster.
pub(crate) fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("Redis Cluster: {e}"))
}

/// A [`KvStore`] on a Redis Cluster, shared by every node opened on it.
pub struct RedisStore {
    pub(crate) pool: Arc<Pool>,
    pub(crate) ns: String,
    /// This process's name in the journal, the change stream and the
    /// queue's consumer group: unique per open.
    pub(crate) node: String,
    pub(crate) seq: AtomicU64,
    /// The writer lease's token while this process holds it.
    pub(crate) held: lease::Held,
    heartbeat: Option<commit::Heartbeat>,
}

impl RedisStore {
    /// Connects to the cluster at `urls` (comma-separated `redis://host:port`
    /// seeds), keeping its keys under the prefix `ns`, and finishes any
    /// batch a dead node left half applied.
    pub fn open(urls: &str, ns: &str) -> Result<RedisStore, StoreError> {
        let pool = Arc::new(Pool::connect(urls)?);
        let node = format!("{}-{:08x}", std::process::id(), random_u32());
        let mut store = RedisStore {
            pool,
            ns: ns.to_string(),
            node,
            seq: AtomicU64::new(0),
            held: Default::default(),
            heartbeat: None,
        };
        store.heartbeat = Some(commit::Heartbeat::start(&store)?);
        store.recover()?;
        Ok(store)
    }

    /// This process's node name (for logs and tests).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The durable job queue on this cluster.
    pub fn job_queue(&self) -> JobQueue {
        JobQueue::new(self.pool.clone(), &self.ns, &self.node)
    }

    fn hget_many(&self, tree: Tree, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One HMGET per partition, all in one pipeline.
        let mut by_part: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            by_part.entry(partition_of(tree, k)).or_default().push(i);
        }
        let mut pipe = redis::cluster::cluster_pipe();
        for (&p, idx) in &by_part {
            let c = pipe.cmd("HMGET").arg(partition_key(&self.ns, tree, p));
            for &i in idx {
                c.arg(&keys[i][..]);
            }
        }
        let replies: Vec<Vec<Option<Vec<u8>>>> = self.pool.read(|c| pipe.query(c))?;
        let mut out = vec![None; keys.len()];
        for ((_, idx), vals) in by_part.iter().zip(replies) {
            for (&i, v) in idx.iter().zip(vals) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Every key of `tree`, sorted.
    fn keys(&self, tree: Tree) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut pipe = redis::cluster::cluster_pipe();
        for p in 0..partitions(tree) {
            pipe.cmd("HKEYS").arg(partition_key(&self.ns, tree, p));
        }
        let parts: Vec<Vec<Vec<u8>>> = self.pool.read(|c| pipe.query(c))?;
        let mut keys: Vec<Vec<u8>> = parts.into_iter().flatten().collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// Entries for `keys` (sorted), read a chunk at a time; keys deleted
    /// meanwhile are skipped.
    fn entries(&self, tree: Tree, keys: Vec<Vec<u8>>) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        let chunks: Vec<Vec<Vec<u8>>> = keys.chunks(SCAN_CHUNK).map(<[_]>::to_vec).collect();
        Box::new(chunks.into_iter().flat_map(move |chunk| {
            let got = self.hget_many(tree, &chunk);
            let items: Vec<Result<Entry, StoreError>> = match got {
                Ok(vals) => chunk
                    .into_iter()
                    .zip(vals)
                    .filter_map(|(k, v)| v.map(|v| Ok((k, v))))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            items.into_iter()
        }))
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.stop();
        }
    }
}

impl KvStore for RedisStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let k = partition_key(&self.ns, tree, partition_of(tree, key));
        self.pool.read(|c| redis::cmd("HGET").arg(&k).arg(key).query(c))
    }

    fn get_many(&self, tree: Tree, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.hget_many(tree, keys)
    }

    fn scan(&self, tree: Tree) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        match self.keys(tree) {
            Ok(keys) => self.entries(tree, keys),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn scan_range(
        &self,
        tree: Tree,
        from: &[u8],
        to: &[u8],
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + '_> {
        match self.keys(tree) {
            Ok(keys) => {
                let keys = keys
                    .into_iter()
                    .filter(|k| k.as_slice() >= from && k.as_slice() < to)
                    .collect();
                self.entries(tree, keys)
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        commit::commit(self, batch)
    }

    fn flush(&self) -> Result<(), StoreError> {
        commit::wait_for_replicas(self)
    }

    fn len(&self, tree: Tree) -> Result<usize, StoreError> {
        let mut pipe = redis::cluster::cluster_pipe();
        for p in 0..partitions(tree) {
            pipe.cmd("HLEN").arg(partition_key(&self.ns, tree, p));
        }
        let lens: Vec<usize> = self.pool.read(|c| pipe.query(c))?;
        Ok(lens.into_iter().sum())
    }

    /// Memory the cluster's masters use (the whole cluster, not only this
    /// namespace): what a Redis deployment is sized by.
    fn disk_bytes(&self) -> Result<u64, StoreError> {
        let info = self.pool.on_masters(redis::cmd("INFO").arg("memory"))?;
        Ok(info
            .iter()
            .flat_map(|s| s.lines())
            .filter_map(|l| l.strip_prefix("used_memory:"))
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .sum())
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn writer_lease(&self) -> Result<Option<Box<dyn WriterLease>>, StoreError> {
        Ok(Some(Box::new(lease::Lease::acquire(self)?)))
    }

    fn change_cursor(&self) -> Result<String, StoreError> {
        changes::cursor(self)
    }

    fn changes(&self, cursor: &str, wait: Duration) -> Result<Option<Changes>, StoreError> {
        changes::read(self, cursor, wait).map(Some)
    }
}

/// Bulk strings anywhere in a reply (a multi-node reply is a map or an
/// array of per-node replies).
pub(crate) fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::BulkString(b) => out.push(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) | Value::VerbatimString { text: s, .. } => out.push(s.clone()),
        Value::Array(a) | Value::Set(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Map(m) => m.iter().for_each(|(_, x)| strings(x, out)),
        _ => {}
    }
}

/// A random u32 from the clock and the process (no rand dependency): node
/// names and lease tokens need uniqueness, not secrecy.
pub(crate) fn random_u32() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    sonica_schema::cluster_layout::fnv1a(
        &[
            t.to_le_bytes(),
            n.to_le_bytes(),
            u64::from(std::process::id()).to_le_bytes(),
        ]
        .concat(),
    )
}

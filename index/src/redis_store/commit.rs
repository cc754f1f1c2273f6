//! All-or-nothing batches on a cluster that has no cross-slot transaction.
//!
//! A batch's ops are written as one [`JournalRecord`] (one hash field, one
//! slot, so atomically), then applied partition by partition, with one
//! change-stream entry per changed track record or analysis, and only then
//! removed from the journal. A writer killed in between leaves its entry;
//! once its heartbeat has expired any node finishes it ([`recover`]) under
//! the writer lease. Applying is idempotent (puts and removes of final
//! values), so finishing twice is harmless.
//!
//! Bucket rewrites skip the journal: compaction already makes them safe to
//! apply alone (a bucket posting counts only once its track's record says
//! compacted, and that flip is a later, journaled batch), and journaling
//! them would copy most of the store's bytes through one slot.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sonica_schema::cluster_layout::{
    alive_key, changes_key, journal_key, partition_key, partition_of, JournalOp, JournalRecord,
};
use sonica_schema::Tree;

use super::{lease, Pool, RedisStore};
use crate::store::Batch;
use crate::StoreError;

/// A node counts as alive while its heartbeat key exists.
pub(crate) const ALIVE_MS: u64 = 5_000;
const BEAT: Duration = Duration::from_millis(1_000);
/// Change-stream entries kept; a node further behind re-reads everything.
pub(crate) const CHANGES_KEPT: usize = 200_000;
/// How long `flush` waits for a replica to acknowledge.
const WAIT_MS: u64 = 2_000;

/// Trees whose changes other nodes must follow: a track's record (live,
/// tier) and its analysis (what the search indexes hold).
fn followed(tree: Tree) -> bool {
    matches!(tree, Tree::Tracks | Tree::Analysis)
}

pub(super) fn commit(store: &RedisStore, batch: Batch) -> Result<(), StoreError> {
    // The last op on a key wins, as in one sled batch.
    let mut last: BTreeMap<(Tree, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
    for (tree, key, value) in batch.ops {
        last.insert((tree, key), value);
    }
    let (buckets, rest): (Vec<JournalOp>, Vec<JournalOp>) = last
        .into_iter()
        .map(|((tree, key), value)| JournalOp { tree, key, value })
        .partition(|o| o.tree == Tree::Buckets);
    if !buckets.is_empty() {
        apply(&store.pool, &store.ns, &store.node, &buckets)?;
    }
    if rest.is_empty() {
        return Ok(());
    }
    let field = format!("{}:{}", store.node, store.seq.fetch_add(1, Ordering::Relaxed));
    let record = JournalRecord { ops: rest };
    let jkey = journal_key(&store.ns);
    let bytes = record.encode();
    store
        .pool
        .write(|c| redis::cmd("HSET").arg(&jkey).arg(&field).arg(&bytes[..]).query::<()>(c))?;
    apply(&store.pool, &store.ns, &store.node, &record.ops)?;
    store
        .pool
        .write(|c| redis::cmd("HDEL").arg(&jkey).arg(&field).query::<()>(c))
}

/// Writes `ops` (distinct keys) partition by partition in one pipeline,
/// with a change entry per followed key, naming `origin` as the writer.
fn apply(pool: &Pool, ns: &str, origin: &str, ops: &[JournalOp]) -> Result<(), StoreError> {
    let mut puts: BTreeMap<String, Vec<&JournalOp>> = BTreeMap::new();
    let mut dels: BTreeMap<String, Vec<&JournalOp>> = BTreeMap::new();
    for o in ops {
        let k = partition_key(ns, o.tree, partition_of(o.tree, &o.key));
        match o.value {
            Some(_) => puts.entry(k).or_default().push(o),
            None => dels.entry(k).or_default().push(o),
        }
    }
    let mut pipe = redis::cluster::cluster_pipe();
    for (k, os) in &puts {
        let c = pipe.cmd("HSET").arg(k);
        for o in os {
            c.arg(&o.key[..]).arg(o.value.as_deref().unwrap_or_default());
        }
        pipe.ignore();
    }
    for (k, os) in &dels {
        let c = pipe.cmd("HDEL").arg(k);
        for o in os {
            c.arg(&o.key[..]);
        }
        pipe.ignore();
    }
    let ckey = changes_key(ns);
    for o in ops.iter().filter(|o| followed(o.tree)) {
        pipe.cmd("XADD")
            .arg(&ckey)
            .arg("MAXLEN")
            .arg("~")
            .arg(CHANGES_KEPT)
            .arg("*")
            .arg("o")
            .arg(origin)
            .arg("t")
            .arg(o.tree.name())
            .arg("k")
            .arg(&o.key[..])
            .ignore();
    }
    pool.write(|c| pipe.query::<()>(c))
}

/// Finishes the journaled batches of nodes whose heartbeat has expired.
/// Returns how many it finished.
pub(super) fn recover_dead(pool: &Arc<Pool>, ns: &str, me: &str, held: &lease::Held) -> Result<usize, StoreError> {
    let jkey = journal_key(ns);
    let fields: Vec<String> = pool.read(|c| redis::cmd("HKEYS").arg(&jkey).query(c))?;
    let mut dead = Vec::new();
    for f in fields {
        let node = f.rsplit_once(':').map_or(f.as_str(), |(n, _)| n).to_string();
        if node == me {
            continue;
        }
        let alive: bool = pool.read(|c| redis::cmd("EXISTS").arg(alive_key(ns, &node)).query(c))?;
        if !alive {
            dead.push(f);
        }
    }
    if dead.is_empty() {
        return Ok(0);
    }
    // Under the lease: nobody may write between the dead node's batch and
    // its completion.
    let Some(_lease) = lease::Lease::try_acquire(pool, ns, me, held)? else {
        return Ok(0);
    };
    let mut done = 0;
    for f in dead {
        let bytes: Option<Vec<u8>> = pool.read(|c| redis::cmd("HGET").arg(&jkey).arg(&f).query(c))?;
        if let Some(bytes) = bytes {
            match JournalRecord::decode(&bytes) {
                Ok(rec) => {
                    let origin = f.rsplit_once(':').map_or(f.as_str(), |(n, _)| n);
                    apply(pool, ns, origin, &rec.ops)?;
                    done += 1;
                }
                Err(e) => eprintln!("sonica: dropping unreadable journal entry {f}: {e}"),
            }
        }
        pool.write(|c| redis::cmd("HDEL").arg(&jkey).arg(&f).query::<()>(c))?;
    }
    Ok(done)
}

/// `flush`: when the masters have replicas, waits until one has every
/// write this process made (so a failover cannot lose an acknowledged
/// track). Without replicas the cluster's own persistence is all there is.
pub(super) fn wait_for_replicas(store: &RedisStore) -> Result<(), StoreError> {
    let info = store
        .pool
        .on_masters_with(redis::cmd("INFO").arg("replication"), true)?;
    let replicas: Vec<u64> = info
        .iter()
        .flat_map(|s| s.lines())
        .filter_map(|l| l.strip_prefix("connected_slaves:"))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    if replicas.is_empty() || replicas.contains(&0) {
        return Ok(());
    }
    let got = store.pool.write(|c| {
        c.route_command(
            redis::cmd("WAIT").arg(1).arg(WAIT_MS),
            redis::cluster_routing::RoutingInfo::MultiNode((
                redis::cluster_routing::MultipleNodeRoutingInfo::AllMasters,
                None,
            )),
        )
    })?;
    let mut counts = Vec::new();
    ints(&got, &mut counts);
    if counts.iter().any(|&n| n < 1) {
        return Err(StoreError::Backend(format!(
            "Redis Cluster: no replica acknowledged the last writes within {WAIT_MS} ms; they may be lost in a failover"
        )));
    }
    Ok(())
}

fn ints(v: &redis::Value, out: &mut Vec<i64>) {
    match v {
        redis::Value::Int(n) => out.push(*n),
        redis::Value::Array(a) | redis::Value::Set(a) => a.iter().for_each(|x| ints(x, out)),
        redis::Value::Map(m) => m.iter().for_each(|(_, x)| ints(x, out)),
        _ => {}
    }
}

/// The thread that keeps this node's heartbeat and lease alive and
/// finishes dead nodes' batches.
pub(crate) struct Heartbeat {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub(super) fn start(store: &RedisStore) -> Result<Heartbeat, StoreError> {
        let (pool, ns, node, held) = (
            store.pool.clone(),
            store.ns.clone(),
            store.node.clone(),
            store.held.clone(),
        );
        beat(&pool, &ns, &node, &held)?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sonica-redis-heartbeat".into())
            .spawn(move || loop {
                match rx.recv_timeout(BEAT) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if let Err(e) = beat(&pool, &ns, &node, &held) {
                    eprintln!("sonica: Redis Cluster heartbeat failed: {e}");
                    continue;
                }
                if let Err(e) = recover_dead(&pool, &ns, &node, &held) {
                    eprintln!("sonica: finishing a dead node's batch failed: {e}");
                }
            })
            .map_err(StoreError::Io)?;
        Ok(Heartbeat {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn beat(pool: &Arc<Pool>, ns: &str, node: &str, held: &Arc<Mutex<Option<String>>>) -> Result<(), StoreError> {
    pool.read(|c| {
        redis::cmd("SET")
            .arg(alive_key(ns, node))
            .arg(1)
            .arg("PX")
            .arg(ALIVE_MS)
            .query::<()>(c)
    })?;
    lease::renew(pool, ns, held)
}

impl RedisStore {
    /// Finishes batches dead nodes left half applied (at open).
    pub(super) fn recover(&self) -> Result<usize, StoreError> {
        recover_dead(&self.pool, &self.ns, &self.node, &self.held)
    }
}

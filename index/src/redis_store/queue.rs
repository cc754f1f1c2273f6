//! The job queue on a cluster: a Redis Stream read by one consumer group,
//! so any node's workers take jobs and a dead worker's jobs are taken
//! again.
//!
//! The job records stay in the `jobs` tree (status, attempts, errors); the
//! stream only says which ids wait. A worker [`take`](JobQueue::take)s an
//! entry, runs the job and [`ack`](JobQueue::ack)s it. While it runs, its
//! node [`touch`](JobQueue::touch_mine)es its entries every heartbeat; an
//! entry nobody touched for the lease is [`reclaim`](JobQueue::reclaim)ed
//! by another node: its worker died.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use sonica_schema::cluster_layout::queue_key;
use sonica_schema::TrackId;

use super::Pool;
use crate::StoreError;

const GROUP: &str = "workers";

/// One queued job as handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    /// The stream entry, to acknowledge when done.
    pub entry: String,
    pub id: TrackId,
}

#[derive(Clone)]
pub struct JobQueue {
    pool: Arc<Pool>,
    key: String,
    node: String,
}

impl JobQueue {
    pub(super) fn new(pool: Arc<Pool>, ns: &str, node: &str) -> JobQueue {
        JobQueue {
            pool,
            key: queue_key(ns),
            node: node.to_string(),
        }
    }

    /// Creates the stream and its group if they do not exist yet.
    pub fn ensure(&self) -> Result<(), StoreError> {
        self.pool.write(|c| {
            match redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&self.key)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query::<()>(c)
            {
                Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                other => other,
            }
        })
    }

    /// Queues job `id`.
    pub fn push(&self, id: TrackId) -> Result<String, StoreError> {
        self.pool
            .write(|c| redis::cmd("XADD").arg(&self.key).arg("*").arg("id").arg(id).query(c))
    }

    /// The next job nobody has taken, waiting up to `wait`.
    pub fn take(&self, wait: Duration) -> Result<Option<QueuedJob>, StoreError> {
        let block = wait.as_millis().clamp(1, 5_000) as u64;
        let v: Value = self.pool.read(|c| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&self.node)
                .arg("COUNT")
                .arg(1)
                .arg("BLOCK")
                .arg(block)
                .arg("STREAMS")
                .arg(&self.key)
                .arg(">")
                .query(c)
        })?;
        let mut found = Vec::new();
        entries(&v, &mut found);
        Ok(found.into_iter().next())
    }

    /// Marks a taken job done (finished, failed for good or cancelled).
    pub fn ack(&self, entry: &str) -> Result<(), StoreError> {
        self.pool.write(|c| {
            // A cluster pipeline: a plain one is refused by a cluster
            // connection. One key, so one node.
            redis::cluster::cluster_pipe()
                .cmd("XACK")
                .arg(&self.key)
                .arg(GROUP)
                .arg(entry)
                .ignore()
                .cmd("XDEL")
                .arg(&self.key)
                .arg(entry)
                .ignore()
                .query::<()>(c)
        })
    }

    /// Resets the idle time of every entry this node holds: its workers
    /// are alive.
    pub fn touch_mine(&self) -> Result<usize, StoreError> {
        let pending: Value = self.pool.read(|c| {
            redis::cmd("XPENDING")
                .arg(&self.key)
                .arg(GROUP)
                .arg("-")
                .arg("+")
                .arg(1000)
                .arg(&self.node)
                .query(c)
        })?;
        let ids: Vec<String> = match &pending {
            Value::Array(rows) => rows
                .iter()
                .filter_map(|r| match r {
                    Value::Array(f) => text(f.first()?),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if ids.is_empty() {
            return Ok(0);
        }
        self.pool.write(|c| {
            redis::cmd("XCLAIM")
                .arg(&self.key)
                .arg(GROUP)
                .arg(&self.node)
                .arg(0)
                .arg(&ids)
                .arg("JUSTID")
                .query::<Value>(c)
        })?;
        Ok(ids.len())
    }

    /// Takes over entries idle for `min_idle`: their worker's node died.
    pub fn reclaim(&self, min_idle: Duration) -> Result<Vec<QueuedJob>, StoreError> {
        let v: Value = self.pool.write(|c| {
            redis::cmd("XAUTOCLAIM")
                .arg(&self.key)
                .arg(GROUP)
                .arg(&self.node)
                .arg(min_idle.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(100)
                .query(c)
        })?;
        let mut found = Vec::new();
        if let Value::Array(parts) = &v {
            if let Some(list) = parts.get(1) {
                entry_list(list, &mut found);
            }
        }
        Ok(found)
    }

    /// Entries queued or taken and not acknowledged.
    pub fn len(&self) -> Result<usize, StoreError> {
        self.pool.read(|c| redis::cmd("XLEN").arg(&self.key).query(c))
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Entries of an XREADGROUP reply: `[[stream, [[id, [field, value…]]…]]]`
/// (or a map of stream to entries under RESP3).
fn entries(v: &Value, out: &mut Vec<QueuedJob>) {
    match v {
        Value::Array(streams) => {
            for s in streams {
                if let Value::Array(pair) = s {
                    if let Some(list) = pair.get(1) {
                        entry_list(list, out);
                    }
                }
            }
        }
        Value::Map(m) => m.iter().for_each(|(_, list)| entry_list(list, out)),
        _ => {}
    }
}

/// `[[id, [field, value…]]…]`; a deleted entry has no fields and is skipped.
fn entry_list(v: &Value, out: &mut Vec<QueuedJob>) {
    let Value::Array(items) = v else { return };
    for item in items {
        let Value::Array(pair) = item else { continue };
        let (Some(entry), Some(Value::Array(fields))) = (pair.first().and_then(text), pair.get(1)) else {
            continue;
        };
        let id = fields
            .chunks(2)
            .find(|f| f.len() == 2 && text(&f[0]).as_deref() == Some("id"))
            .and_then(|f| text(&f[1]))
            .and_then(|s| s.parse::<TrackId>().ok());
        if let Some(id) = id {
            out.push(QueuedJob { entry, id });
        }
    }
}

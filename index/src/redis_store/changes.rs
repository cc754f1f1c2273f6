//! The change stream: how a node learns what other nodes added, removed,
//! compacted or re-analysed, to keep its in-memory tiers and its own text
//! and vector indexes in step with the shared records.
//!
//! Entries name a tree and a key only; the follower reads the current
//! record from the store, so entries can be replayed or skipped safely.
//! The stream is capped ([`CHANGES_KEPT`](super::commit::CHANGES_KEPT)):
//! a node further behind than that is told it `lost` its place and
//! re-reads every record.

use std::time::Duration;

use redis::streams::StreamReadReply;
use redis::Value;
use sonica_schema::cluster_layout::changes_key;
use sonica_schema::Tree;

use super::RedisStore;
use crate::store::{Change, Changes};
use crate::StoreError;

/// Entries read per call.
const READ_COUNT: usize = 1_000;
/// The position before every entry.
const START: &str = "0-0";

/// The id of the newest entry, or the start when there is none.
pub(super) fn cursor(store: &RedisStore) -> Result<String, StoreError> {
    let key = changes_key(&store.ns);
    let last: Vec<(String, Value)> = store.pool.read(|c| {
        redis::cmd("XREVRANGE")
            .arg(&key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(c)
    })?;
    Ok(last.into_iter().next().map_or_else(|| START.to_string(), |(id, _)| id))
}

/// Entries after `cursor` written by other nodes, waiting up to `wait`.
pub(super) fn read(store: &RedisStore, cursor: &str, wait: Duration) -> Result<Changes, StoreError> {
    let key = changes_key(&store.ns);
    let cursor = if cursor.is_empty() { START } else { cursor };
    let lost = trimmed_past(store, &key, cursor)?;
    let block = wait.as_millis().clamp(1, 5_000) as u64;
    let reply: Option<StreamReadReply> = store.pool.read(|c| {
        redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(&key)
            .arg(cursor)
            .query(c)
    })?;
    let mut out = Changes {
        changes: Vec::new(),
        cursor: cursor.to_string(),
        lost,
    };
    for sk in reply.map(|r| r.keys).unwrap_or_default() {
        for entry in sk.ids {
            out.cursor = entry.id.clone();
            let field = |name: &str| -> Option<Vec<u8>> {
                match entry.map.get(name) {
                    Some(Value::BulkString(b)) => Some(b.clone()),
                    _ => None,
                }
            };
            if field("o").as_deref() == Some(store.node.as_bytes()) {
                continue;
            }
            let tree = field("t").and_then(|t| Tree::ALL.into_iter().find(|tr| tr.name().as_bytes() == t.as_slice()));
            if let (Some(tree), Some(key)) = (tree, field("k")) {
                out.changes.push(Change { tree, key });
            }
        }
    }
    Ok(out)
}

/// Whether entries after `cursor` have been trimmed away.
fn trimmed_past(store: &RedisStore, key: &str, cursor: &str) -> Result<bool, StoreError> {
    let info: Value = match store.pool.read(|c| redis::cmd("XINFO").arg("STREAM").arg(key).query(c)) {
        Ok(v) => v,
        // No stream yet: nothing was ever written, nothing lost.
        Err(_) => return Ok(false),
    };
    let deleted = field_text(&info, "max-deleted-entry-id").unwrap_or_else(|| START.to_string());
    Ok(stream_id(&deleted) > stream_id(cursor))
}

fn field_text(v: &Value, name: &str) -> Option<String> {
    let text = |x: &Value| match x {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    match v {
        Value::Array(a) => a
            .chunks(2)
            .find(|p| p.len() == 2 && text(&p[0]).as_deref() == Some(name))
            .and_then(|p| text(&p[1])),
        Value::Map(m) => m
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some(name))
            .and_then(|(_, x)| text(x)),
        _ => None,
    }
}

/// A stream id as (milliseconds, sequence), for ordering.
fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_numerically() {
        assert!(stream_id("10-0") > stream_id("9-5"));
        assert!(stream_id("10-10") > stream_id("10-9"));
        assert_eq!(stream_id("0-0"), (0, 0));
    }
}

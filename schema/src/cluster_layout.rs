//! How the trees of [`crate::layout`] are laid out on Redis Cluster, and
//! the journal record that makes a multi-slot batch all-or-nothing.
//!
//! | Redis key                     | type   | holds |
//! |-------------------------------|--------|-------|
//! | `{ns}:{tree.p}`               | hash   | partition `p` of a tree: field = the tree's key, value = its value |
//! | `{ns}:{journal}:batches`      | hash   | field = `node:seq`, value = a [`JournalRecord`]: a batch being applied |
//! | `{ns}:{journal}:alive:node`   | string | a node's heartbeat (expires): its journal entries are its own to finish |
//! | `{ns}:{lock}:writer`          | string | the writer lease: a random token, expiring |
//! | `{ns}:{changes}`              | stream | one entry per changed track record or analysis: `o` origin node, `t` tree, `k` key |
//! | `{ns}:{jobs}:queue`           | stream | one entry per queued job: `id`; consumer group `workers` |
//!
//! A tree's partition is `fnv1a(key) % partitions(tree)`. The braces are
//! Redis hash tags: every field of a partition lives in one slot, and the
//! partitions of a tree spread over all slots and so over all masters.
//! Buckets get the most partitions: they are most of the bytes and all of
//! the lookups, and one bucket is one hash field read by `HMGET`.

use crate::layout::Tree;
use crate::SchemaError;

/// Partitions of a tree.
pub fn partitions(tree: Tree) -> u32 {
    match tree {
        Tree::Buckets => 1024,
        Tree::Peaks | Tree::Analysis | Tree::Chromaprints | Tree::Waveforms => 256,
        Tree::Tracks | Tree::Paths | Tree::Digests | Tree::Plays | Tree::Deliveries | Tree::Outbox => 64,
        _ => 16,
    }
}

/// FNV-1a, 32 bits: stable across builds and platforms (the partition of
/// a stored key must never move).
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The partition `key` of `tree` lives in.
pub fn partition_of(tree: Tree, key: &[u8]) -> u32 {
    fnv1a(key) % partitions(tree)
}

/// The Redis key of partition `p` of `tree` under namespace `ns`.
pub fn partition_key(ns: &str, tree: Tree, p: u32) -> String {
    format!("{ns}:{{{}.{p}}}", tree.name())
}

pub fn journal_key(ns: &str) -> String {
    format!("{ns}:{{journal}}:batches")
}

pub fn alive_key(ns: &str, node: &str) -> String {
    format!("{ns}:{{journal}}:alive:{node}")
}

pub fn lease_key(ns: &str) -> String {
    format!("{ns}:{{lock}}:writer")
}

pub fn changes_key(ns: &str) -> String {
    format!("{ns}:{{changes}}")
}

pub fn queue_key(ns: &str) -> String {
    format!("{ns}:{{jobs}}:queue")
}

/// One op of a journaled batch: `value` `None` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOp {
    pub tree: Tree,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A batch written to the journal before its ops are applied, so that a
/// writer killed half way is finished by whoever finds its entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JournalRecord {
    pub ops: Vec<JournalOp>,
}

const JOURNAL_MAGIC: &[u8; 4] = b"SJB1";

impl JournalRecord {
    /// `SJB1`, op count (u32 LE), then per op: tree index (u8), key length
    /// (u32 LE), key, present (u8), value length (u32 LE), value.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self
            .ops
            .iter()
            .map(|o| 10 + o.key.len() + o.value.as_ref().map_or(0, Vec::len))
            .sum();
        let mut out = Vec::with_capacity(8 + size);
        out.extend_from_slice(JOURNAL_MAGIC);
        out.extend_from_slice(&(self.ops.len() as u32).to_le_bytes());
        for o in &self.ops {
            out.push(o.tree.index() as u8);
            out.extend_from_slice(&(o.key.len() as u32).to_le_bytes());
            out.extend_from_slice(&o.key);
            match &o.value {
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    out.extend_from_slice(v);
                }
                None => out.push(0),
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<JournalRecord, SchemaError> {
        let bad = |why: &str| SchemaError::corrupt("journal record", why.to_string());
        let mut r = Reader { bytes, at: 0 };
        if r.take(4).ok_or_else(|| bad("truncated header"))? != JOURNAL_MAGIC {
            return Err(bad("not a journal record"));
        }
        let n = r.u32().ok_or_else(|| bad("truncated count"))? as usize;
        // Every op takes at least 6 bytes: a count beyond that is a lie.
        if n > bytes.len() / 6 {
            return Err(bad("op count larger than the record"));
        }
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            let t = r.take(1).ok_or_else(|| bad("truncated op"))?[0] as usize;
            let tree = *Tree::ALL.get(t).ok_or_else(|| bad("unknown tree"))?;
            let klen = r.u32().ok_or_else(|| bad("truncated key length"))? as usize;
            let key = r.take(klen).ok_or_else(|| bad("truncated key"))?.to_vec();
            let value = match r.take(1).ok_or_else(|| bad("truncated op"))?[0] {
                0 => None,
                1 => {
                    let vlen = r.u32().ok_or_else(|| bad("truncated value length"))? as usize;
                    Some(r.take(vlen).ok_or_else(|| bad("truncated value"))?.to_vec())
                }
                _ => return Err(bad("bad presence flag")),
            };
            ops.push(JournalOp { tree, key, value });
        }
        if r.at != bytes.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(JournalRecord { ops })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trips_and_refuses_damage() {
        let rec = JournalRecord {
            ops: vec![
                JournalOp {
                    tree: Tree::Tracks,
                    key: vec![0, 0, 0, 7],
                    value: Some(b"{}".to_vec()),
                },
                JournalOp {
                    tree: Tree::Paths,
                    key: b"a/b.wav".to_vec(),
                    value: None,
                },
            ],
        };
        let bytes = rec.encode();
        assert_eq!(JournalRecord::decode(&bytes).unwrap(), rec);
        for cut in 0..bytes.len() {
            assert!(JournalRecord::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut lie = bytes.clone();
        lie[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(JournalRecord::decode(&lie).is_err());
        let mut tree = bytes.clone();
        tree[8] = 200;
        assert!(JournalRecord::decode(&tree).is_err());
    }

    /// Anyone with access to the cluster can write the journal: whatever
    /// bytes are there decode to a record or an error, never a panic or a
    /// huge allocation.
    #[test]
    fn hostile_journal_bytes_are_refused_not_trusted() {
        let good = JournalRecord {
            ops: vec![JournalOp {
                tree: Tree::Buckets,
                key: vec![1, 2, 3, 4],
                value: Some(vec![9; 40]),
            }],
        }
        .encode();
        let mut x = 0x2545_f491_u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..20_000 {
            let mut bytes = if round % 2 == 0 { good.clone() } else { b"SJB1".to_vec() };
            for _ in 0..(next() % 6) {
                let at = next() as usize % (bytes.len() + 1);
                match next() % 3 {
                    0 if at < bytes.len() => bytes[at] = next() as u8,
                    1 => bytes.insert(at, next() as u8),
                    _ => bytes.extend_from_slice(&next().to_le_bytes()),
                }
            }
            if let Ok(rec) = JournalRecord::decode(&bytes) {
                assert_eq!(rec.encode(), bytes, "a record decodes only from its own encoding");
            }
        }
    }

    #[test]
    fn partitions_are_stable_and_spread() {
        // Pinned: a changed hash would strand every stored key.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        let mut seen = std::collections::HashSet::new();
        for b in 0u32..20_000 {
            seen.insert(partition_of(Tree::Buckets, &b.to_be_bytes()));
        }
        assert_eq!(seen.len(), partitions(Tree::Buckets) as usize);
        assert_eq!(partition_key("sonica", Tree::Tracks, 3), "sonica:{tracks.3}");
    }
}

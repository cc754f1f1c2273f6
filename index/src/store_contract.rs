//! One set of store tests, run on every backend: memory, sled and Redis
//! Cluster (a real one, started here; skipped with a message when
//! `redis-server` is not installed). What the index relies on is checked
//! through the trait, then a whole library is driven through each.

use std::sync::{Arc, OnceLock};

use sonica_schema::Tree;

use crate::store::{Batch, KvStore};
use crate::{FingerprintIndex, Hasher, MemStore, NewTrack, QueryHash, RedisStore, SledStore, Votes};

#[path = "../../tests/support/redis_cluster.rs"]
mod redis_cluster;

use redis_cluster::RedisCluster;

/// One cluster for every test of this binary; each test takes its own
/// namespace.
fn cluster() -> Option<&'static RedisCluster> {
    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    CLUSTER.get_or_init(|| RedisCluster::start(3, 0)).as_ref()
}

fn redis(test: &str) -> Option<Arc<dyn KvStore>> {
    let c = cluster()?;
    let ns = format!("t-{test}-{}", std::process::id());
    Some(Arc::new(
        RedisStore::open(&c.urls(), &ns).expect("open the Redis store"),
    ))
}

/// Every backend, named, each empty.
fn backends(test: &str) -> Vec<(&'static str, Arc<dyn KvStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sled: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.path().join("s")).unwrap());
    let mut out: Vec<(&'static str, Arc<dyn KvStore>, Option<tempfile::TempDir>)> =
        vec![("memory", Arc::new(MemStore::new()), None), ("sled", sled, Some(dir))];
    if let Some(r) = redis(test) {
        out.push(("redis", r, None));
    }
    out
}

fn all(store: &dyn KvStore, tree: Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan(tree).map(|e| e.unwrap()).collect()
}

#[test]
fn every_backend_keeps_the_kv_contract() {
    for (name, s, _dir) in backends("kv") {
        let mut b = Batch::new();
        for i in [5u32, 1, 3, 200, 70_000] {
            b.put(Tree::Tracks, i.to_be_bytes(), format!("v{i}"));
        }
        // Binary keys, braces included (Redis hash-tag characters).
        b.put(Tree::Paths, b"{a}/b\0c".to_vec(), b"x".to_vec());
        b.put(Tree::Peaks, 9u32.to_be_bytes(), b"first".to_vec());
        b.put(Tree::Peaks, 9u32.to_be_bytes(), b"last".to_vec());
        b.put(Tree::Peaks, 8u32.to_be_bytes(), b"gone".to_vec());
        b.remove(Tree::Peaks, 8u32.to_be_bytes());
        s.commit(b).unwrap();
        s.flush().unwrap();

        let keys: Vec<u32> = all(&*s, Tree::Tracks)
            .iter()
            .map(|(k, _)| u32::from_be_bytes(k[..].try_into().unwrap()))
            .collect();
        assert_eq!(keys, [1, 3, 5, 200, 70_000], "{name}: scan in key order");
        assert_eq!(
            s.get(Tree::Peaks, &9u32.to_be_bytes()).unwrap().as_deref(),
            Some(&b"last"[..]),
            "{name}"
        );
        assert_eq!(
            s.get(Tree::Peaks, &8u32.to_be_bytes()).unwrap(),
            None,
            "{name}: last op wins"
        );
        assert_eq!(
            s.get(Tree::Paths, b"{a}/b\0c").unwrap().as_deref(),
            Some(&b"x"[..]),
            "{name}"
        );
        assert_eq!(s.len(Tree::Tracks).unwrap(), 5, "{name}");
        assert_eq!(s.len(Tree::Jobs).unwrap(), 0, "{name}");
        let range: Vec<u32> = s
            .scan_range(Tree::Tracks, &3u32.to_be_bytes(), &200u32.to_be_bytes())
            .map(|e| u32::from_be_bytes(e.unwrap().0[..].try_into().unwrap()))
            .collect();
        assert_eq!(range, [3, 5], "{name}: range is [from, to)");
        let many = s
            .get_many(
                Tree::Tracks,
                &[
                    5u32.to_be_bytes().to_vec(),
                    4u32.to_be_bytes().to_vec(),
                    1u32.to_be_bytes().to_vec(),
                ],
            )
            .unwrap();
        assert_eq!(
            many,
            [Some(b"v5".to_vec()), None, Some(b"v1".to_vec())],
            "{name}: get_many in order"
        );

        let mut b = Batch::new();
        b.remove(Tree::Tracks, 3u32.to_be_bytes());
        b.put(Tree::Tracks, 1u32.to_be_bytes(), b"new".to_vec());
        s.commit(b).unwrap();
        s.commit(Batch::new()).unwrap();
        assert_eq!(s.len(Tree::Tracks).unwrap(), 4, "{name}");
        assert_eq!(
            s.get(Tree::Tracks, &1u32.to_be_bytes()).unwrap().as_deref(),
            Some(&b"new"[..]),
            "{name}"
        );
        assert!(s.logical_bytes(Tree::Tracks).unwrap() > 0, "{name}");
    }
}

fn hasher() -> Hasher {
    crate::test_support::pair_hasher()
}

fn track(path: &str, seed: u32) -> NewTrack {
    crate::test_support::new_track(path, crate::test_support::random_peaks(seed, 300, 2), &hasher())
}

fn best(idx: &FingerprintIndex, t: &NewTrack) -> Option<u32> {
    let q: Vec<QueryHash> = t.hashes[40..140]
        .iter()
        .map(|&(hash, time)| QueryHash {
            hash,
            time: time as f32,
        })
        .collect();
    let mut v = Votes::new();
    idx.lookup(&q, &mut v).unwrap();
    v.candidates(1).first().filter(|c| c.count >= 90).map(|c| c.track)
}

#[test]
fn a_library_answers_the_same_on_every_backend() {
    for (name, s, _dir) in backends("library") {
        let idx = FingerprintIndex::open(s.clone(), hasher()).unwrap();
        let mut ids = Vec::new();
        for i in 0..12 {
            let t = track(&format!("t{i}.wav"), i + 1);
            ids.push((idx.add(t.clone()).unwrap().id, t));
        }
        for (id, t) in &ids {
            assert_eq!(best(&idx, t), Some(*id), "{name}: fresh tier");
        }
        idx.compact().unwrap();
        let late = track("late.wav", 77);
        let late_id = idx.add(late.clone()).unwrap().id;
        idx.remove(ids[0].0).unwrap();
        idx.flush().unwrap();
        let reopened = FingerprintIndex::open(s.clone(), hasher()).unwrap();
        for idx in [&idx, &reopened] {
            assert_eq!(best(idx, &ids[0].1), None, "{name}: a removed track is gone");
            for (id, t) in &ids[1..] {
                assert_eq!(best(idx, t), Some(*id), "{name}: compacted tier");
            }
            assert_eq!(best(idx, &late), Some(late_id), "{name}: fresh beside compacted");
        }
        // The purge compaction drops the removed track's postings.
        reopened.compact().unwrap();
        assert_eq!(best(&reopened, &ids[0].1), None, "{name}");
        assert_eq!(reopened.len(), 12, "{name}");
    }
}

/// Two processes' worth of indexes on one cluster: what one adds, removes
/// or compacts, the other learns from the change stream.
#[test]
fn a_second_node_follows_the_first() {
    // Two stores on one namespace: two nodes.
    let (Some(a), Some(b_store)) = (redis("follow"), redis("follow")) else {
        return;
    };
    let cursor = a.change_cursor().unwrap();
    let node_a = Arc::new(FingerprintIndex::open(a.clone(), hasher()).unwrap());
    node_a.follow_from(cursor).unwrap();
    let cursor = b_store.change_cursor().unwrap();
    let node_b = Arc::new(FingerprintIndex::open(b_store.clone(), hasher()).unwrap());
    node_b.follow_from(cursor).unwrap();

    let t1 = track("one.wav", 5);
    let t2 = track("two.wav", 6);
    let id1 = node_a.add(t1.clone()).unwrap().id;
    node_a.flush().unwrap();
    node_b.catch_up().unwrap();
    assert_eq!(best(&node_b, &t1), Some(id1), "added on A, found on B");

    // B writes too: its id must not collide with A's.
    let id2 = node_b.add(t2.clone()).unwrap().id;
    assert_ne!(id1, id2);
    node_a.catch_up().unwrap();
    assert_eq!(best(&node_a, &t2), Some(id2), "added on B, found on A");

    // A compacts both; B still answers (from the buckets now).
    node_a.compact().unwrap();
    node_b.catch_up().unwrap();
    assert_eq!(node_b.fresh_postings(), 0, "B moved them out of its fresh tier");
    assert_eq!(best(&node_b, &t1), Some(id1));
    assert_eq!(best(&node_b, &t2), Some(id2));

    // B removes; A forgets.
    node_b.remove(id1).unwrap();
    node_a.catch_up().unwrap();
    assert_eq!(best(&node_a, &t1), None);
    assert_eq!(node_a.len(), 1);
}

/// A writer killed between its journal entry and the end of applying it:
/// the next node to open (or any live node's heartbeat) finishes the batch.
#[test]
fn a_dead_writers_half_batch_is_finished() {
    use sonica_schema::cluster_layout::{journal_key, JournalOp, JournalRecord};
    let Some(c) = cluster() else { return };
    let ns = format!("t-journal-{}", std::process::id());
    let rec = JournalRecord {
        ops: vec![
            JournalOp {
                tree: Tree::Tracks,
                key: 7u32.to_be_bytes().to_vec(),
                value: Some(b"rec".to_vec()),
            },
            JournalOp {
                tree: Tree::Peaks,
                key: 7u32.to_be_bytes().to_vec(),
                value: Some(b"peaks".to_vec()),
            },
        ],
    };
    // Only the journal entry landed, from a node with no heartbeat.
    let out = std::process::Command::new("redis-cli")
        .args([
            "-c",
            "-p",
            &c.ports[0].to_string(),
            "-x",
            "HSET",
            &journal_key(&ns),
            "ghost-1:0",
        ])
        .stdin({
            let mut f = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut f, &rec.encode()).unwrap();
            std::io::Seek::rewind(&mut f).unwrap();
            f
        })
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = RedisStore::open(&c.urls(), &ns).unwrap();
    assert_eq!(
        s.get(Tree::Tracks, &7u32.to_be_bytes()).unwrap().as_deref(),
        Some(&b"rec"[..])
    );
    assert_eq!(
        s.get(Tree::Peaks, &7u32.to_be_bytes()).unwrap().as_deref(),
        Some(&b"peaks"[..])
    );
    let left = redis_cluster::cli(c.ports[0], &["-c", "HLEN", &journal_key(&ns)]);
    assert_eq!(left.trim(), "0", "the journal entry is gone once applied");
}

//! Rebuild, verify and record updates on small in-memory libraries.

use std::sync::Arc;

use sonica_schema::layout::{bucket_key, track_key};
use sonica_schema::{Tier, Tree};

use super::rebuild::Step;
use super::{verify, Problem, RebuildOptions, VerifyOptions};
use crate::{Batch, FingerprintIndex, Hasher, IndexedIds, KvStore, MemStore, NewTrack, QueryHash, Votes};

fn hasher() -> Hasher {
    crate::test_support::pair_hasher()
}

fn open(store: Arc<dyn KvStore>) -> FingerprintIndex {
    FingerprintIndex::open(store, hasher()).unwrap()
}

fn track(path: &str, seed: u32) -> NewTrack {
    let mut t = crate::test_support::new_track(path, crate::test_support::random_peaks(seed, 300, 2), &hasher());
    t.record.sha256 = Some(format!("{seed:064x}"));
    t
}

/// The track that a slice of `t`'s hashes votes for, with its count.
fn best(idx: &FingerprintIndex, t: &NewTrack) -> Option<(u32, u32)> {
    let q: Vec<QueryHash> = t.hashes[40..140]
        .iter()
        .map(|&(hash, time)| QueryHash {
            hash,
            time: time as f32,
        })
        .collect();
    let mut v = Votes::new();
    idx.lookup(&q, &mut v).unwrap();
    v.candidates(1).first().map(|c| (c.track, c.count))
}

/// A library of `n` tracks, compacted, with one more removed (tombstoned).
fn library(store: Arc<dyn KvStore>, n: u32) -> (FingerprintIndex, Vec<(u32, NewTrack)>) {
    let idx = open(store);
    let mut tracks = Vec::new();
    for s in 0..n {
        let t = track(&format!("t{s}.wav"), s + 1);
        let r = idx.add(t.clone()).unwrap();
        tracks.push((r.id, t));
    }
    let gone = idx.add(track("gone.wav", 999)).unwrap();
    idx.compact().unwrap();
    idx.remove(gone.id).unwrap();
    (idx, tracks)
}

fn assert_answers(idx: &FingerprintIndex, tracks: &[(u32, NewTrack)]) {
    for (id, t) in tracks {
        let (got, count) = best(idx, t).expect("an answer");
        assert_eq!(got, *id);
        assert!(count >= 90, "track {id}: {count} votes");
    }
}

fn clean(idx: &FingerprintIndex) -> bool {
    let r = verify(idx, None, &VerifyOptions::default()).unwrap();
    assert!(r.consistent == r.counts.is_empty());
    if !r.consistent {
        eprintln!("{:#?}", r.differences);
    }
    r.consistent
}

#[test]
fn rebuild_after_losing_every_bucket() {
    let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let (idx, tracks) = library(store.clone(), 6);
    assert!(clean(&idx), "a compacted library with a tombstone verifies clean");
    let before: Vec<_> = store.scan(Tree::Buckets).map(|e| e.unwrap()).collect();
    let mut b = Batch::new();
    for (k, _) in &before {
        b.remove(Tree::Buckets, k.clone());
    }
    store.commit(b).unwrap();
    let r = verify(&idx, None, &VerifyOptions::default()).unwrap();
    assert!(r.counts[&Problem::MissingPostings] > 0);
    assert!(r.counts.contains_key(&Problem::MissingPostings));
    // A small budget forces several passes; the blocks come out identical
    // to the ones compaction wrote (less the deleted track's postings).
    let rep = idx
        .rebuild_hash_tiers(&RebuildOptions { postings_per_pass: 500 })
        .unwrap();
    assert!(rep.passes > 2, "{rep:?}");
    assert_eq!(rep.tracks, 6);
    assert_eq!(rep.tombstones_cleared, 1);
    assert!(clean(&idx));
    assert_answers(&idx, &tracks);
    let again = open(store.clone());
    assert_answers(&again, &tracks);
    assert_eq!(again.stats().unwrap().fresh_tracks, 0);
    let after: Vec<_> = store.scan(Tree::Buckets).map(|e| e.unwrap()).collect();
    let one_pass = Arc::new(MemStore::new());
    let (other, _) = library(one_pass.clone(), 6);
    other.compact().unwrap(); // purges the removed track
    let compacted: Vec<_> = one_pass.scan(Tree::Buckets).map(|e| e.unwrap()).collect();
    assert_eq!(after, compacted);
}

#[test]
fn a_rebuild_killed_at_any_step_leaves_a_store_that_answers_and_a_rerun_finishes() {
    for stop in [Step::ToFresh, Step::Dropped, Step::Written] {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let (idx, tracks) = library(store.clone(), 4);
        idx.rebuild_until(&RebuildOptions::default(), stop).unwrap();
        drop(idx); // the kill: only what reached the store remains
        let idx = open(store.clone());
        assert_answers(&idx, &tracks);
        assert!(clean(&idx), "stopped after {stop:?}");
        idx.rebuild_hash_tiers(&RebuildOptions::default()).unwrap();
        assert_answers(&idx, &tracks);
        assert_eq!(idx.stats().unwrap().fresh_tracks, 0);
        assert!(clean(&idx));
    }
}

#[test]
fn tracks_without_peaks_are_left_alone() {
    let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let (idx, tracks) = library(store.clone(), 3);
    let lost = tracks[0].0;
    let mut b = Batch::new();
    b.remove(Tree::Peaks, track_key(lost));
    store.commit(b).unwrap();
    let rep = idx.rebuild_hash_tiers(&RebuildOptions::default()).unwrap();
    assert_eq!(rep.unreadable_peaks, vec![lost]);
    assert_eq!(idx.get(lost).unwrap().unwrap().tier, Tier::Compacted);
    assert_answers(&idx, &tracks[1..]);
    let r = verify(&idx, None, &VerifyOptions::default()).unwrap();
    assert_eq!(r.counts.get(&Problem::MissingPeaks), Some(&1));
    assert!(r.differences[0].message.contains(&format!("track {lost}")));
    // The store still opens: the track is not fresh, so nothing is derived.
    open(store);
}

#[test]
fn verify_names_planted_differences() {
    let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let (idx, tracks) = library(store.clone(), 3);
    let (a, b) = (tracks[0].0, tracks[1].0);
    let mut batch = Batch::new();
    batch.put(Tree::Paths, &b"ghost.wav"[..], track_key(4242));
    batch.remove(Tree::Paths, &b"t1.wav"[..]);
    batch.put(Tree::Digests, [7u8; 32], track_key(a));
    let c_sha = tracks[2].1.record.sha256.as_deref().unwrap();
    batch.remove(Tree::Digests, sonica_schema::duplicate::parse_sha256(c_sha).unwrap());
    batch.put(Tree::Analysis, track_key(777), &b"{}"[..]);
    // Postings of a track that never existed and has no tombstone.
    let orphan = sonica_schema::Posting {
        hash: 5,
        track: 31337,
        time: 1,
    };
    batch.put(Tree::Buckets, bucket_key(0), sonica_schema::postings::encode(&[orphan]));
    store.commit(batch).unwrap();
    // One of b's buckets, gone.
    let b_bucket = sonica_schema::layout::bucket_of(tracks[1].1.hashes[0].0);
    let mut batch = Batch::new();
    batch.remove(Tree::Buckets, bucket_key(b_bucket));
    store.commit(batch).unwrap();
    let music = IndexedIds {
        text: vec![a, b, 9999],
        ..IndexedIds::default()
    };
    let r = verify(&idx, Some(&music), &VerifyOptions::default()).unwrap();
    assert!(!r.consistent);
    let find = |p: Problem| -> Vec<&str> {
        r.differences
            .iter()
            .filter(|d| d.problem == p)
            .map(|d| d.message.as_str())
            .collect()
    };
    assert!(find(Problem::DanglingPath)[0].contains("ghost.wav"), "{r:#?}");
    assert!(find(Problem::MissingPath)[0].contains("t1.wav"));
    assert_eq!(find(Problem::DigestMismatch).len(), 1);
    assert!(find(Problem::MissingDigest)[0].contains("t2.wav"), "{r:#?}");
    assert!(find(Problem::OrphanAnalysis)[0].contains("777"));
    assert!(find(Problem::OrphanPostings)[0].contains("31337"));
    assert!(find(Problem::MissingPostings)
        .iter()
        .any(|m| m.contains(&format!("bucket {b_bucket} is missing"))));
    assert!(find(Problem::StaleText)[0].contains("9999"));
    assert_eq!(r.counts[&Problem::MissingText], 1, "the third track");
    assert!(!r.counts.contains_key(&Problem::MissingVector), "no track is analysed");
}

#[test]
fn update_record_keeps_index_fields_and_moves_the_digest() {
    let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let (idx, tracks) = library(store.clone(), 2);
    let id = tracks[0].0;
    let mut r = idx.get(id).unwrap().unwrap();
    let old_sha = sonica_schema::duplicate::parse_sha256(r.sha256.as_deref().unwrap()).unwrap();
    r.file_len = Some(12345);
    r.file_mtime_ms = Some(678);
    r.tier = Tier::Fresh; // ignored: the index owns the tier
    r.path = "elsewhere.wav".into(); // ignored too
    r.sha256 = Some(format!("{:064x}", 4242));
    let stored = idx.update_record(&r).unwrap();
    assert_eq!(stored.tier, Tier::Compacted);
    assert_eq!(stored.path, "t0.wav");
    assert_eq!(idx.get(id).unwrap().unwrap(), stored);
    assert_eq!(stored.file_len, Some(12345));
    assert_eq!(idx.id_by_digest(&old_sha).unwrap(), None);
    let new_sha = sonica_schema::duplicate::parse_sha256(stored.sha256.as_deref().unwrap()).unwrap();
    assert_eq!(idx.id_by_digest(&new_sha).unwrap(), Some(id));
    assert_answers(&idx, &tracks);
    assert!(clean(&idx));
    assert!(idx
        .update_record(&crate::test_support::record(999, "x", Tier::Fresh))
        .is_err());
}

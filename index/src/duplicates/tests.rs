//! The finder and admission on synthetic constellations: every kind, the
//! policies, exclusion of a replaced track, and removal of links.

use std::sync::Arc;

use sonica_schema::{DuplicateKind, OnDuplicate, Peak};

use super::*;
use crate::fingerprints::{Hasher, NewTrack};
use crate::MemStore;

/// A stand-in pairing rule: each peak with the next three.
fn hasher() -> Hasher {
    Arc::new(|peaks: &[Peak]| {
        let mut out = Vec::new();
        for (i, a) in peaks.iter().enumerate() {
            for b in peaks.iter().skip(i + 1).take(3) {
                let dt = b.time - a.time;
                out.push((
                    ((u32::from(a.freq16) >> 4) << 20) ^ ((u32::from(b.freq16) >> 4) << 8) ^ dt,
                    a.time,
                ));
            }
        }
        out
    })
}

fn index() -> FingerprintIndex {
    FingerprintIndex::open(Arc::new(MemStore::new()), hasher()).unwrap()
}

/// `secs` seconds of a pseudo-random constellation at 62.5 frames/s, about
/// 30 peaks a second.
fn music(seed: u64, secs: u32) -> Vec<Peak> {
    let mut s = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for t in (0..secs * 62).step_by(2) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.push(Peak {
            time: t,
            freq16: 320 + (s % 7000) as u16,
        });
    }
    out
}

fn track(path: &str, mut peaks: Vec<Peak>, sha: Option<&str>) -> NewTrack {
    peaks.sort_unstable();
    let mut t = crate::test_support::new_track(path, peaks, &hasher());
    t.record.sha256 = sha.map(str::to_string);
    t
}

/// Keeps about `keep` of the peaks (a lossy re-encoding) and shifts them.
fn degrade(p: &[Peak], keep: u64, shift: u32) -> Vec<Peak> {
    p.iter()
        .enumerate()
        .filter(|(i, _)| (*i as u64 * 2654435761) % 100 < keep)
        .map(|(_, q)| Peak {
            time: q.time + shift,
            freq16: q.freq16 + 3,
        })
        .collect()
}

fn params() -> DuplicateParams {
    DuplicateParams::new(62.5)
}

const SHA_A: &str = "aa00000000000000000000000000000000000000000000000000000000000000";

fn add(idx: &FingerprintIndex, t: NewTrack, policy: OnDuplicate) -> crate::Admitted {
    idx.admit(t, policy, &params(), None).unwrap()
}

#[test]
fn every_kind_is_found_with_its_overlap() {
    let idx = index();
    let song = music(1, 180);
    let a = add(&idx, track("a.ogg", song.clone(), Some(SHA_A)), OnDuplicate::Flag);
    let a = a.record.unwrap().id;
    add(&idx, track("other.ogg", music(2, 180), None), OnDuplicate::Flag);

    let exact = add(&idx, track("copy.ogg", music(3, 10), Some(SHA_A)), OnDuplicate::Reject);
    assert_eq!(exact.duplicates[0].kind, DuplicateKind::Exact);
    assert_eq!(exact.duplicates[0].of, a);

    let transcode = add(&idx, track("a.mp3", degrade(&song, 55, 125), None), OnDuplicate::Reject);
    assert_eq!(transcode.duplicates.len(), 1, "{:?}", transcode.duplicates);
    let d = &transcode.duplicates[0];
    assert_eq!((d.of, d.kind), (a, DuplicateKind::SameRecording));
    assert!((d.overlap_s - 180.0).abs() < 3.0, "{d:?}");

    let section: Vec<Peak> = song
        .iter()
        .filter(|q| (3000..4875).contains(&q.time))
        .map(|q| Peak {
            time: q.time - 3000,
            ..*q
        })
        .collect();
    let s = add(&idx, track("section.ogg", section, None), OnDuplicate::Reject);
    assert_eq!(s.duplicates[0].kind, DuplicateKind::SectionOf, "{:?}", s.duplicates);
    assert!((s.duplicates[0].overlap_s - 30.0).abs() < 1.5, "{:?}", s.duplicates);

    let mut longer = music(4, 60);
    longer.extend(song.iter().map(|q| Peak {
        time: q.time + 3750,
        ..*q
    }));
    longer.extend(music(5, 60).iter().map(|q| Peak {
        time: q.time + 3750 + 11_250,
        ..*q
    }));
    let c = add(&idx, track("medley.ogg", longer, None), OnDuplicate::Reject);
    assert_eq!(c.duplicates[0].kind, DuplicateKind::Contains, "{:?}", c.duplicates);
    assert_eq!(idx.len(), 2, "rejected tracks are not stored");
}

#[test]
fn different_music_and_short_overlaps_are_not_duplicates() {
    let idx = index();
    let song = music(10, 120);
    add(&idx, track("a.ogg", song.clone(), None), OnDuplicate::Flag);
    let other = add(&idx, track("b.ogg", music(11, 120), None), OnDuplicate::Flag);
    assert!(other.duplicates.is_empty());
    // Shares a 3 s sample with `a` and nothing else.
    let mut sampled = music(12, 120);
    sampled.retain(|q| q.time >= 190);
    sampled.extend(song.iter().filter(|q| q.time < 187).copied());
    let s = add(&idx, track("c.ogg", sampled, None), OnDuplicate::Flag);
    assert!(s.duplicates.is_empty(), "{:?}", s.duplicates);
}

#[test]
fn policies_decide_storage_marking_and_links() {
    let idx = index();
    let song = music(20, 90);
    let a = add(&idx, track("a.ogg", song.clone(), None), OnDuplicate::Flag)
        .record
        .unwrap();

    let r = add(&idx, track("r.ogg", degrade(&song, 60, 0), None), OnDuplicate::Reject);
    assert!(r.record.is_none() && !r.duplicates.is_empty());

    let f = add(&idx, track("f.ogg", degrade(&song, 60, 0), None), OnDuplicate::Flag);
    let f = f.record.unwrap();
    assert_eq!(f.duplicate_of.as_ref().map(|d| d.of), Some(a.id));
    assert_eq!(idx.get(f.id).unwrap().unwrap().duplicate_of.unwrap().of, a.id);

    let k = add(&idx, track("k.ogg", degrade(&song, 60, 7), None), OnDuplicate::Keep);
    let k = k.record.unwrap();
    assert!(k.duplicate_of.is_none());
    assert!(!k_links(&idx, k.id).is_empty(), "keep still records the link");

    let groups = idx.duplicate_groups().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].tracks, vec![a.id, f.id, k.id]);

    idx.remove(a.id).unwrap();
    assert!(idx.links_of(a.id).unwrap().is_empty(), "links go with the track");
}

fn k_links(idx: &FingerprintIndex, id: TrackId) -> Vec<groups::Link> {
    idx.links_of(id).unwrap()
}

#[test]
fn a_changed_file_replaces_its_track_without_matching_itself() {
    let idx = index();
    let song = music(30, 60);
    let a = add(&idx, track("a.ogg", song.clone(), Some(SHA_A)), OnDuplicate::Reject)
        .record
        .unwrap();
    let changed = track("a.ogg", degrade(&song, 70, 0), None);
    let r = idx.admit(changed, OnDuplicate::Reject, &params(), Some(a.id)).unwrap();
    let new = r.record.expect("a replacement is not its own duplicate");
    assert_eq!(r.replaced.unwrap().id, a.id);
    assert_eq!(idx.len(), 1);
    assert_eq!(idx.id_by_path("a.ogg").unwrap(), Some(new.id));
    assert!(idx.get(a.id).unwrap().is_none());
    let sha: [u8; 32] = sonica_schema::duplicate::parse_sha256(SHA_A).unwrap();
    assert_eq!(
        idx.id_by_digest(&sha).unwrap(),
        None,
        "the old digest went with the old track"
    );
}

#[test]
fn a_kept_exact_copy_inherits_the_digest() {
    let idx = index();
    let a = add(&idx, track("a.ogg", music(50, 30), Some(SHA_A)), OnDuplicate::Flag)
        .record
        .unwrap();
    let b = add(&idx, track("b.ogg", music(50, 30), Some(SHA_A)), OnDuplicate::Keep)
        .record
        .unwrap();
    idx.remove(a.id).unwrap();
    let sha = sonica_schema::duplicate::parse_sha256(SHA_A).unwrap();
    assert_eq!(idx.id_by_digest(&sha).unwrap(), Some(b.id));
    let c = add(&idx, track("c.ogg", music(51, 30), Some(SHA_A)), OnDuplicate::Reject);
    assert_eq!(c.duplicates[0].of, b.id);
}

#[test]
fn an_exact_copy_of_a_removed_track_is_new() {
    let idx = index();
    let a = add(&idx, track("a.ogg", music(40, 30), Some(SHA_A)), OnDuplicate::Flag)
        .record
        .unwrap();
    idx.remove(a.id).unwrap();
    let again = add(&idx, track("b.ogg", music(41, 30), Some(SHA_A)), OnDuplicate::Reject);
    assert!(again.record.is_some() && again.duplicates.is_empty());
}

#[test]
fn classification_follows_coverage() {
    let c = |new, old| Coverage {
        new,
        old,
        ..Coverage::default()
    };
    assert_eq!(classify(&c(0.9, 0.95), 0.8), Some(DuplicateKind::SameRecording));
    assert_eq!(classify(&c(0.9, 0.1), 0.8), Some(DuplicateKind::SectionOf));
    assert_eq!(classify(&c(0.2, 0.85), 0.8), Some(DuplicateKind::Contains));
    assert_eq!(classify(&c(0.5, 0.5), 0.8), None);
}

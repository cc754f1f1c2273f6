//! `sonica-reindex --verify`: does every index agree with the records?
//!
//! Each derived structure is compared with what the canonical records say
//! it must hold, and every difference is reported (the first few of each
//! kind in full, all of them counted): `paths` against the track and job
//! records, `digests` against the records' sha256 (both ways), duplicate links against
//! the live tracks, the buckets against the postings derived from each
//! compacted track's peaks, the fresh tier's peaks, the analysis and
//! chromaprint rows, and the vector and text indexes against the tracks.
//! States that the consistency rules make harmless are not differences: a
//! fresh track's postings left in a bucket by a killed compaction, and a
//! deleted track's postings awaiting purge behind its tombstone.

use std::collections::{BTreeMap, BTreeSet};

use sonica_schema::duplicate::{parse_link_key, parse_sha256};
use sonica_schema::layout::{parse_track_key, track_key};
use sonica_schema::{peaks, Duplicate, JobRecord, JobStatus, TrackId, TrackRecord, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::music::IndexedIds;
use crate::IndexError;

use super::report::{Checker, Problem, VerifyOptions, VerifyReport};

/// Checks every index of `index` (and, when given, the ids the music
/// indexes hold) against the records. Holds the writer lock throughout.
pub fn verify(
    index: &FingerprintIndex,
    music: Option<&IndexedIds>,
    opts: &VerifyOptions,
) -> Result<VerifyReport, IndexError> {
    let _w = index.lock_writer()?;
    let store = index.store();
    let mut c = Checker {
        report: VerifyReport::default(),
        max_listed: opts.max_listed,
    };

    let mut tracks: BTreeMap<TrackId, TrackRecord> = BTreeMap::new();
    for e in store.scan(Tree::Tracks) {
        let (k, v) = e?;
        match (parse_track_key(&k), TrackRecord::decode(&v)) {
            (Some(id), Ok(r)) if r.id == id => {
                tracks.insert(id, r);
            }
            (id, r) => c.note(Problem::UnreadableRecord, || match r {
                Ok(r) => format!("the record under key {id:?} says it is track {}", r.id),
                Err(e) => format!("the record under key {id:?} is unreadable: {e}"),
            }),
        }
    }
    let mut jobs: BTreeMap<TrackId, JobRecord> = BTreeMap::new();
    for e in store.scan(Tree::Jobs) {
        let (k, v) = e?;
        match (parse_track_key(&k), JobRecord::decode(&v)) {
            (Some(id), Ok(j)) => {
                if tracks.contains_key(&id) {
                    c.note(Problem::TrackIsAlsoJob, || format!("id {id} is both a track and a job"));
                }
                jobs.insert(id, j);
            }
            (id, _) => c.note(Problem::UnreadableRecord, || {
                format!("the job under key {id:?} is unreadable")
            }),
        }
    }
    c.report.tracks = tracks.len();
    c.report.jobs = jobs.len();

    check_paths(&mut c, index, &tracks, &jobs)?;
    check_digests_and_links(&mut c, index, &tracks)?;
    let readable = check_peaks(&mut c, index, &tracks)?;
    super::verify_buckets::check_buckets(&mut c, index, &tracks, &readable, opts.postings_per_pass)?;
    for (tree, problem, what) in [
        (Tree::Analysis, Problem::OrphanAnalysis, "an analysis"),
        (Tree::Chromaprints, Problem::OrphanChromaprint, "a chromaprint"),
        (Tree::Waveforms, Problem::OrphanWaveform, "a waveform"),
        (Tree::References, Problem::OrphanReference, "a reference mark"),
    ] {
        for e in store.scan(tree) {
            let (k, _) = e?;
            match parse_track_key(&k) {
                Some(id) if tracks.contains_key(&id) => {}
                id => c.note(problem, || {
                    format!("{what} is stored for {id:?}, which is not a live track")
                }),
            }
        }
    }
    if let Some(ids) = music {
        check_music(&mut c, index, &tracks, ids)?;
    }
    c.report.consistent = c.report.counts.is_empty();
    Ok(c.report)
}

fn check_paths(
    c: &mut Checker,
    index: &FingerprintIndex,
    tracks: &BTreeMap<TrackId, TrackRecord>,
    jobs: &BTreeMap<TrackId, JobRecord>,
) -> Result<(), IndexError> {
    let mut paths: std::collections::HashMap<Vec<u8>, TrackId> = std::collections::HashMap::new();
    for e in index.store().scan(Tree::Paths) {
        let (k, v) = e?;
        let shown = String::from_utf8_lossy(&k).into_owned();
        let Some(id) = parse_track_key(&v) else {
            c.note(Problem::DanglingPath, || format!("path {shown:?} holds no track id"));
            continue;
        };
        paths.insert(k.clone(), id);
        let owner = tracks
            .get(&id)
            .map(|r| &r.path)
            .or_else(|| jobs.get(&id).map(|j| &j.path));
        match owner {
            Some(p) if p.as_bytes() == k.as_slice() => {}
            Some(p) => c.note(Problem::PathMismatch, || {
                format!("path {shown:?} points at id {id}, whose path is {p:?}")
            }),
            None => c.note(Problem::DanglingPath, || {
                format!("path {shown:?} points at id {id}, which is neither a track nor a job")
            }),
        }
    }
    let claims = tracks.values().map(|r| (r.id, &r.path, "track")).chain(
        jobs.values()
            .filter(|j| j.status != JobStatus::Rejected)
            .map(|j| (j.id, &j.path, "job")),
    );
    for (id, path, what) in claims {
        match paths.get(path.as_bytes()) {
            Some(&p) if p == id => {}
            other => c.note(Problem::MissingPath, || match other {
                Some(p) => format!("{what} {id} ({path}): its path entry points at id {p}"),
                None => format!("{what} {id} ({path}) has no path entry"),
            }),
        }
    }
    Ok(())
}

fn check_digests_and_links(
    c: &mut Checker,
    index: &FingerprintIndex,
    tracks: &BTreeMap<TrackId, TrackRecord>,
) -> Result<(), IndexError> {
    for e in index.store().scan(Tree::Digests) {
        let (k, v) = e?;
        let hex = sonica_schema::duplicate::hex(&k);
        match parse_track_key(&v).and_then(|id| tracks.get(&id)) {
            None => c.note(Problem::DanglingDigest, || {
                format!(
                    "digest {hex} points at {:?}, which is not a live track",
                    parse_track_key(&v)
                )
            }),
            Some(r) if r.sha256.as_deref().and_then(parse_sha256).as_ref().map(|s| &s[..]) != Some(&k[..]) => c
                .note(Problem::DigestMismatch, || {
                    format!("digest {hex} points at track {}, whose sha256 is {:?}", r.id, r.sha256)
                }),
            Some(_) => {}
        }
    }
    // Every stored file's bytes must be findable, or an exact copy of it
    // would be decoded and judged as a new recording.
    let mut reported = BTreeSet::new();
    for r in tracks.values() {
        let Some(sha) = r.sha256.as_deref().and_then(parse_sha256) else {
            continue;
        };
        if index.store().get(Tree::Digests, &sha)?.is_none() && reported.insert(sha) {
            c.note(Problem::MissingDigest, || {
                format!(
                    "track {} ({}) has sha256 {} but no digest entry",
                    r.id,
                    r.path,
                    sonica_schema::duplicate::hex(&sha)
                )
            });
        }
    }
    for e in index.store().scan(Tree::Duplicates) {
        let (k, v) = e?;
        let Some((new, of)) = parse_link_key(&k).filter(|_| Duplicate::decode(&v).is_ok()) else {
            c.note(Problem::MalformedDuplicateLink, || {
                format!("duplicate link {k:?} is unreadable")
            });
            continue;
        };
        for id in [new, of] {
            if !tracks.contains_key(&id) {
                c.note(Problem::DanglingDuplicateLink, || {
                    format!("duplicate link {new} -> {of}: track {id} is not live")
                });
            }
        }
    }
    Ok(())
}

/// Tracks whose peaks are missing or unreadable are reported; the rest
/// (with readable peaks) are returned.
fn check_peaks(
    c: &mut Checker,
    index: &FingerprintIndex,
    tracks: &BTreeMap<TrackId, TrackRecord>,
) -> Result<BTreeSet<TrackId>, IndexError> {
    let mut readable = BTreeSet::new();
    for r in tracks.values() {
        match index.store().get(Tree::Peaks, &track_key(r.id))? {
            None => c.note(Problem::MissingPeaks, || {
                format!("track {} ({}, {:?} tier) has no peaks", r.id, r.path, r.tier)
            }),
            Some(v) => match peaks::decode(&v) {
                Ok(_) => {
                    readable.insert(r.id);
                }
                Err(e) => c.note(Problem::UnreadablePeaks, || {
                    format!("track {}: peaks unreadable: {e}", r.id)
                }),
            },
        }
    }
    for e in index.store().scan(Tree::Peaks) {
        let (k, _) = e?;
        match parse_track_key(&k) {
            Some(id) if tracks.contains_key(&id) => {}
            id => c.note(Problem::OrphanPeaks, || {
                format!("peaks are stored for {id:?}, which is not a live track")
            }),
        }
    }
    for id in index.tombstones()? {
        if tracks.contains_key(&id) {
            c.note(Problem::TombstoneOfLiveTrack, || {
                format!("track {id} is live but has a tombstone")
            });
        }
    }
    Ok(readable)
}

fn check_music(
    c: &mut Checker,
    index: &FingerprintIndex,
    tracks: &BTreeMap<TrackId, TrackRecord>,
    ids: &IndexedIds,
) -> Result<(), IndexError> {
    let analysed: BTreeSet<TrackId> = index
        .analyses()?
        .into_iter()
        .filter(|(id, a)| a.is_current() && tracks.contains_key(id))
        .map(|(id, _)| id)
        .collect();
    let live: BTreeSet<TrackId> = tracks.keys().copied().collect();
    for (name, held) in [("timbre", &ids.timbre), ("rhythm", &ids.rhythm), ("mixed", &ids.mixed)] {
        let held: BTreeSet<TrackId> = held.iter().copied().collect();
        for id in analysed.difference(&held) {
            c.note(Problem::MissingVector, || {
                format!("track {id} is analysed but the {name} graph lacks it")
            });
        }
        for id in held.difference(&analysed) {
            c.note(Problem::StaleVector, || {
                format!("the {name} graph holds {id}, which is not a live analysed track")
            });
        }
    }
    let text: BTreeSet<TrackId> = ids.text.iter().copied().collect();
    for id in live.difference(&text) {
        c.note(Problem::MissingText, || {
            format!("track {id} is missing from the text index")
        });
    }
    for id in text.difference(&live) {
        c.note(Problem::StaleText, || {
            format!("the text index holds {id}, which is not a live track")
        });
    }
    Ok(())
}

use std::sync::Arc;

use sonica_schema::mastering::{BandProfile, MasteringProfile, MASTERING_VERSION, THIRD_OCTAVE_HZ};
use sonica_schema::mastering_record::{AnalysisRecord, PreviewAudio, ReferenceRecord, TargetSource};
use sonica_schema::mastering_target::{BandTarget, Level, Spread, Target};
use sonica_schema::Peak;

use super::MasteringLibrary;
use crate::test_support::new_track;
use crate::{FingerprintIndex, Hasher, IndexError, KvStore, MemStore};

fn hasher() -> Hasher {
    Arc::new(|peaks: &[Peak]| peaks.iter().map(|p| (u32::from(p.freq16), p.time)).collect())
}

/// A profile whose balance tilts by `tilt` dB per band.
fn profile(tilt: f64) -> MasteringProfile {
    MasteringProfile {
        version: MASTERING_VERSION,
        sample_rate: 44_100,
        channels: 2,
        duration_s: 60.0,
        lufs: -12.0,
        lra_lu: 5.0,
        true_peak_dbtp: -1.0,
        crest_db: 12.0,
        dr: 8.0,
        width: 0.2,
        loud_share: 0.5,
        transients_per_s: 3.0,
        attack_db: 6.0,
        harmonic_distortion_pct: None,
        bands: THIRD_OCTAVE_HZ
            .iter()
            .enumerate()
            .map(|(i, &c)| BandProfile {
                centre_hz: c,
                mid_db: -30.0 + tilt * i as f64,
                side_db: -40.0,
                crest_db: 6.0,
                dynamics_db: 8.0,
                width: 0.1,
                correlation: 0.8,
            })
            .collect(),
    }
}

fn reference(track_id: u32, genre: &str, tilt: f64) -> ReferenceRecord {
    ReferenceRecord {
        track_id,
        genre: genre.into(),
        marked_unix: 1,
        profile: profile(tilt),
    }
}

fn library() -> (Arc<FingerprintIndex>, MasteringLibrary, Vec<u32>) {
    let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let h = hasher();
    let idx = Arc::new(FingerprintIndex::open(store, h.clone()).unwrap());
    let ids = (0..4)
        .map(|i| {
            idx.add(new_track(
                &format!("t{i}.wav"),
                crate::test_support::random_peaks(i + 1, 50, 3),
                &h,
            ))
            .unwrap()
            .id
        })
        .collect();
    let lib = MasteringLibrary::open(idx.clone()).unwrap();
    (idx, lib, ids)
}

#[test]
fn references_are_marked_found_by_genre_and_nearest_and_go_with_their_track() {
    let (idx, lib, ids) = library();
    assert!(matches!(
        lib.mark(&reference(999, "rock", 0.0)),
        Err(IndexError::UnknownTrack(999))
    ));
    lib.mark(&reference(ids[0], "rock", -0.5)).unwrap();
    lib.mark(&reference(ids[1], "rock", 0.5)).unwrap();
    lib.mark(&reference(ids[2], "jazz", 0.0)).unwrap();
    assert_eq!(lib.references(Some("rock")).unwrap().len(), 2);
    assert_eq!(lib.genres().unwrap().get("jazz"), Some(&1));

    // The closest rock reference to a bright mix is the bright one.
    let near = lib.nearest(&profile(0.45).vector(), Some("rock"), 1).unwrap();
    assert_eq!(near[0].0.track_id, ids[1]);
    // Without a genre, every reference is a candidate.
    assert_eq!(lib.nearest(&profile(0.0).vector(), None, 10).unwrap().len(), 3);

    // Deleting the track removes its mark; the search never answers it.
    idx.remove(ids[1]).unwrap();
    assert!(lib.reference(ids[1]).unwrap().is_none());
    let near = lib.nearest(&profile(0.45).vector(), Some("rock"), 5).unwrap();
    assert_eq!(near.iter().map(|(r, _)| r.track_id).collect::<Vec<_>>(), vec![ids[0]]);

    // Unmarking, and reopening, keep the tree the truth.
    assert!(lib.unmark(ids[0]).unwrap());
    assert!(!lib.unmark(ids[0]).unwrap());
    let again = MasteringLibrary::open(idx).unwrap();
    assert_eq!(again.references(None).unwrap().len(), 1);
    assert_eq!(again.nearest(&profile(0.0).vector(), None, 5).unwrap().len(), 1);
}

fn analysis() -> AnalysisRecord {
    let s = Spread {
        median: 0.0,
        p10: -1.0,
        p90: 1.0,
    };
    AnalysisRecord {
        id: 0,
        created_unix: 5,
        name: Some("mix.wav".into()),
        level: Level::Suggestive,
        source: TargetSource::BuiltIn { genre: "rock".into() },
        profile: profile(0.0),
        target: Target {
            references: 3,
            lufs: s,
            lra_lu: s,
            crest_db: s,
            width: s,
            dr: None,
            bands: THIRD_OCTAVE_HZ
                .iter()
                .map(|&c| BandTarget {
                    centre_hz: c,
                    level: s,
                    side: s,
                })
                .collect(),
        },
        has_preview: false,
    }
}

#[test]
fn analyses_get_fresh_ids_and_retention_drops_the_oldest_with_their_audio() {
    let (_idx, lib, _) = library();
    let audio = PreviewAudio {
        rate: 8000,
        channels: 1,
        samples: vec![1, 2, 3],
    };
    let ids: Vec<u64> = (0..5)
        .map(|_| lib.store_analysis(&analysis(), Some(&audio), 3).unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(lib.analysis_count().unwrap(), 3);
    assert!(lib.analysis(2).unwrap().is_none() && lib.preview_audio(2).unwrap().is_none());
    let kept = lib.analysis(5).unwrap().unwrap();
    assert_eq!(kept.id, 5);
    assert!(kept.has_preview);
    assert_eq!(lib.preview_audio(5).unwrap().unwrap(), audio);
    // Ids are never reused, even once everything older is gone.
    let next = lib.store_analysis(&analysis(), None, 1).unwrap();
    assert_eq!(next, 6);
    assert_eq!(lib.analysis_count().unwrap(), 1);
    assert!(!lib.analysis(6).unwrap().unwrap().has_preview);
}

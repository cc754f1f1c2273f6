//! Real encoded files (tests/fixtures, made by tools/make-fixtures.sh):
//! OGG Vorbis ingest with tags, and MP3 and AAC clips identified against it.

use sonica::ingest::{ingest, IngestOptions, Outcome};
use sonica::{Library, OpenOptions};

use crate::common::{fixture, identify_path};

#[test]
fn codec_degraded_clips_match_the_ogg_reference() {
    let dir = tempfile::tempdir().unwrap();
    let index = Library::open(dir.path(), &OpenOptions::default()).unwrap();
    let reference = fixture("melody.ogg").to_string_lossy().into_owned();
    let mut rec = None;
    ingest(&index, vec![reference.clone()], &IngestOptions::default(), &mut |o| {
        if let Outcome::Added { record: r, .. } = o {
            rec = Some(r.as_ref().clone());
        }
    })
    .unwrap();
    let rec = rec.expect("the OGG fixture is ingested");
    assert_eq!(rec.title, "Fixture Melody");
    assert_eq!(rec.artist.as_deref(), Some("Sonica Tests"));
    assert_eq!(rec.album.as_deref(), Some("Fixtures"));
    assert_eq!(rec.genre.as_deref(), Some("Test"));
    assert_eq!(rec.codec, "vorbis");
    assert!((rec.duration_s - 20.0).abs() < 0.1, "{}", rec.duration_s);

    for clip in ["melody_clip_32k.mp3", "melody_clip.m4a"] {
        assert_eq!(identify_path(&index, &fixture(clip)), Some(reference.clone()), "{clip}");
    }
}

#[test]
fn flac_decodes_and_opus_is_decoded_or_refused_clearly() {
    let (pcm, info) = sonica::decode::load_clip(&fixture("melody_5s.flac")).unwrap();
    assert_eq!(info.codec, "flac");
    assert!((pcm.len() as f64 / 8000.0 - 5.0).abs() < 0.01);
    match sonica::decode::load_clip(&fixture("melody_3s.opus")) {
        Ok((pcm, info)) => {
            assert_eq!(info.decoder, "ffmpeg");
            assert!((pcm.len() as f64 / 8000.0 - 3.0).abs() < 0.1);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("Opus") && msg.contains("install ffmpeg"), "{msg}");
        }
    }
}

/// A store written by format version 1, kept as a fixture: version 2 (the
/// tolerant hash family) refuses it with the way to upgrade, and a rebuild
/// upgrades it in place, after which it opens and answers as before.
#[test]
fn a_format_v1_store_is_refused_with_advice_then_upgraded_by_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    for f in ["conf", "db"] {
        std::fs::copy(fixture("store-v1").join(f), store.join(f)).unwrap();
    }
    assert_eq!(
        sonica_schema::FORMAT_VERSION,
        2,
        "bump: keep these fixtures and add one"
    );
    let refused = Library::open(dir.path(), &OpenOptions::default())
        .err()
        .expect("v1 is refused");
    let msg = refused.to_string();
    assert!(
        msg.contains("version 1") && msg.contains("sonica-reindex --rebuild"),
        "{msg}"
    );
    assert_eq!(refused.code(), sonica::ErrorCode::StoreIncompatible);
    {
        let upgrade = OpenOptions {
            upgrade: true,
            search_indexes: false,
            ..OpenOptions::default()
        };
        let index = Library::open(dir.path(), &upgrade).unwrap();
        let report = index.rebuild_hash_tiers(&Default::default()).unwrap();
        assert!(report.upgraded && report.tracks == 1, "{report:?}");
        // The record counts the postings it has now, triplets included.
        assert_eq!(index.stats().unwrap().postings, report.postings as u64);
        // Its plain-JSON analysis records read as they are, and `--rebuild`'s
        // repacking leaves them the same records.
        let before = index.analyses().unwrap();
        index.repack_analyses().unwrap();
        assert_eq!(
            index.repack_analyses().unwrap(),
            0,
            "a second pass finds nothing to repack"
        );
        assert_eq!(index.analyses().unwrap(), before);
    }
    let index = Library::open(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(index.list().unwrap()[0].title, "Fixture Melody");
    assert_eq!(
        identify_path(&index, &fixture("melody_clip_32k.mp3")).as_deref(),
        Some("tests/fixtures/melody.ogg")
    );
}

/// A store written by format version 2, kept as a fixture: later versions
/// must still open it (or refuse it with the version message, once
/// `FORMAT_VERSION` moves on and a migration exists).
#[test]
fn a_format_v2_store_still_opens_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    for f in ["conf", "db"] {
        std::fs::copy(fixture("store-v2").join(f), store.join(f)).unwrap();
    }
    let index = Library::open(dir.path(), &OpenOptions::default()).unwrap();
    let tracks = index.list().unwrap();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].title, "Fixture Melody");
    assert_eq!(
        identify_path(&index, &fixture("melody_clip_32k.mp3")).as_deref(),
        Some("tests/fixtures/melody.ogg")
    );
}

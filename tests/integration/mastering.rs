//! `sonica master` as a user meets it: a quieter copy of a song against
//! its original is told to go louder by the difference and nothing else;
//! `--apply` renders it under the true-peak ceiling; silence, a missing
//! reference and a bad level get clear errors.

use serde_json::Value;

use crate::audio::{song, stereo, write_wav, Fmt};
use crate::common::{sonica, stderr, stdout};

const RATE: u32 = 44_100;

#[test]
fn a_quieter_copy_is_told_the_gain_and_rendered_under_the_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = song(91, 30.0, RATE);
    write_wav(&d.join("orig.wav"), &stereo(&x, 0.5), RATE, 2, Fmt::F32);
    write_wav(&d.join("quiet.wav"), &stereo(&x, 0.25), RATE, 2, Fmt::F32);
    let out = d.join("fixed.wav");
    let o = sonica(
        d,
        &[
            "master",
            d.join("quiet.wav").to_str().unwrap(),
            "--reference",
            d.join("orig.wav").to_str().unwrap(),
            "--json",
            "--apply",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let c = &v["comparison"];
    let gain = c["gain_db"].as_f64().unwrap();
    assert!((gain - 6.02).abs() < 0.3, "gain {gain}");
    let bands: Vec<&Value> = c["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "band")
        .collect();
    assert!(bands.is_empty(), "a level change is not an EQ move: {bands:?}");
    assert!(c["eq"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["gain_db"].as_f64().unwrap().abs() < 0.5));
    assert_eq!(v["mix"]["bands"].as_array().unwrap().len(), 31);
    // The rendered copy reads as the original, under the ceiling.
    let o = sonica(
        d,
        &[
            "master",
            out.to_str().unwrap(),
            "--reference",
            d.join("orig.wav").to_str().unwrap(),
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        v["mix"]["true_peak_dbtp"].as_f64().unwrap() <= -0.95,
        "{}",
        v["mix"]["true_peak_dbtp"]
    );
    let worst = v["comparison"]["bands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["meaningful"] == true)
        .map(|b| b["diff_db"].as_f64().unwrap().abs())
        .fold(0.0, f64::max);
    assert!(worst < 1.0, "band error after rendering: {worst}");
}

#[test]
fn bad_input_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_wav(
        &d.join("silence.wav"),
        &vec![0.0; 2 * RATE as usize * 5],
        RATE,
        2,
        Fmt::I16,
    );
    write_wav(
        &d.join("song.wav"),
        &stereo(&song(92, 10.0, RATE), 0.5),
        RATE,
        2,
        Fmt::I16,
    );
    let song = d.join("song.wav");
    let song = song.to_str().unwrap();
    let silence = d.join("silence.wav");
    let o = sonica(d, &["master", silence.to_str().unwrap(), "--reference", song]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("silent"), "{}", stderr(&o));
    let o = sonica(
        d,
        &["master", song, "--reference", d.join("nope.wav").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nope.wav") && stderr(&o).contains("no such file"),
        "{}",
        stderr(&o)
    );
    let o = sonica(d, &["master", song, "--reference", song, "--level", "loud"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("informative, suggestive or prescriptive"),
        "{}",
        stderr(&o)
    );
    let o = sonica(d, &["master", song]);
    assert_eq!(o.status.code(), Some(2), "a reference is required");
}

#[test]
fn the_library_keeps_references_by_genre_and_stores_analyses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("db");
    let x = song(93, 30.0, RATE);
    write_wav(&d.join("ref.wav"), &stereo(&x, 0.5), RATE, 2, Fmt::I16);
    write_wav(&d.join("mix.wav"), &stereo(&x, 0.25), RATE, 2, Fmt::I16);
    let (refp, mix) = (d.join("ref.wav"), d.join("mix.wav"));
    let (refp, mix) = (refp.to_str().unwrap(), mix.to_str().unwrap());

    // Ingest and mark in one go; a bad genre is a usage error before anything.
    let o = sonica(&db, &["ingest", "--reference-genre", "<bad>", refp]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = sonica(&db, &["ingest", "--reference-genre", "Synth Pop", refp]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("synth pop reference"), "{}", stderr(&o));
    let o = sonica(&db, &["reference", "list", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["references"][0]["genre"], "synth pop");
    let id = v["references"][0]["track_id"].as_u64().unwrap().to_string();

    // Against the genre, and against the reference by id: stored, +6 dB.
    for target in [["--genre", "synth pop"], ["--reference", id.as_str()]] {
        let o = sonica(&db, &["master", mix, target[0], target[1], "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(v["analysis_id"].as_u64().unwrap() >= 1);
        let gain = v["comparison"]["gain_db"].as_f64().unwrap();
        assert!((gain - 6.02).abs() < 0.3, "gain {gain}");
    }

    // Unknown genre, unknown reference, both at once: precise refusals.
    let o = sonica(&db, &["master", mix, "--genre", "polka"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no references of genre \"polka\""),
        "{}",
        stderr(&o)
    );
    let o = sonica(&db, &["master", mix, "--reference", "999"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a mastering reference"), "{}", stderr(&o));
    let o = sonica(&db, &["master", mix, "--genre", "synth pop", "--reference", refp]);
    assert_eq!(o.status.code(), Some(2));

    // A built-in target answers without any reference of that genre.
    let o = sonica(
        &db,
        &[
            "master",
            mix,
            "--genre",
            "orchestral",
            "--level",
            "suggestive",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["comparison"]["references"].as_u64().unwrap() >= 5);

    // Unmarking, twice.
    let o = sonica(&db, &["reference", "remove", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sonica(&db, &["reference", "remove", &id]);
    assert_eq!(o.status.code(), Some(1));
    let o = sonica(&db, &["reference", "add", "999", "--genre", "rock"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("999"), "{}", stderr(&o));
}

//! Fingerprint first, analysis after: a track is recognisable as soon as
//! its fingerprint is stored, and its music analysis follows. Tracks stored
//! with the analysis pending (`sonica ingest --fingerprint-only`, or a stop
//! before the analysis was stored) are analysed by the next `sonica serve`
//! or `sonica-reindex`, and say so meanwhile.

use std::path::Path;

use sonica::{Library, OpenOptions};

use crate::audio;
use crate::common::{sonica, stderr, stdout};
use crate::reindex::reindex;
use crate::server::Server;

const RATE: u32 = 22_050;

fn songs(dir: &Path, n: u32) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("song{i}.wav"));
            audio::wav(&p, &audio::song(300 + i, 20.0, RATE), RATE);
            p.to_string_lossy().into_owned()
        })
        .collect()
}

/// `--fingerprint-only` stores recognisable tracks with the analysis
/// pending: identify works, the analysis says it is pending (409 code),
/// and the record carries the flag.
fn ingest_fingerprints_only(data: &Path, files: &[String]) {
    let mut args = vec!["ingest", "--fingerprint-only"];
    args.extend(files.iter().map(String::as_str));
    let out = sonica(data, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let lib = Library::open(data, &OpenOptions::recognition_only()).unwrap();
    for r in lib.list().unwrap() {
        assert!(r.analysis_pending, "{}", r.path);
        assert!(lib.analysis(r.id).unwrap().is_none());
        let e = sonica::search::track_analysis(&lib, r.id).unwrap_err();
        assert_eq!(e.code().as_str(), "analysis_pending");
    }
    drop(lib); // one process at a time holds the store
    let clip = data.parent().unwrap().join("clip.wav");
    let x = audio::song(300, 20.0, RATE);
    audio::wav(&clip, &audio::slice(&x, RATE, 6.0, 5.0), RATE);
    let out = sonica(data, &["identify", "--json", clip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["match"]["path"], files[0].as_str(), "{line}");
}

#[test]
fn the_service_analyses_tracks_left_pending() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = songs(&dir.path().join("music"), 2);
    ingest_fingerprints_only(&data, &files);
    let srv = Server::start(dir.path(), &[]);
    for id in [1u32, 2] {
        let v = srv.wait_final(id);
        assert_eq!(v["status"], "READY");
        assert_eq!(v["analysis"], "DONE", "{v}");
        let a = srv.get(&format!("/tracks/{id}/analysis"));
        assert_eq!(a.status, 200, "{}", a.json);
        assert!(a.json["tempo_bpm"].as_f64().is_some(), "{}", a.json);
        let t = srv.get(&format!("/tracks/{id}"));
        assert!(
            t.json["chromaprint"].as_str().is_some_and(|c| !c.is_empty()),
            "{}",
            t.json
        );
    }
    // The filters see the analysis too.
    let r = srv.get("/search?limit=10&tempo_min=1");
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["results"].as_array().map(Vec::len), Some(2), "{}", r.json);
    srv.stop();
    let lib = Library::open(&data, &OpenOptions::recognition_only()).unwrap();
    assert!(lib.list().unwrap().iter().all(|r| !r.analysis_pending));
}

#[test]
fn reindex_fills_in_a_pending_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let music = dir.path().join("music");
    let files = songs(&music, 1);
    ingest_fingerprints_only(&data, &files);
    let out = reindex(&data, &["--json", music.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["analysed"], 1, "{report}");
    assert_eq!(report["added"], 0, "{report}");
    let lib = Library::open(&data, &OpenOptions::recognition_only()).unwrap();
    let r = &lib.list().unwrap()[0];
    assert!(!r.analysis_pending);
    assert!(lib.analysis(r.id).unwrap().is_some());
    assert!(lib.chromaprint(r.id).unwrap().is_some());
}

#[test]
fn an_upload_is_ready_with_its_analysis_following() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let x = audio::song(310, 20.0, RATE);
    let wav = crate::server::wav_bytes(dir.path(), "up.wav", &x, RATE);
    let id = srv.upload("up.wav", &wav);
    // Every state a poller sees is one of the documented pairs.
    let mut seen = std::collections::BTreeSet::new();
    srv.eventually("the analysis", 60, |s| {
        let v = s.get(&format!("/tracks/{id}")).json;
        let pair = (
            v["status"].as_str().unwrap_or("").to_string(),
            v["analysis"].as_str().unwrap_or("").to_string(),
        );
        seen.insert(pair.clone());
        pair == ("READY".into(), "DONE".into())
    });
    for (status, analysis) in &seen {
        let ok = matches!(
            (status.as_str(), analysis.as_str()),
            ("QUEUED" | "PROCESSING", "PENDING") | ("READY", "PENDING" | "DONE")
        );
        assert!(ok, "{status}/{analysis} in {seen:?}");
    }
    let clip = audio::slice(&x, RATE, 5.0, 5.0);
    let r = srv.recognize(
        "clip.wav",
        &crate::server::wav_bytes(dir.path(), "clip.wav", &clip, RATE),
    );
    assert_eq!(r.json["match"]["id"], id, "{}", r.json);
    assert!(
        r.json["match"]["path"].as_str().is_some(),
        "the one answer shape: {}",
        r.json
    );
    assert_eq!(srv.get(&format!("/tracks/{id}/analysis")).status, 200);
}

#[test]
fn the_music_pass_alone_stops_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let files = songs(dir.path(), 1);
    let p = Path::new(&files[0]);
    let m = sonica::pipeline::music_of_file(p, &|| false)
        .unwrap()
        .expect("not cancelled");
    assert!(m.analysis.is_ok() && m.chromaprint.is_some());
    assert!(sonica::pipeline::music_of_file(p, &|| true).unwrap().is_none());
    let missing = dir.path().join("gone.wav");
    let e = sonica::pipeline::music_of_file(&missing, &|| false).unwrap_err();
    assert_eq!(e.code().as_str(), "not_found");
}

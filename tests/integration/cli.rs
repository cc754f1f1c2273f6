//! The command-line contract other tools depend on.

use crate::audio;
use crate::common::{sonica, stderr, stdout};

#[test]
fn identify_json_contract_list_stats_remove() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("db");
    std::fs::create_dir_all(d.join("lib")).unwrap();
    let rate = 22_050;
    for s in 0..3 {
        audio::wav(&d.join(format!("lib/t{s}.wav")), &audio::song(40 + s, 15.0, rate), rate);
    }
    // Ingest with a relative-looking spelling: the path is kept as given.
    let given = format!("{}/lib/./t0.wav", d.display());
    let out = sonica(
        &data,
        &[
            "ingest",
            &given,
            d.join("lib/t1.wav").to_str().unwrap(),
            d.join("lib/t2.wav").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("ingested 3 tracks"), "{}", stderr(&out));

    let clip = d.join("clip.wav");
    audio::wav(&clip, &audio::slice(&audio::song(40, 15.0, rate), rate, 5.0, 5.0), rate);
    let unknown = d.join("unknown.wav");
    audio::wav(&unknown, &audio::song(77, 6.0, rate), rate);
    let out = sonica(
        &data,
        &["identify", "--json", clip.to_str().unwrap(), unknown.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["query"], clip.to_str().unwrap());
    let m = &lines[0]["match"];
    assert_eq!(m["path"], given.as_str());
    assert_eq!(m["title"], "t0");
    for k in ["id", "score", "offset_s", "duration_s"] {
        assert!(m[k].is_number(), "{k} in {m}");
    }
    assert!(m.get("artist").is_some());
    assert_eq!(
        lines[1],
        serde_json::json!({"query": unknown.to_str().unwrap(), "match": null})
    );

    // A missing clip: an error line, exit 1, and still one JSON object.
    let out = sonica(&data, &["identify", "--json", d.join("nope.wav").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(v["match"].is_null());
    assert_eq!(v["error"]["code"], "not_found");

    let stats = sonica(&data, &["stats", "--json"]);
    let s: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert_eq!(s["tracks"], 3);
    assert!(s["postings"].as_u64().unwrap() > 100);
    assert!(
        s["compacted"]["bytes"].as_u64().unwrap() > 0,
        "ingest compacts at the end: {s}"
    );
    assert_eq!(s["fresh_tracks"], 0);

    let id = m["id"].as_u64().unwrap().to_string();
    let out = sonica(&data, &["remove", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sonica(&data, &["remove", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("no track with id {id}")),
        "{}",
        stderr(&out)
    );
    let out = sonica(&data, &["identify", "--json", clip.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(v["match"].is_null(), "removed track still matches: {v}");
    assert_eq!(stdout(&sonica(&data, &["list"])).lines().count(), 2);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = sonica(dir.path(), &["identify"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sonica(dir.path(), &["remove", "not-a-number"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_store_of_another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    {
        // Plant a future version with the storage API.
        let store = sonica_index::SledStore::open(&data.join("store")).unwrap();
        let mut b = sonica_index::Batch::new();
        b.put(
            sonica_schema::Tree::Meta,
            sonica_schema::layout::META_FORMAT_VERSION,
            sonica_schema::layout::encode_version(sonica_schema::FORMAT_VERSION + 1),
        );
        sonica_index::KvStore::commit(&store, b).unwrap();
        sonica_index::KvStore::flush(&store).unwrap();
    }
    let out = sonica(&data, &["list"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("format version") && err.contains("reads version"), "{err}");
}

#[test]
fn a_store_in_use_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    let _held = sonica::Library::open(&data, &sonica::OpenOptions::default()).unwrap();
    let out = sonica(&data, &["list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("in use by another process"), "{}", stderr(&out));
}

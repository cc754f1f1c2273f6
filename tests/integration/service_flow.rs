//! The service end to end: upload → poll → READY → recognise → delete, and
//! the read-only endpoints (health, songs, metrics, OpenAPI, docs).

use crate::audio;
use crate::server::{wav_bytes, Part, Server};

const RATE: u32 = 22_050;

#[test]
fn upload_poll_ready_recognize_delete() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let song = audio::song(7001, 40.0, RATE);
    let other = audio::song(7002, 40.0, RATE);

    let health = srv.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], "ok");
    assert_eq!(health.json["tracks"], 0);

    let bytes = wav_bytes(dir.path(), "up.wav", &song, RATE);
    let r = srv.post_form(
        "/tracks",
        &[
            Part::file("file", "My Song.wav", &bytes),
            Part::text("title", "Seven Thousand One"),
            Part::text("artist", "The Generators"),
        ],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["status"], "QUEUED");
    let id = r.json["id"].as_u64().unwrap() as u32;
    // The file is in the songs folder before the 201 is sent.
    let stored = std::path::PathBuf::from(r.json["path"].as_str().unwrap());
    assert!(stored.starts_with(&srv.songs) && stored.is_file(), "{stored:?}");

    // The seed's name for the same route.
    let id2 = {
        let b = wav_bytes(dir.path(), "other.wav", &other, RATE);
        let r = srv.post_form("/upload", &[Part::file("audio", "other.wav", &b)], &[]);
        assert_eq!(r.status, 201, "{}", r.json);
        r.json["id"].as_u64().unwrap() as u32
    };
    assert_ne!(id, id2);

    let rec = srv.wait_final(id);
    assert_eq!(rec["status"], "READY", "{rec}");
    assert_eq!(rec["title"], "Seven Thousand One");
    assert_eq!(rec["artist"], "The Generators");
    assert!((rec["duration_s"].as_f64().unwrap() - 40.0).abs() < 0.5);
    assert_eq!(srv.wait_final(id2)["status"], "READY");

    let clip = audio::slice(&song, RATE, 12.0, 6.0);
    let clip_bytes = wav_bytes(dir.path(), "clip.wav", &clip, RATE);
    let m = srv.recognize("clip.wav", &clip_bytes);
    assert_eq!(m.status, 200, "{}", m.json);
    assert_eq!(m.json["match"]["id"], id, "{}", m.json);
    assert_eq!(m.json["match"]["title"], "Seven Thousand One");
    assert!(
        (m.json["match"]["offset_s"].as_f64().unwrap() - 12.0).abs() < 0.2,
        "{}",
        m.json
    );
    assert!(m.json["match"]["score"].as_u64().unwrap() >= 10);

    let unknown = wav_bytes(dir.path(), "u.wav", &audio::song(7999, 6.0, RATE), RATE);
    let none = srv.recognize("u.wav", &unknown);
    assert_eq!(none.status, 200);
    assert!(none.json["match"].is_null(), "{}", none.json);

    let songs = srv.get("/songs?offset=0&limit=1");
    assert_eq!(songs.status, 200);
    assert_eq!(songs.json["total"], 2);
    assert_eq!(songs.json["songs"].as_array().unwrap().len(), 1);
    assert_eq!(songs.json["songs"][0]["id"], id);
    let page2 = srv.get("/songs?offset=1&limit=5");
    assert_eq!(page2.json["songs"][0]["id"], id2);

    // Job counters move just after a record turns READY: wait for them.
    srv.eventually("the jobs to be counted", 10, |s| {
        s.get("/metrics")
            .text
            .contains("sonica_jobs_total{outcome=\"ready\"} 2")
    });
    let metrics = srv.get("/metrics");
    assert_eq!(metrics.status, 200);
    for needle in [
        "sonica_http_requests_total{method=\"POST\",route=\"/recognize\",status=\"200\"} 2",
        "sonica_http_request_duration_seconds_bucket{route=\"/tracks/{id}\"",
        "sonica_jobs_total{outcome=\"ready\"} 2",
        "sonica_jobs_queue_depth 0",
        "sonica_tracks 2",
        "sonica_index_bytes{kind=\"disk\"}",
    ] {
        assert!(
            metrics.text.contains(needle),
            "metrics lack {needle}:\n{}",
            metrics.text
        );
    }

    let del = srv.delete(&format!("/tracks/{id}"), &[]);
    assert_eq!(del.status, 200, "{}", del.json);
    assert!(!stored.exists(), "the uploaded file goes with the track");
    assert_eq!(srv.get(&format!("/tracks/{id}")).status, 404);
    assert_eq!(srv.delete(&format!("/tracks/{id}"), &[]).status, 404);
    let gone = srv.recognize("clip.wav", &clip_bytes);
    assert!(gone.json["match"].is_null(), "deleted from every index: {}", gone.json);
    assert_eq!(srv.get("/health").json["tracks"], 1);
}

#[test]
fn openapi_and_docs_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let doc = srv.get("/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/tracks",
        "/upload",
        "/recognize",
        "/ws/stream",
        "/songs",
        "/tracks/{id}",
    ] {
        assert!(doc.json["paths"].get(p).is_some(), "{p} undocumented");
    }
    let page = srv.get("/docs");
    assert_eq!(page.status, 200);
    assert!(page.text.contains("/openapi.json") && page.text.contains("<script>"));
}

#[test]
fn graceful_shutdown_exits_cleanly_and_keeps_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let song = audio::song(7101, 20.0, RATE);
    let id = srv.upload("s.wav", &wav_bytes(dir.path(), "s.wav", &song, RATE));
    assert_eq!(srv.wait_final(id)["status"], "READY");
    let status = srv.stop();
    assert!(status.success(), "SIGTERM should end the service cleanly: {status:?}");
    let again = Server::start(dir.path(), &[]);
    assert_eq!(again.get(&format!("/tracks/{id}")).json["status"], "READY");
}

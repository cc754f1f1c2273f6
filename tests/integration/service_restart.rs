//! Jobs survive `kill -9`: whatever was queued or processing runs after a
//! restart, and failures are retried, then marked FAILED with the reason.

use crate::audio;
use crate::server::{files_under, wav_bytes, Server};

const RATE: u32 = 22_050;

#[test]
fn queued_jobs_survive_kill_9_and_run_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // No workers: uploads are accepted and stay queued.
    let srv = Server::start(dir.path(), &["--job-workers", "0"]);
    let songs: Vec<Vec<f32>> = (0..3).map(|i| audio::song(7200 + i, 25.0, RATE)).collect();
    let mut ids = Vec::new();
    for (i, s) in songs.iter().enumerate() {
        let name = format!("q{i}.wav");
        ids.push(srv.upload(&name, &wav_bytes(dir.path(), &name, s, RATE)));
    }
    for id in &ids {
        assert_eq!(srv.get(&format!("/tracks/{id}")).json["status"], "QUEUED");
    }
    assert_eq!(srv.get("/health").json["queued"], 3);
    srv.kill();

    let srv = Server::start(dir.path(), &["--job-workers", "1"]);
    for (id, s) in ids.iter().zip(&songs) {
        assert_eq!(srv.wait_final(*id)["status"], "READY");
        let clip = wav_bytes(dir.path(), "c.wav", &audio::slice(s, RATE, 5.0, 5.0), RATE);
        assert_eq!(srv.recognize("c.wav", &clip).json["match"]["id"], *id);
    }
    // Each id is one track: nothing was ingested twice.
    assert_eq!(srv.get("/songs").json["total"], 3);
}

#[test]
fn a_kill_during_processing_is_retried_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    // Long enough that the kill lands while it is being fingerprinted.
    let long = audio::song(7300, 600.0, RATE);
    let id = srv.upload("long.wav", &wav_bytes(dir.path(), "long.wav", &long, RATE));
    srv.eventually("processing to start", 30, |s| {
        s.get(&format!("/tracks/{id}")).json["status"] != "QUEUED"
    });
    srv.kill();
    let srv = Server::start(dir.path(), &[]);
    let rec = srv.wait_final(id);
    assert_eq!(rec["status"], "READY", "{rec}");
    let clip = wav_bytes(dir.path(), "c.wav", &audio::slice(&long, RATE, 300.0, 6.0), RATE);
    let m = srv.recognize("c.wav", &clip);
    assert_eq!(m.json["match"]["id"], id, "{} for {rec}", m.text);
}

#[test]
fn failing_jobs_are_retried_then_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &["--job-attempts", "3", "--watch", "false"]);
    // A WAV whose header promises far more data than the file holds: it
    // passes the upload's quick check and fails the full decode.
    let song = audio::song(7400, 30.0, RATE);
    let mut bytes = wav_bytes(dir.path(), "t.wav", &song, RATE);
    bytes.truncate(bytes.len() / 3);
    let id = srv.upload("truncated.wav", &bytes);
    let rec = srv.wait_final(id);
    assert_eq!(rec["status"], "FAILED", "{rec}");
    assert_eq!(rec["attempts"], 3, "{rec}");
    assert_eq!(rec["error"]["code"], "truncated_media", "{rec}");
    assert!(rec["error"]["message"].as_str().unwrap().contains("truncated"));
    // The counter moves just after the record turns FAILED (it counts only
    // what was written), so the scrape waits for it rather than racing it.
    srv.eventually("the failure to be counted", 10, |s| {
        s.get("/metrics")
            .text
            .contains("sonica_jobs_total{outcome=\"failed\"} 1")
    });
    let metrics = srv.get("/metrics").text;
    assert!(
        metrics.contains("sonica_jobs_total{outcome=\"retried\"} 2"),
        "{metrics}"
    );
    // A failed job stays failed across restarts (it is not retried forever).
    srv.kill();
    let srv = Server::start(dir.path(), &["--watch", "false"]);
    assert_eq!(srv.get(&format!("/tracks/{id}")).json["status"], "FAILED");
    // Deleting it removes its record and its file.
    assert_eq!(srv.delete(&format!("/tracks/{id}"), &[]).status, 200);
    assert!(files_under(&srv.songs).iter().all(|p| !p.ends_with("truncated.wav")));
}

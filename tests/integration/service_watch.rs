//! The watched songs folder: added and replaced files are ingested, removed
//! ones leave the library, half-copied files wait until they are complete.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::audio;
use crate::server::{wav_bytes, Server};

const RATE: u32 = 16_000;

fn songs(srv: &Server) -> Vec<Value> {
    srv.get("/songs").json["songs"].as_array().cloned().unwrap_or_default()
}

fn ready_at(srv: &Server, path: &std::path::Path) -> Option<u32> {
    songs(srv)
        .iter()
        .find(|s| s["path"] == path.to_str().unwrap() && s["status"] == "READY")
        .map(|s| s["id"].as_u64().unwrap() as u32)
}

#[test]
fn added_replaced_and_removed_files_follow_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let a = audio::song(8001, 20.0, RATE);
    let b = audio::song(8002, 20.0, RATE);
    let clip_a = wav_bytes(dir.path(), "ca.wav", &audio::slice(&a, RATE, 3.0, 5.0), RATE);
    let clip_b = wav_bytes(dir.path(), "cb.wav", &audio::slice(&b, RATE, 3.0, 5.0), RATE);

    // Add: written elsewhere, then moved in (as a finished copy).
    let staged = dir.path().join("a.wav");
    audio::wav(&staged, &a, RATE);
    let target = srv.songs.join("sub").join("track.wav");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::rename(&staged, &target).unwrap();
    srv.eventually("the added file to be READY", 30, |s| ready_at(s, &target).is_some());
    let first = ready_at(&srv, &target).unwrap();
    assert_eq!(srv.recognize("ca.wav", &clip_a).json["match"]["id"], first);

    // Replace: same path, other audio.
    let staged = dir.path().join("b.wav");
    audio::wav(&staged, &b, RATE);
    std::fs::rename(&staged, &target).unwrap();
    srv.eventually("the replaced file to be READY again", 30, |s| {
        ready_at(s, &target).is_some_and(|id| id != first)
    });
    let second = ready_at(&srv, &target).unwrap();
    assert_eq!(srv.recognize("cb.wav", &clip_b).json["match"]["id"], second);
    assert!(
        srv.recognize("ca.wav", &clip_a).json["match"].is_null(),
        "old audio is gone"
    );
    assert_eq!(songs(&srv).len(), 1);

    // Remove.
    std::fs::remove_file(&target).unwrap();
    srv.eventually("the removed file's track to go", 30, |s| songs(s).is_empty());
    assert_eq!(srv.get(&format!("/tracks/{second}")).status, 404);
}

#[test]
fn a_half_copied_file_waits_until_it_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let song = audio::song(8100, 20.0, RATE);
    let bytes = wav_bytes(dir.path(), "x.wav", &song, RATE);
    let target = srv.songs.join("slow.wav");
    let mut f = std::fs::File::create(&target).unwrap();
    // Copy slowly: a chunk every 100 ms, each well inside the settle time.
    for chunk in bytes.chunks(bytes.len() / 12 + 1) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(f);
    srv.eventually("the copied file to be READY", 30, |s| ready_at(s, &target).is_some());
    let all = songs(&srv);
    assert_eq!(all.len(), 1, "one track, never a failed half: {all:?}");
    assert!((all[0]["duration_s"].as_f64().unwrap() - 20.0).abs() < 0.5);
}

#[test]
fn files_added_while_down_are_found_at_start_and_removal_can_be_off() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("songs")).unwrap();
    let target = dir.path().join("songs").join("early.wav");
    audio::wav(&target, &audio::song(8200, 15.0, RATE), RATE);
    let srv = Server::start(dir.path(), &["--watch-remove", "false"]);
    let target = srv.songs.join("early.wav");
    srv.eventually("the file found by the start scan", 30, |s| {
        ready_at(s, &target).is_some()
    });
    std::fs::remove_file(&target).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(songs(&srv).len(), 1, "removal is switched off");
}

//! API keys on write routes (and optionally reads), and the per-client rate
//! limit with its 429 and Retry-After.

use crate::audio;
use crate::server::{wav_bytes, Part, Server};

#[test]
fn keys_guard_writes_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let song = wav_bytes(dir.path(), "a.wav", &audio::song(7700, 8.0, 8000), 8000);
    let srv = Server::start(dir.path(), &["--api-keys", "k1,k2"]);
    let part = [Part::file("file", "a.wav", &song)];
    let no = srv.post_form("/tracks", &part, &[]);
    assert_eq!(no.status, 401, "{}", no.text);
    assert_eq!(no.json["error"]["code"], "unauthorized");
    let wrong = srv.post_form("/tracks", &part, &[("Authorization", "Bearer nope")]);
    assert_eq!(wrong.status, 401);
    let bearer = srv.post_form("/tracks", &part, &[("Authorization", "Bearer k2")]);
    assert_eq!(bearer.status, 201, "{}", bearer.text);
    let id = bearer.json["id"].as_u64().unwrap();
    // Reads and recognition stay open by default.
    assert_eq!(srv.get(&format!("/tracks/{id}")).status, 200);
    assert_eq!(srv.recognize("a.wav", &song).status, 200);
    assert_eq!(srv.delete(&format!("/tracks/{id}"), &[]).status, 401);
    assert_eq!(srv.delete(&format!("/tracks/{id}"), &[("X-API-Key", "k1")]).status, 200);
    drop(srv);

    let dir2 = tempfile::tempdir().unwrap();
    let strict = Server::start(dir2.path(), &["--api-keys", "k1", "--protect-reads", "true"]);
    assert_eq!(strict.get("/songs").status, 401);
    assert_eq!(strict.get("/health").status, 401, "/health follows --protect-reads");
    assert_eq!(strict.recognize("a.wav", &song).status, 401);
    let ok = strict.post_form(
        "/recognize",
        &[Part::file("audio", "a.wav", &song)],
        &[("X-API-Key", "k1")],
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    drop(strict);

    // Without keys, writes are open, but not to another site's page.
    let dir3 = tempfile::tempdir().unwrap();
    let open = Server::start(dir3.path(), &[]);
    assert_eq!(open.post_form("/tracks", &part, &[]).status, 201);
    let host = format!("127.0.0.1:{}", open.port);
    let evil = open.post_form("/tracks", &part, &[("Origin", "http://evil.example")]);
    assert_eq!(evil.status, 403, "{}", evil.text);
    assert_eq!(evil.json["error"]["code"], "forbidden_origin");
    let same = format!("http://{host}");
    let page = open.post_form(
        "/tracks",
        &[Part::file("file", "b.wav", &song)],
        &[("Origin", same.as_str())],
    );
    assert_eq!(page.status, 201, "the web page's own origin may write: {}", page.text);
    assert_eq!(
        open.delete("/tracks/1", &[("Origin", "http://evil.example")]).status,
        403
    );
}

#[test]
fn recognition_is_rate_limited_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let clip = wav_bytes(dir.path(), "c.wav", &audio::song(7800, 3.0, 8000), 8000);
    let srv = Server::start(dir.path(), &["--rate-limit", "1", "--rate-burst", "3"]);
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..6 {
        let r = srv.recognize("c.wav", &clip);
        if r.status == 429 {
            assert_eq!(r.json["error"]["code"], "rate_limited");
            retry = r.retry_after.clone();
        }
        statuses.push(r.status);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let secs: u64 = retry.expect("Retry-After on a 429").parse().unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
    // Reads are not limited.
    assert_eq!(srv.get("/health").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1100 * secs));
    assert_eq!(
        srv.recognize("c.wav", &clip).status,
        200,
        "allowed again after Retry-After"
    );
}

#[test]
fn settings_come_from_a_toml_file_and_flags_beat_it() {
    let dir = tempfile::tempdir().unwrap();
    let song = wav_bytes(dir.path(), "a.wav", &audio::song(7850, 8.0, 8000), 8000);
    let cfg = dir.path().join("sonica.toml");
    std::fs::write(&cfg, "api_keys = [\"from-file\"]\nmax_upload_mb = 0.01\n").unwrap();
    let srv = Server::start(dir.path(), &["--config", cfg.to_str().unwrap(), "--max-upload-mb", "5"]);
    let part = [Part::file("file", "a.wav", &song)];
    assert_eq!(
        srv.post_form("/tracks", &part, &[]).status,
        401,
        "the file's key is required"
    );
    let ok = srv.post_form("/tracks", &part, &[("X-API-Key", "from-file")]);
    assert_eq!(
        ok.status, 201,
        "the flag's 5 MB limit beats the file's 10 kB: {}",
        ok.text
    );
    drop(srv);

    // A setting the file gets wrong stops the start with a message naming it.
    std::fs::write(&cfg, "max_uplod_mb = 3\n").unwrap();
    let out = std::process::Command::new(crate::common::bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_uplod_mb"));
}

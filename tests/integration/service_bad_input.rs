//! Every kind of bad request gets one precise error with the right status,
//! never a 500, and leaves nothing behind: no file, no record.

use crate::audio;
use crate::server::{files_under, multipart, wav_bytes, Part, Server};

const RATE: u32 = 22_050;

fn assert_error(r: &crate::server::Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
    assert!(
        !r.json["error"]["message"].as_str().unwrap_or("").is_empty(),
        "a message is required: {}",
        r.text
    );
}

#[test]
fn bad_uploads_are_refused_precisely_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &["--max-upload-mb", "1", "--max-clip-s", "8"]);
    let good = wav_bytes(dir.path(), "g.wav", &audio::song(7500, 10.0, 8000), 8000);

    // Missing file part.
    let r = srv.post_form("/tracks", &[Part::text("title", "x")], &[]);
    assert_error(&r, 400, "missing_field");
    // Empty file.
    assert_error(
        &srv.post_form("/tracks", &[Part::file("file", "e.wav", b"")], &[]),
        400,
        "empty_file",
    );
    // Not audio at all.
    assert_error(
        &srv.post_form(
            "/tracks",
            &[Part::file("file", "notes.txt", b"hello, this is text")],
            &[],
        ),
        415,
        "unsupported_media",
    );
    // A WAV header over garbage.
    let mut corrupt = good[..44].to_vec();
    corrupt.extend(std::iter::repeat_n(0xAB, 5000));
    corrupt[20] = 0x55; // nonsense audio format tag
    let r = srv.post_form("/tracks", &[Part::file("file", "c.wav", &corrupt)], &[]);
    assert!(r.status == 415 || r.status == 422, "{}", r.text);
    // Over the size limit.
    let big = vec![0u8; 1024 * 1024 + 10];
    assert_error(
        &srv.post_form("/tracks", &[Part::file("file", "big.wav", &big)], &[]),
        413,
        "payload_too_large",
    );
    // Not multipart.
    assert_error(
        &srv.post_raw("/tracks", "application/json", b"{\"file\": 1}"),
        415,
        "unsupported_content_type",
    );
    // Multipart cut off in the middle.
    let (ct, body) = multipart(&[Part::file("file", "g.wav", &good)]);
    let r = srv.post_raw("/tracks", &ct, &body[..body.len() / 2]);
    assert!(r.status == 400, "{}", r.text);
    // Two files.
    let r = srv.post_form(
        "/tracks",
        &[Part::file("file", "a.wav", &good), Part::file("audio", "b.wav", &good)],
        &[],
    );
    assert_error(&r, 400, "bad_request");

    // Nothing partial: no file in the songs folder (incoming included), no record.
    let left = files_under(&srv.songs);
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(srv.get("/songs").json["total"], 0);
    assert_eq!(srv.get("/health").json["status"], "ok");

    // The server is still fine for a good upload.
    let id = srv.upload("g.wav", &good);
    assert_eq!(srv.wait_final(id)["status"], "READY");
}

#[test]
fn bad_recognitions_and_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &["--max-clip-s", "8"]);
    let long = wav_bytes(dir.path(), "l.wav", &audio::song(7600, 12.0, RATE), RATE);
    assert_error(&srv.recognize("l.wav", &long), 422, "audio_too_long");
    let short = wav_bytes(dir.path(), "s.wav", &audio::song(7601, 0.3, RATE), RATE);
    assert_error(&srv.recognize("s.wav", &short), 422, "audio_too_short");
    assert_error(&srv.recognize("x.bin", &[0u8; 3000]), 415, "unsupported_media");
    assert_error(&srv.recognize("e.wav", b""), 400, "empty_file");
    assert_error(
        &srv.post_form("/recognize", &[Part::text("title", "x")], &[]),
        400,
        "missing_field",
    );
    assert_eq!(srv.post_form("/recognize", &[], &[]).status, 400, "an empty form");
    assert_error(
        &srv.post_raw("/recognize", "text/plain", b"hi"),
        415,
        "unsupported_content_type",
    );

    assert_error(&srv.get("/tracks/12345"), 404, "unknown_track");
    assert_error(&srv.get("/tracks/abc"), 400, "bad_request");
    assert_error(&srv.get("/tracks/0"), 400, "bad_request");
    assert_error(&srv.delete("/tracks/99", &[]), 404, "unknown_track");
    assert_error(&srv.get("/songs?limit=abc"), 400, "bad_request");
    assert_error(&srv.get("/songs?limit=0"), 400, "bad_request");
    assert_error(&srv.get("/nowhere"), 404, "route_not_found");
    assert_error(
        &srv.post_raw("/health", "application/json", b"{"),
        405,
        "method_not_allowed",
    );
    assert_eq!(srv.get("/health").status, 200, "still up");
}

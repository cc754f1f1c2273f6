//! The mastering assistant over HTTP, as a user meets it: mark library
//! tracks as references of a genre, analyse a mix against the genre or
//! chosen references, read the analysis back, hear its preview, find the
//! closest references; retention bounds what is kept; every mistake gets
//! one precise error.

use serde_json::{json, Value};

use crate::audio::{song, stereo, write_wav, Fmt};
use crate::server::{Part, Server};

const RATE: u32 = 44_100;

fn wav(dir: &std::path::Path, name: &str, x: &[f32], channels: u16) -> Vec<u8> {
    let p = dir.join(name);
    write_wav(&p, x, RATE, channels, Fmt::I16);
    std::fs::read(p).unwrap()
}

fn mark(srv: &Server, track_id: u32, genre: &str) -> crate::server::Reply {
    let body = json!({"track_id": track_id, "genre": genre}).to_string();
    srv.post_raw("/api/references", "application/json", body.as_bytes())
}

fn analyze(srv: &Server, query: &str, name: &str, bytes: &[u8]) -> crate::server::Reply {
    srv.post_form(
        &format!("/api/analyze?{query}"),
        &[Part::file("file", name, bytes)],
        &[],
    )
}

fn code(r: &crate::server::Reply) -> &str {
    r.json["error"]["code"].as_str().unwrap_or("")
}

fn recs(v: &Value, kind: &str) -> usize {
    v["comparison"]["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .count()
}

#[test]
fn references_analyses_previews_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let srv = Server::start(d, &["--rate-limit", "0", "--analyses-keep", "3"]);
    let a = song(301, 40.0, RATE);
    let b = song(302, 40.0, RATE);
    let ida = srv.upload("a.wav", &wav(d, "a.wav", &stereo(&a, 0.5), 2));
    let idb = srv.upload("b.wav", &wav(d, "b.wav", &stereo(&b, 0.5), 2));
    assert_eq!(srv.wait_final(ida)["status"], "READY");
    assert_eq!(srv.wait_final(idb)["status"], "READY");

    // Marking: a genre is normalised; mistakes are named.
    let r = mark(&srv, ida, "  Test Genre ");
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["genre"], "test genre");
    assert!(r.json["lufs"].as_f64().unwrap() < -5.0);
    assert_eq!(mark(&srv, idb, "test genre").status, 201);
    let r = mark(&srv, 9999, "rock");
    assert_eq!((r.status, code(&r)), (404, "unknown_track"));
    let r = mark(&srv, ida, "<script>");
    assert_eq!((r.status, code(&r)), (400, "invalid_parameter"), "{}", r.text);
    let r = srv.post_raw("/api/references", "application/json", b"{\"track_id\": ");
    assert_eq!((r.status, code(&r)), (400, "bad_request"));
    let r = srv.post_raw("/api/references", "text/plain", b"x");
    assert_eq!((r.status, code(&r)), (415, "unsupported_content_type"));
    let r = srv.post_raw(
        "/api/references",
        "application/json",
        br#"{"track_id": 1, "genre": "x", "more": 1}"#,
    );
    assert_eq!((r.status, code(&r)), (400, "bad_request"), "unknown fields are refused");
    for body in [
        r#"{"track_id": -1, "genre": "x"}"#,
        r#"{"track_id": 99999999999, "genre": "x"}"#,
        r#"{"track_id": "1", "genre": "x"}"#,
        r#"{"track_id": 1, "genre": 7}"#,
        r#"[1, "x"]"#,
        "",
    ] {
        let r = srv.post_raw("/api/references", "application/json", body.as_bytes());
        assert_eq!((r.status, code(&r)), (400, "bad_request"), "{body}: {}", r.text);
    }
    let r = mark(&srv, ida, "../../etc");
    assert_eq!((r.status, code(&r)), (400, "invalid_parameter"), "{}", r.text);
    let huge = format!(r#"{{"track_id": 1, "genre": "{}"}}"#, "x".repeat(40_000));
    let r = srv.post_raw("/api/references", "application/json", huge.as_bytes());
    assert_eq!((r.status, code(&r)), (413, "payload_too_large"), "{}", r.text);

    let r = srv.get("/api/references?genre=Test%20Genre");
    assert_eq!(r.status, 200);
    assert_eq!(r.json["references"].as_array().unwrap().len(), 2);
    let g = r.json["genres"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["genre"] == "test genre")
        .cloned();
    assert_eq!(g.unwrap()["references"], 2);

    // A quieter, mono-compatible copy of A against the genre: told to go
    // louder; prescriptive answers carry the curve and a preview.
    let mix = wav(d, "mix.wav", &stereo(&a, 0.25), 2);
    let r = analyze(
        &srv,
        "genre=test%20genre&recommendation_level=prescriptive",
        "mix.wav",
        &mix,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_u64().unwrap();
    assert_eq!(r.json["source"]["kind"], "genre");
    assert_eq!(r.json["comparison"]["bands"].as_array().unwrap().len(), 31);
    assert_eq!(r.json["comparison"]["eq"].as_array().unwrap().len(), 31);
    assert!(
        r.json["comparison"]["gain_db"].as_f64().unwrap() > 3.0,
        "{}",
        r.json["comparison"]["gain_db"]
    );
    assert!(recs(&r.json, "loudness") >= 1);
    let stored = srv.get(&format!("/api/analysis/{id}"));
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json["comparison"], r.json["comparison"], "read back as answered");
    let (status, bytes) = srv.get_bytes(r.json["preview_url"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_eq!(&bytes[..4], b"RIFF");
    let samples: Vec<f32> = bytes[44..]
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect();
    let secs = samples.len() as f64 / 2.0 / f64::from(RATE);
    assert!((29.0..=30.01).contains(&secs), "{secs} s");
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(
        peak <= 0.9 && peak > 0.3,
        "the preview is louder and under -1 dBTP: peak {peak}"
    );

    // Against chosen references: A alone. Its copy at half the level needs
    // +6 dB and no EQ.
    let r = analyze(
        &srv,
        &format!("references={ida}&recommendation_level=prescriptive"),
        "mix.wav",
        &mix,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let gain = r.json["comparison"]["gain_db"].as_f64().unwrap();
    assert!((gain - 6.02).abs() < 0.3, "gain {gain}");
    assert_eq!(recs(&r.json, "band"), 0, "{}", r.json["comparison"]["recommendations"]);
    let informative = analyze(
        &srv,
        &format!("references={ida}&recommendation_level=informative"),
        "mix.wav",
        &mix,
    );
    assert!(informative.json["comparison"].get("eq").is_none());

    // The closest references by mastering vector.
    let r = srv.post_raw(
        &format!("/api/similarity/{id}?genre=test%20genre&top_k=1"),
        "application/json",
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["results"].as_array().unwrap().len(), 1);
    let r = srv.post_raw(&format!("/api/similarity/{id}?top_k=0"), "application/json", b"");
    assert_eq!((r.status, code(&r)), (400, "invalid_parameter"));

    // Mono: width does not apply, and nothing is said about it.
    let mono = wav(d, "mono.wav", &a.iter().map(|s| s * 0.5).collect::<Vec<_>>(), 1);
    let r = analyze(&srv, "genre=test%20genre", "mono.wav", &mono);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(recs(&r.json, "width") + recs(&r.json, "band_width"), 0);

    // Every mistake, precisely.
    let silence = wav(d, "silence.wav", &vec![0.0; 2 * RATE as usize * 5], 2);
    for (query, bytes, status, want) in [
        ("references=9999".to_string(), &mix, 404, "unknown_reference"),
        (format!("references={idb},9999"), &mix, 404, "unknown_reference"),
        ("genre=polka".to_string(), &mix, 404, "unknown_genre"),
        ("genre=%3Cb%3E".to_string(), &mix, 400, "invalid_parameter"),
        (String::new(), &mix, 400, "invalid_parameter"),
        (format!("genre=test&references={ida}"), &mix, 400, "invalid_parameter"),
        ("references=1,x".to_string(), &mix, 400, "invalid_parameter"),
        (
            "genre=test%20genre&recommendation_level=loud".to_string(),
            &mix,
            400,
            "invalid_parameter",
        ),
        ("genre=test%20genre&colour=red".to_string(), &mix, 400, "bad_request"),
        ("genre=test%20genre".to_string(), &silence, 422, "audio_silent"),
    ] {
        let r = analyze(&srv, &query, "x.wav", bytes);
        assert_eq!((r.status, code(&r)), (status, want), "{query}: {}", r.text);
        assert!(r.json["error"]["message"].as_str().unwrap().len() > 10);
    }
    let r = srv.post_form("/api/analyze?genre=test%20genre", &[Part::text("title", "x")], &[]);
    assert_eq!((r.status, code(&r)), (400, "missing_field"));
    let r = srv.get("/api/analysis/abc");
    assert_eq!((r.status, code(&r)), (400, "bad_request"));
    let r = srv.get("/api/analysis/99999");
    assert_eq!((r.status, code(&r)), (404, "unknown_analysis"));
    for bad in ["0", "-3", "99999999999999999999999", "1.5", "%00"] {
        let r = srv.get(&format!("/api/analysis/{bad}"));
        assert_eq!((r.status, code(&r)), (400, "bad_request"), "{bad}: {}", r.text);
    }
    let r = srv.post_raw("/api/similarity/1?top_k=100000", "application/json", b"");
    assert_eq!((r.status, code(&r)), (400, "invalid_parameter"));
    let (status, _) = srv.get_bytes("/api/analysis/99999/preview.wav");
    assert_eq!(status, 404);

    // Retention: three kept, so the first analysis is gone.
    let r = srv.get(&format!("/api/analysis/{id}"));
    assert_eq!((r.status, code(&r)), (404, "unknown_analysis"), "{}", r.text);

    // Unmarking, and deleting a reference's track, take it out.
    assert_eq!(srv.delete(&format!("/api/references/{ida}"), &[]).status, 204);
    let r = srv.delete(&format!("/api/references/{ida}"), &[]);
    assert_eq!((r.status, code(&r)), (404, "unknown_reference"));
    assert_eq!(srv.delete(&format!("/tracks/{idb}"), &[]).status, 200);
    let r = srv.get("/api/references");
    assert!(r.json["references"].as_array().unwrap().is_empty(), "{}", r.text);
    let r = analyze(&srv, "genre=test%20genre", "mix.wav", &mix);
    assert_eq!((r.status, code(&r)), (404, "unknown_genre"), "{}", r.text);
}

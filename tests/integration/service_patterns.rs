//! Sections and drum patterns through the service: a track built as
//! drums / calm / drums is uploaded; its sections, pattern objects, MIDI,
//! preview and pattern search are checked, then `POST /analyze` with
//! `instrument=drums` on a cut of it must say it is a stored song's
//! section. Hostile ids, bodies and filters get precise 4xx answers.

use serde_json::{json, Value};

use crate::server::{wav_bytes, Part, Server};
use crate::styles::{track, Style};

const RATE: u32 = 22_050;

/// 14 s of drums, 14 s of calm chords, the same 14 s of drums again.
fn three_parts() -> Vec<f32> {
    let beat = track(Style::Beat, 7, 14.0, RATE);
    let calm = track(Style::Calm, 8, 14.0, RATE);
    let mut x = beat.clone();
    x.extend_from_slice(&calm);
    x.extend_from_slice(&beat);
    x
}

fn section_at(sections: &[Value], t: f64) -> &Value {
    sections
        .iter()
        .find(|s| s["start_s"].as_f64().unwrap() <= t && t < s["end_s"].as_f64().unwrap())
        .unwrap_or_else(|| panic!("no section holds {t} s: {sections:?}"))
}

#[test]
fn sections_patterns_and_pattern_search() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let x = three_parts();
    let bytes = wav_bytes(dir.path(), "parts.wav", &x, RATE);
    let r = srv.post_form(
        "/tracks",
        &[
            Part::file("file", "parts.wav", &bytes),
            Part::text("genre", "electronic"),
        ],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_u64().unwrap() as u32;
    assert_eq!(srv.wait_final(id)["status"], "READY");

    // Sections cover the track in order; the two drum parts repeat each
    // other and differ from the calm middle.
    let a = srv.get(&format!("/tracks/{id}/analysis"));
    assert_eq!(a.status, 200, "{}", a.json);
    let sections = a.json["sections"].as_array().unwrap().clone();
    assert!(sections.len() >= 2 && sections.len() <= 8, "{sections:?}");
    assert_eq!(sections[0]["start_s"].as_f64().unwrap(), 0.0);
    for w in sections.windows(2) {
        assert_eq!(w[0]["end_s"], w[1]["start_s"], "sections must be contiguous");
    }
    let end = sections.last().unwrap()["end_s"].as_f64().unwrap();
    assert!((end - 42.0).abs() < 0.5, "the last section ends at {end}");
    let (first, middle, last) = (
        section_at(&sections, 5.0),
        section_at(&sections, 21.0),
        section_at(&sections, 37.0),
    );
    assert_eq!(first["label"], last["label"], "{sections:?}");
    assert_ne!(first["label"], middle["label"], "{sections:?}");
    let pattern = first["pattern"].clone();
    assert!(pattern.is_object(), "the drum part has a pattern: {first}");
    assert!(middle["pattern"].is_null(), "the calm part has no drums: {middle}");
    let pid = pattern["id"].as_u64().unwrap();
    assert_eq!(pid / 32, u64::from(id), "a pattern id is track × 32 + section");
    assert!(
        !pattern["midi_data"]["kick"].as_array().unwrap().is_empty(),
        "{pattern}"
    );
    assert_eq!(pattern["grid"]["kick"].as_array().unwrap().len(), 16);

    // The pattern as an object, its MIDI and its preview.
    let p = srv.get(&format!("/patterns/{pid}"));
    assert_eq!(p.status, 200, "{}", p.json);
    assert_eq!(p.json["track"]["id"], json!(id));
    assert_eq!(p.json["pattern"]["id"], json!(pid));
    let (status, midi) = srv.get_bytes(&format!("/patterns/{pid}/midi"));
    assert_eq!(status, 200);
    assert_eq!(&midi[..4], b"MThd");
    let (status, wav) = srv.get_bytes(&format!("/patterns/{pid}/preview"));
    assert_eq!(status, 200);
    assert_eq!(&wav[..4], b"RIFF");
    let secs = (wav.len() - 44) as f64 / (2.0 * f64::from(RATE));
    assert!(secs > 5.0 && secs <= 15.0 + 1e-6, "preview of {secs} s");

    // Pattern search by pattern id: the other drum part of the same song
    // comes back, grouped under its track; filters narrow it.
    let s = srv.post_json("/search/patterns", &json!({"pattern_id": pid, "limit": 5}));
    assert_eq!(s.status, 200, "{}", s.json);
    let groups = s.json["results"].as_array().unwrap();
    let own = groups
        .iter()
        .find(|g| g["track_id"] == json!(id))
        .expect("the song's other drum part");
    let matched: Vec<u64> = own["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pattern_id"].as_u64().unwrap())
        .collect();
    assert!(!matched.contains(&pid), "the query itself is left out");
    assert_eq!(s.json["query_info"]["pattern_id"], json!(pid));
    assert!(s.json["total_matches"].as_u64().unwrap() >= 1);
    let by_section = srv.post_json(
        "/search/patterns",
        &json!({"track_id": id, "section": first["index"], "filters": {"genre": ["Electronic"], "tempo_range": [0, 1000]}}),
    );
    assert_eq!(by_section.status, 200, "{}", by_section.json);
    assert_eq!(by_section.json["total_matches"], s.json["total_matches"]);
    let none = srv.post_json(
        "/search/patterns",
        &json!({"pattern_id": pid, "filters": {"genre": ["ambient"]}}),
    );
    assert_eq!(none.status, 200, "{}", none.json);
    assert_eq!(none.json["total_matches"], json!(0));

    // A cut of the stored song, analysed for drums: a duplicate, with the
    // song's sections.
    let cut: Vec<f32> = x[(30.0 * RATE as f32) as usize..(40.0 * RATE as f32) as usize].to_vec();
    let cut_bytes = wav_bytes(dir.path(), "cut.wav", &cut, RATE);
    let d = srv.post_form(
        "/analyze",
        &[
            Part::file("file", "cut.wav", &cut_bytes),
            Part::text("instrument", "drums"),
        ],
        &[],
    );
    assert_eq!(d.status, 200, "{}", d.json);
    assert_eq!(d.json["duplicate_detected"], json!(true), "{}", d.json);
    assert_eq!(d.json["match"]["track_id"], json!(id));
    assert_eq!(d.json["existing_sections"].as_array().unwrap().len(), sections.len());
    assert!(d.json["section"]["midi_data"]["kick"].is_array(), "{}", d.json);

    // Hostile input: precise client errors, nothing else.
    for (path, status, code) in [
        ("/patterns/0".to_string(), 400, "bad_request"),
        ("/patterns/31".to_string(), 400, "bad_request"),
        ("/patterns/-5".to_string(), 400, "bad_request"),
        ("/patterns/abc".to_string(), 400, "bad_request"),
        ("/patterns/99999999999999999999999".to_string(), 400, "bad_request"),
        (format!("/patterns/{}", u64::from(id) * 32 + 31), 404, "unknown_pattern"),
        (
            format!("/patterns/{}", (u64::from(id) + 50) * 32),
            404,
            "unknown_pattern",
        ),
        (format!("/patterns/{}/midi", u64::MAX), 404, "unknown_pattern"),
        (
            format!("/patterns/{}/preview", (u64::from(id) + 50) * 32),
            404,
            "unknown_pattern",
        ),
    ] {
        let r = srv.get(&path);
        assert_eq!(r.status, status, "{path}: {}", r.json);
        assert_eq!(r.json["error"]["code"], code, "{path}: {}", r.json);
    }
    for (body, code) in [
        (json!({}), "invalid_parameter"),
        (
            json!({"pattern_id": pid, "track_id": id, "section": 0}),
            "invalid_parameter",
        ),
        (json!({"track_id": id}), "invalid_parameter"),
        (json!({"pattern_id": pid, "limit": 0}), "invalid_parameter"),
        (json!({"pattern_id": pid, "limit": 1e9}), "invalid_parameter"),
        (json!({"pattern_id": pid, "min_similarity": 3}), "invalid_parameter"),
        (
            json!({"pattern_id": pid, "filters": {"key": ["H major"]}}),
            "invalid_parameter",
        ),
        (
            json!({"pattern_id": pid, "filters": {"tempo_range": [200, 100]}}),
            "invalid_parameter",
        ),
        (
            json!({"pattern_id": pid, "filters": {"genre": vec!["x"; 1000]}}),
            "invalid_parameter",
        ),
        (
            json!({"pattern_id": pid, "filters": {"mood": "happy"}}),
            "invalid_parameter",
        ),
        (json!({"pattern_id": "1; drop"}), "invalid_parameter"),
        (json!([1, 2]), "bad_request"),
    ] {
        let r = srv.post_json("/search/patterns", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        assert_eq!(r.json["error"]["code"], code, "{body}: {}", r.json);
    }
    let r = srv.post_json("/search/patterns", &json!({"pattern_id": (u64::from(id) + 50) * 32}));
    assert_eq!(r.status, 404, "{}", r.json);
    let r = srv.post_raw("/search/patterns", "application/json", b"{\"pattern_id\": ");
    assert_eq!((r.status, r.json["error"]["code"].as_str()), (400, Some("bad_request")));
    let r = srv.post_raw("/search/patterns", "text/plain", b"hello");
    assert_eq!(r.status, 415, "{}", r.json);
    let r = srv.post_form(
        "/analyze",
        &[
            Part::file("file", "cut.wav", &cut_bytes),
            Part::text("instrument", "kazoo"),
        ],
        &[],
    );
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    // A clip with no drums has no pattern to search with.
    let calm = wav_bytes(dir.path(), "calm.wav", &track(Style::Calm, 9, 12.0, RATE), RATE);
    let r = srv.post_form("/search/patterns", &[Part::file("file", "calm.wav", &calm)], &[]);
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (422, Some("no_pattern")),
        "{}",
        r.json
    );

    // Deleting the track drops its patterns.
    assert_eq!(srv.delete(&format!("/tracks/{id}"), &[]).status, 200);
    let r = srv.get(&format!("/patterns/{pid}"));
    assert_eq!(r.status, 404, "{}", r.json);
    let r = srv.post_json("/search/patterns", &json!({"pattern_id": pid}));
    assert_eq!(r.status, 404, "{}", r.json);
}

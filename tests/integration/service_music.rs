//! Analysis, similarity and search through the service: generated tracks
//! of two styles are uploaded, then every filter combination, the empty
//! result, unknown ids, bad parameters, text+audio search, deletion and a
//! restart are checked against what the analysis itself reports.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::server::{wav_bytes, Part, Server};
use crate::styles::{track, Style};

const RATE: u32 = 22_050;

fn ids(v: &Value) -> Vec<u32> {
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {v}"))
        .iter()
        .map(|r| r["id"].as_u64().unwrap() as u32)
        .collect()
}

/// What the service says about one track, to predict filter results.
struct Known {
    id: u32,
    genre: &'static str,
    tempo: f64,
    key: String,
}

fn upload(srv: &Server, dir: &std::path::Path, name: &str, x: &[f32], genre: &str, title: &str) -> u32 {
    let bytes = wav_bytes(dir, name, x, RATE);
    let r = srv.post_form(
        "/tracks",
        &[
            Part::file("file", name, &bytes),
            Part::text("genre", genre),
            Part::text("title", title),
        ],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_u64().unwrap() as u32
}

fn query(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('#', "%23")))
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn analysis_similarity_and_search_flow() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let specs = [
        (Style::Beat, 11, "electronic", "Neon Harbor"),
        (Style::Beat, 12, "electronic", "Neon Garden"),
        (Style::Beat, 13, "electronic", "Silent Engine"),
        (Style::Calm, 21, "ambient", "Quiet Meadow"),
        (Style::Calm, 22, "ambient", "Quiet Lantern"),
        (Style::Calm, 23, "ambient", "Hollow River"),
    ];
    let mut known = Vec::new();
    for (i, (style, seed, genre, title)) in specs.iter().enumerate() {
        let x = track(*style, *seed, 24.0, RATE);
        let id = upload(&srv, dir.path(), &format!("t{i}.wav"), &x, genre, title);
        known.push((id, *genre));
    }
    let mut tracks = Vec::new();
    for (id, genre) in known {
        assert_eq!(srv.wait_final(id)["status"], "READY");
        let a = srv.get(&format!("/tracks/{id}/analysis"));
        assert_eq!(a.status, 200, "{}", a.json);
        for field in [
            "tempo_bpm",
            "key",
            "key_strength",
            "loudness_lufs",
            "loudness_range_lu",
            "true_peak_dbtp",
        ] {
            assert!(!a.json[field].is_null(), "{field} missing in {}", a.json);
        }
        assert!(a.json["bands"]["low"].is_object() && a.json["bands"]["high"].is_object());
        tracks.push(Known {
            id,
            genre,
            tempo: a.json["tempo_bpm"].as_f64().unwrap(),
            key: a.json["key"].as_str().unwrap().to_string(),
        });
    }
    let beat1 = tracks[0].id;
    let calm1 = tracks[3].id;

    // Nearest neighbours stay within the style, for every kind of vector.
    for kind in ["timbre", "rhythm", "mixed"] {
        let r = srv.get(&format!("/tracks/{beat1}/similar?top_k=2&kind={kind}"));
        assert_eq!(r.status, 200, "{}", r.json);
        let got = ids(&r.json);
        assert_eq!(got.len(), 2);
        assert!(!got.contains(&beat1), "the query track is not its own neighbour");
        if kind != "rhythm" {
            let got: BTreeSet<u32> = got.into_iter().collect();
            assert_eq!(got, BTreeSet::from([tracks[1].id, tracks[2].id]), "{kind}: {}", r.json);
        }
    }
    let r = srv.get(&format!("/tracks/{calm1}/similar?top_k=2&kind=timbre"));
    let got: BTreeSet<u32> = ids(&r.json).into_iter().collect();
    assert_eq!(got, BTreeSet::from([tracks[4].id, tracks[5].id]), "{}", r.json);

    // Every combination of the four filters gives exactly the tracks whose
    // own analysis passes it (the query track aside).
    let probe = &tracks[1];
    for mask in 0u32..16 {
        let mut params = vec![("top_k", "100".to_string())];
        let mut expect: BTreeSet<u32> = tracks.iter().map(|t| t.id).filter(|&i| i != beat1).collect();
        if mask & 1 != 0 {
            params.push(("genre", "Electronic".into()));
            expect.retain(|i| tracks.iter().any(|t| t.id == *i && t.genre == "electronic"));
        }
        if mask & 2 != 0 {
            params.push(("key", probe.key.clone()));
            expect.retain(|i| tracks.iter().any(|t| t.id == *i && t.key == probe.key));
        }
        let lo = probe.tempo - 5.0;
        let hi = probe.tempo + 5.0;
        if mask & 4 != 0 {
            params.push(("tempo_min", format!("{lo}")));
            expect.retain(|i| tracks.iter().any(|t| t.id == *i && t.tempo >= lo));
        }
        if mask & 8 != 0 {
            params.push(("tempo_max", format!("{hi}")));
            expect.retain(|i| tracks.iter().any(|t| t.id == *i && t.tempo <= hi));
        }
        let r = srv.get(&format!("/tracks/{beat1}/similar?{}", query(&params)));
        assert_eq!(r.status, 200, "{}", r.json);
        let got: BTreeSet<u32> = ids(&r.json).into_iter().collect();
        let seen: Vec<(u32, f64, &str)> = tracks.iter().map(|t| (t.id, t.tempo, t.key.as_str())).collect();
        let text_side = ids(&srv.get(&format!("/search?limit=100&{}", query(&params[1..]))).json);
        assert_eq!(
            got, expect,
            "filters {params:?}; tracks {seen:?}; text allows {text_side:?}"
        );
    }

    // An empty result set is an empty list, not an error.
    let r = srv.get(&format!("/tracks/{beat1}/similar?genre=polka"));
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.json), Vec::<u32>::new());
    let r = srv.get("/search?q=zzzzqqq");
    assert_eq!((r.status, r.json["total"].as_u64()), (200, Some(0)), "{}", r.json);

    // Unknown ids.
    for path in [
        "/tracks/9999/similar",
        "/tracks/9999/analysis",
        "/tracks/9999/pattern.mid",
    ] {
        let r = srv.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.json);
        assert_eq!(r.json["error"]["code"], "unknown_track");
    }

    // Bad parameters: a 400 each, with a message naming the problem.
    for (q, want) in [
        ("tempo_min=140&tempo_max=100", "greater than tempo_max"),
        ("key=H%20minor", "is not a key"),
        ("top_k=0", "top_k"),
        ("top_k=1e9", "top_k"),
        ("kind=melody", "kind"),
        ("min_similarity=3", "min_similarity"),
    ] {
        let r = srv.get(&format!("/tracks/{beat1}/similar?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.json);
        assert_eq!(r.json["error"]["code"], "invalid_parameter", "{q}");
        assert!(
            r.json["error"]["message"].as_str().unwrap().contains(want),
            "{q}: {}",
            r.json
        );
    }
    let r = srv.get("/search?q=neon&limit=0");
    assert_eq!(r.status, 400, "{}", r.json);

    // Text search: prefix, typo, filters and facets.
    let r = srv.get("/search?q=neo");
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        ids(&r.json).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([tracks[0].id, tracks[1].id])
    );
    let r = srv.get("/search?q=quiett");
    assert_eq!(
        ids(&r.json).len(),
        2,
        "one typo still finds both Quiet tracks: {}",
        r.json
    );
    let r = srv.get("/search?genre=ambient");
    assert_eq!(r.json["total"], 3, "{}", r.json);
    let facets = &r.json["facets"]["genre"];
    assert_eq!(facets[0]["value"], "ambient");
    assert_eq!(facets[0]["count"], 3);
    let r = srv.get("/search?q=neon&genre=ambient");
    assert_eq!(r.json["total"], 0);

    // Similar by clip (multipart) and by id (JSON).
    let clip = crate::audio::slice(&track(Style::Beat, 11, 24.0, RATE), RATE, 2.0, 12.0);
    let clip_bytes = wav_bytes(dir.path(), "clip.wav", &clip, RATE);
    let r = srv.post_form(
        "/search/similar",
        &[Part::file("file", "clip.wav", &clip_bytes), Part::text("top_k", "3")],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(ids(&r.json)[0], beat1, "{}", r.json);
    let body = json!({"track_id": calm1, "top_k": 2, "filters": {"genre": "ambient"}}).to_string();
    let r = srv.post_raw("/search/similar", "application/json", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(ids(&r.json).len(), 2);
    let r = srv.post_raw("/search/similar", "application/json", b"{\"track_id\": ");
    assert_eq!(r.status, 400, "{}", r.json);

    // Text and audio together: a known clip is identified and leads.
    let r = srv.post_form(
        "/search",
        &[Part::file("file", "clip.wav", &clip_bytes), Part::text("q", "neon")],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["identified"], true, "{}", r.json);
    let first = &r.json["results"][0];
    assert_eq!(first["id"], beat1);
    assert_eq!(first["reasons"][0]["kind"], "identified");
    // An unknown clip: ranked by similarity, restricted to the text.
    let fresh = track(Style::Beat, 99, 16.0, RATE);
    let fresh_bytes = wav_bytes(dir.path(), "fresh.wav", &fresh, RATE);
    let r = srv.post_form(
        "/search",
        &[Part::file("file", "fresh.wav", &fresh_bytes), Part::text("q", "quiet")],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["identified"], false);
    let got: BTreeSet<u32> = ids(&r.json).into_iter().collect();
    assert_eq!(got, BTreeSet::from([tracks[3].id, tracks[4].id]), "{}", r.json);
    assert!(r.json["results"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["kind"] == "similarity"));

    // The drum pattern as MIDI.
    let r = srv.get_bytes(&format!("/tracks/{beat1}/pattern.mid?start_s=0&end_s=8"));
    assert_eq!(r.0, 200);
    assert!(r.1.starts_with(b"MThd"), "a Standard MIDI File");
    assert_eq!(
        srv.get(&format!("/tracks/{beat1}/pattern.mid?start_s=5&end_s=2"))
            .status,
        400
    );

    // Deleting a track removes it from similar and search results.
    let gone = tracks[1].id;
    assert_eq!(srv.delete(&format!("/tracks/{gone}"), &[]).status, 200);
    let r = srv.get(&format!("/tracks/{beat1}/similar?top_k=10"));
    assert!(!ids(&r.json).contains(&gone), "{}", r.json);
    assert!(!ids(&srv.get("/search?q=neon").json).contains(&gone));

    // Restart: the vector and text indexes come back with the same answers.
    let before_sim = ids(&srv.get(&format!("/tracks/{beat1}/similar?top_k=10")).json);
    let before_txt = srv.get("/search?q=quiet").json;
    assert!(srv.stop().success());
    let srv = Server::start(dir.path(), &[]);
    assert_eq!(
        ids(&srv.get(&format!("/tracks/{beat1}/similar?top_k=10")).json),
        before_sim
    );
    assert_eq!(srv.get("/search?q=quiet").json, before_txt);
    assert!(!ids(&srv.get("/search?q=neon").json).contains(&gone));
}

#[test]
fn analyze_route_measures_without_storing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let x = track(Style::Beat, 5, 20.0, RATE);
    let bytes = wav_bytes(dir.path(), "a.wav", &x, RATE);
    let r = srv.post_form("/analyze", &[Part::file("file", "a.wav", &bytes)], &[]);
    assert_eq!(r.status, 200, "{}", r.json);
    let tempo = r.json["tempo_bpm"].as_f64().unwrap();
    assert!((110.0..=130.0).contains(&tempo), "{tempo}");
    assert!((r.json["duration_s"].as_f64().unwrap() - 20.0).abs() < 0.2);
    // A section.
    let r = srv.post_form(
        "/analyze",
        &[
            Part::file("file", "a.wav", &bytes),
            Part::text("start_s", "5"),
            Part::text("end_s", "15"),
        ],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(
        (r.json["duration_s"].as_f64().unwrap() - 10.0).abs() < 0.2,
        "{}",
        r.json
    );
    // Bad ranges and bad media.
    for (s, e) in [("15", "5"), ("-1", "5"), ("x", "5")] {
        let r = srv.post_form(
            "/analyze",
            &[
                Part::file("file", "a.wav", &bytes),
                Part::text("start_s", s),
                Part::text("end_s", e),
            ],
            &[],
        );
        assert_eq!(r.status, 400, "{s}-{e}: {}", r.json);
    }
    let r = srv.post_form("/analyze", &[Part::file("file", "a.wav", b"not audio at all")], &[]);
    assert_eq!(r.status, 415, "{}", r.json);
    // Nothing was stored.
    assert_eq!(srv.get("/songs").json["total"], 0, "{}", srv.get("/songs").json);
}

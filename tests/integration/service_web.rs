//! The routes the web app stands on, as a client (or an attacker) meets
//! them: the embedded page, waveforms, spectrograms, audio with ranges,
//! `?explain=true`, the sorted and filtered track list, and `?key=`.

use std::io::Read;

use serde_json::Value;

use crate::audio::{add_noise, slice, song};
use crate::server::{wav_bytes, Part, Server};

const RATE: u32 = 22_050;

fn get_with(s: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = ureq::get(&s.url(path));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = r.status();
    let heads = r
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = r.header(&n).unwrap_or("").to_string();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    (status, heads, body)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn code(s: &Server, path: &str) -> (u16, String) {
    let r = s.get(path);
    (r.status, r.json["error"]["code"].as_str().unwrap_or("").to_string())
}

#[test]
fn the_page_and_its_files_are_served_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let (status, h, body) = get_with(&s, "/", &[]);
    assert_eq!(status, 200);
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    let csp = header(&h, "content-security-policy").expect("the page has a CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("/app/app.js"), "the page loads its module");
    let etag = header(&h, "etag").unwrap().to_string();
    let (again, _, empty) = get_with(&s, "/", &[("If-None-Match", &etag)]);
    assert_eq!((again, empty.len()), (304, 0));
    let (gz, gh, zipped) = get_with(&s, "/app/app.js", &[("Accept-Encoding", "gzip")]);
    assert_eq!((gz, header(&gh, "content-encoding")), (200, Some("gzip")));
    assert_eq!(&zipped[..2], &[0x1f, 0x8b], "a gzip stream");
    let (_, ph, plain) = get_with(&s, "/app/app.js", &[]);
    assert!(header(&ph, "content-type").unwrap().starts_with("text/javascript"));
    assert!(plain.len() > zipped.len());
    for bad in [
        "/app/nope.js",
        "/app/..%2FCargo.toml",
        "/app/%2e%2e%2fbuild.rs",
        "/app/.hidden",
        "/app/",
    ] {
        let (st, c) = code(&s, bad);
        assert_eq!(st, 404, "{bad}");
        assert_eq!(c, "route_not_found", "{bad}");
    }
    // The page stays open when reads are protected: it asks for the key.
    let dir2 = tempfile::tempdir().unwrap();
    let strict = Server::start(dir2.path(), &["--api-keys", "k1", "--protect-reads", "true"]);
    assert_eq!(get_with(&strict, "/", &[]).0, 200);
    assert_eq!(get_with(&strict, "/app/app.js", &[]).0, 200);
    assert_eq!(strict.get("/songs").status, 401);
}

#[test]
fn track_media_routes_answer_and_refuse_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--api-keys", "k1", "--protect-reads", "true"]);
    let key = [("X-API-Key", "k1")];
    let x = song(41, 40.0, RATE);
    let bytes = wav_bytes(dir.path(), "a.wav", &x, RATE);
    let up = s.post_form("/tracks", &[Part::file("file", "a.wav", &bytes)], &key);
    assert_eq!(up.status, 201, "{}", up.json);
    let id = up.json["id"].as_u64().unwrap();
    let ready = |s: &Server| {
        let r = get_with(s, &format!("/tracks/{id}"), &key);
        let v = serde_json::from_slice::<Value>(&r.2).unwrap();
        v["status"] == "READY" && v["analysis"] == "DONE"
    };
    s.eventually("the track is READY and analysed", 60, ready);
    let json = |path: &str| -> (u16, Value) {
        let (st, _, b) = get_with(&s, path, &key);
        (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
    };

    // Waveform: stored at ingest, pooled to the bins asked for.
    let (st, w) = json(&format!("/tracks/{id}/waveform?bins=100"));
    assert_eq!(st, 200, "{w}");
    let peaks = w["peaks"].as_array().unwrap();
    assert_eq!(peaks.len(), 100);
    assert!(peaks.iter().all(|p| p.as_u64().unwrap() <= 255));
    assert!(peaks.iter().filter(|p| p.as_u64().unwrap() > 20).count() > 80, "{w}");
    assert!((w["duration_s"].as_f64().unwrap() - 40.0).abs() < 0.1);
    for (q, want) in [
        ("bins=15", "invalid_parameter"),
        ("bins=4097", "invalid_parameter"),
        ("bins=abc", "invalid_parameter"),
        ("bins=1&x=2", "bad_request"),
    ] {
        let (st, e) = json(&format!("/tracks/{id}/waveform?{q}"));
        assert_eq!((st, e["error"]["code"].as_str().unwrap()), (400, want), "{q}");
    }

    // Spectrogram of a section, with the fingerprint's peaks inside it.
    let (st, sp) = json(&format!("/tracks/{id}/spectrogram?start_s=10&duration_s=5"));
    assert_eq!(st, 200, "{sp}");
    let (frames, bins) = (sp["frames"].as_u64().unwrap(), sp["bins"].as_u64().unwrap());
    let data = sp["data"].as_str().unwrap();
    assert_eq!(
        data.len() as u64,
        (frames * bins * 4).div_ceil(3),
        "unpadded base64 of frames × bins"
    );
    assert!(frames > 100 && bins == 121, "{frames} × {bins}");
    let tp = sp["peaks"].as_array().unwrap();
    assert!(!tp.is_empty());
    assert!(tp.iter().all(|p| {
        let t = p[0].as_f64().unwrap();
        (9.99..15.01).contains(&t)
    }));
    for (q, st_want, want) in [
        ("start_s=-1", 400, "invalid_parameter"),
        ("duration_s=0", 400, "invalid_parameter"),
        ("duration_s=31", 400, "invalid_parameter"),
        ("duration_s=NaN", 400, "invalid_parameter"),
        ("start_s=40.5", 400, "bad_range"),
        ("start_s=1e308", 400, "bad_range"),
        ("start=1", 400, "bad_request"),
    ] {
        let (st, e) = json(&format!("/tracks/{id}/spectrogram?{q}"));
        assert_eq!(
            (st, e["error"]["code"].as_str().unwrap_or("")),
            (st_want, want),
            "{q}: {e}"
        );
    }

    // Audio: the stored bytes, whole or by range.
    let (st, h, whole) = get_with(&s, &format!("/tracks/{id}/audio"), &key);
    assert_eq!(st, 200);
    assert_eq!(whole, bytes, "the stored file, byte for byte");
    assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
    assert_eq!(header(&h, "content-type"), Some("audio/wav"));
    let ranged = [("X-API-Key", "k1"), ("Range", "bytes=100-199")];
    let (st, h, part) = get_with(&s, &format!("/tracks/{id}/audio"), &ranged);
    assert_eq!(st, 206);
    assert_eq!(part, &bytes[100..200]);
    assert_eq!(
        header(&h, "content-range").unwrap(),
        format!("bytes 100-199/{}", bytes.len())
    );
    let (_, _, tail) = get_with(
        &s,
        &format!("/tracks/{id}/audio"),
        &[("X-API-Key", "k1"), ("Range", "bytes=-10")],
    );
    assert_eq!(tail, &bytes[bytes.len() - 10..]);
    let past = format!("bytes={}-", bytes.len());
    let (st, h, body) = get_with(
        &s,
        &format!("/tracks/{id}/audio"),
        &[("X-API-Key", "k1"), ("Range", &past)],
    );
    assert_eq!(st, 416);
    assert_eq!(header(&h, "content-range").unwrap(), format!("bytes */{}", bytes.len()));
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(e["error"]["code"], "range_not_satisfiable");
    // The key in the query string, where a player cannot send a header;
    // only on the routes that need it.
    assert_eq!(get_with(&s, &format!("/tracks/{id}/audio"), &[]).0, 401);
    assert_eq!(get_with(&s, &format!("/tracks/{id}/audio?key=k1"), &[]).0, 200);
    assert_eq!(get_with(&s, &format!("/tracks/{id}/audio?key=k2"), &[]).0, 401);
    assert_eq!(get_with(&s, &format!("/tracks/{id}/pattern.mid?key=k1"), &[]).0, 200);
    assert_eq!(get_with(&s, &format!("/tracks/{id}/waveform?key=k1"), &[]).0, 401);

    // Unknown, malformed and absurd ids, on every media route.
    for route in ["waveform", "spectrogram", "audio"] {
        assert_eq!(
            json(&format!("/tracks/999/{route}")).1["error"]["code"],
            "unknown_track"
        );
        assert_eq!(json(&format!("/tracks/999/{route}")).0, 404);
        for bad in ["0", "-1", "abc", "99999999999999999999"] {
            let (st, e) = json(&format!("/tracks/{bad}/{route}"));
            assert_eq!(
                (st, e["error"]["code"].as_str().unwrap()),
                (400, "bad_request"),
                "{route} {bad}"
            );
        }
    }
    // A file gone from disk is a clear 404, not a 5xx.
    let path = get_with(&s, &format!("/tracks/{id}"), &key).2;
    let path = serde_json::from_slice::<Value>(&path).unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(&path).unwrap();
    let (st, e) = json(&format!("/tracks/{id}/audio"));
    assert_eq!((st, e["error"]["code"].as_str().unwrap()), (404, "not_found"), "{e}");
    let (st, _) = json(&format!("/tracks/{id}/waveform"));
    assert_eq!(st, 200, "the stored waveform outlives the file");
}

#[test]
fn explain_lays_the_clip_over_the_track() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let a = song(51, 40.0, RATE);
    let b = song(52, 40.0, RATE);
    let ia = s.upload("a.wav", &wav_bytes(dir.path(), "a.wav", &a, RATE));
    let ib = s.upload("b.wav", &wav_bytes(dir.path(), "b.wav", &b, RATE));
    s.wait_final(ia);
    s.wait_final(ib);
    let clip = add_noise(&slice(&b, RATE, 12.0, 8.0), 10.0, 3);
    let clip = wav_bytes(dir.path(), "clip.wav", &clip, RATE);
    let r = s.post_form(
        "/recognize?explain=true",
        &[Part::file("audio", "clip.wav", &clip)],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["match"]["id"].as_u64(), Some(u64::from(ib)));
    let e = &r.json["explain"];
    let offset = e["offset_s"].as_f64().unwrap();
    assert!((offset - 12.0).abs() < 0.1, "{offset}");
    let agreeing = e["agreeing"].as_array().unwrap();
    assert!(agreeing.len() >= 10, "{}", agreeing.len());
    // Agreeing pairs lie where the clip was taken from.
    assert!(agreeing.iter().all(|p| {
        let t = p[0].as_f64().unwrap();
        (11.5..20.5).contains(&t)
    }));
    assert!(e["clip_peaks"].as_array().unwrap().len() > agreeing.len() / 4);
    assert!(!e["track_peaks"].as_array().unwrap().is_empty());
    let c = e["candidates"].as_array().unwrap();
    assert_eq!(c[0]["id"].as_u64(), Some(u64::from(ib)));
    let votes = c[0]["votes"].as_u64().unwrap();
    assert!(
        c.iter().skip(1).all(|o| o["votes"].as_u64().unwrap() * 3 < votes),
        "{c:?}"
    );
    let h = &c[0]["histogram"];
    let counts = h["counts"].as_array().unwrap();
    let peak_bar = (0..counts.len()).max_by_key(|&i| counts[i].as_u64().unwrap()).unwrap();
    let at = h["start_s"].as_f64().unwrap() + h["step_s"].as_f64().unwrap() * peak_bar as f64;
    assert!((at - 12.0).abs() < 0.3, "histogram peak at {at}");

    // Without the option, or with no match, nothing extra.
    let plain = s.post_form("/recognize", &[Part::file("audio", "clip.wav", &clip)], &[]);
    assert!(plain.json.get("explain").is_none(), "{}", plain.json);
    let other = wav_bytes(dir.path(), "o.wav", &song(99, 8.0, RATE), RATE);
    let none = s.post_form("/recognize?explain=true", &[Part::file("audio", "o.wav", &other)], &[]);
    assert_eq!(none.status, 200);
    assert!(
        none.json["match"].is_null() && none.json.get("explain").is_none(),
        "{}",
        none.json
    );
    for q in ["explain=maybe", "explain=true&x=1"] {
        let r = s.post_form(
            &format!("/recognize?{q}"),
            &[Part::file("audio", "clip.wav", &clip)],
            &[],
        );
        assert_eq!(
            (r.status, r.json["error"]["code"].as_str().unwrap()),
            (400, "bad_request"),
            "{q}"
        );
    }
}

#[test]
fn the_track_list_sorts_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let mut ids = Vec::new();
    for (i, title) in ["Charlie", "alpha", "Bravo"].iter().enumerate() {
        let x = song(60 + i as u32, 5.0 + 5.0 * i as f32, RATE);
        let bytes = wav_bytes(dir.path(), &format!("{i}.wav"), &x, RATE);
        let r = s.post_form(
            "/tracks",
            &[Part::file("file", "t.wav", &bytes), Part::text("title", title)],
            &[],
        );
        assert_eq!(r.status, 201, "{}", r.json);
        ids.push(r.json["id"].as_u64().unwrap() as u32);
    }
    for &id in &ids {
        s.wait_final(id);
    }
    let titles = |q: &str| -> Vec<String> {
        let r = s.get(&format!("/songs?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.json);
        r.json["songs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(""), ["Charlie", "alpha", "Bravo"]);
    assert_eq!(titles("sort=title"), ["alpha", "Bravo", "Charlie"]);
    assert_eq!(titles("sort=title&desc=true"), ["Charlie", "Bravo", "alpha"]);
    assert_eq!(titles("sort=duration_s&desc=true"), ["Bravo", "alpha", "Charlie"]);
    assert_eq!(titles("q=AL"), ["alpha"]);
    assert_eq!(titles("q=a&sort=title&limit=1&offset=1"), ["Bravo"]);
    assert_eq!(s.get("/songs?q=a&limit=1").json["total"], 3);
    assert_eq!(titles("status=ready&sort=id"), ["Charlie", "alpha", "Bravo"]);
    assert!(titles("status=FAILED").is_empty());
    let long = "x".repeat(201);
    for q in [
        "sort=size",
        "desc=yes",
        "status=DONE",
        &format!("q={long}"),
        "sort=title&bogus=1",
    ] {
        let r = s.get(&format!("/songs?{q}"));
        assert_eq!(
            (r.status, r.json["error"]["code"].as_str().unwrap()),
            (400, "bad_request"),
            "{q}"
        );
    }
}

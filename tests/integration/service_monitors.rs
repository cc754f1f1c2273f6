//! `/monitors`: a live stream served on loopback by the test is pulled,
//! recognised and logged; the log survives a restart, which is recorded
//! as a gap; hostile URLs and requests get one precise 4xx each.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::audio;
use crate::server::{wav_bytes, Part, Server};

/// (status, JSON body) of a request with headers and an optional JSON body.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, Value) {
    let mut r = ureq::request(method, url).timeout(Duration::from_secs(30));
    for (k, v) in headers {
        r = r.set(k, v);
    }
    let res = match body {
        Some(b) => r.set("Content-Type", "application/json").send_string(b),
        None => r.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Serves `body` as `audio/wav` on a loopback port, once each time the
/// returned gate is opened (then 503 until it is opened again); returns
/// the stream's URL, the gate and the number of streams served.
fn stream_server(body: Vec<u8>) -> (String, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/live.wav", listener.local_addr().unwrap());
    let gate = Arc::new(AtomicBool::new(true));
    let served = Arc::new(AtomicUsize::new(0));
    let (open, count) = (gate.clone(), served.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            if !open.swap(false, Ordering::SeqCst) {
                let _ = conn.write_all(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            count.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            std::thread::spawn(move || {
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            });
        }
    });
    (url, gate, served)
}

#[test]
fn a_live_stream_is_logged_and_the_log_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let a = audio::song(5100, 40.0, 8000);
    let b = audio::song(5101, 40.0, 8000);
    let flags = ["--allow-private-urls", "true", "--api-keys", "admin1"];
    let admin = [("X-API-Key", "admin1")];
    let srv = Server::start(dir.path(), &flags);
    let upload = |name: &str, x: &[f32]| -> u32 {
        let bytes = wav_bytes(dir.path(), name, x, 8000);
        let r = srv.post_form("/tracks", &[Part::file("file", name, &bytes)], &admin);
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["id"].as_u64().unwrap() as u32
    };
    let id_a = upload("a.wav", &a);
    let id_b = upload("b.wav", &b);
    srv.wait_final(id_a);
    srv.wait_final(id_b);
    let mut live = audio::slice(&a, 8000, 2.0, 30.0);
    live.extend(audio::slice(&b, 8000, 0.0, 30.0));
    let (url, gate, served) = stream_server(wav_bytes(dir.path(), "live.wav", &live, 8000));

    let body = json!({"url": url, "name": "Loop FM"}).to_string();
    let (status, m) = call("POST", &srv.url("/monitors"), &admin, Some(&body));
    assert_eq!(status, 201, "{m}");
    let id = m["id"].as_u64().unwrap();
    assert_eq!(m["name"], "Loop FM");

    // The server-sent feed opens with the monitor's state.
    let mut feed =
        std::net::TcpStream::connect(srv.url("").trim_start_matches("http://").trim_end_matches('/')).unwrap();
    write!(feed, "GET /monitors/{id}/events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    feed.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut first = vec![0u8; 4096];
    let n = feed.read(&mut first).unwrap();
    let head = String::from_utf8_lossy(&first[..n]).to_string();
    assert!(head.contains("text/event-stream"), "{head}");

    let plays_url = srv.url(&format!("/monitors/{id}/plays"));
    let mut entries = Vec::new();
    srv.eventually("both plays logged", 60, |_| {
        let (_, page) = call("GET", &plays_url, &[], None);
        entries = page["entries"].as_array().cloned().unwrap_or_default();
        entries.iter().filter(|e| e["kind"] == "play").count() >= 2
    });
    let plays: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "play").collect();
    assert_eq!(plays[0]["track"], id_a, "{entries:?}");
    assert_eq!(plays[1]["track"], id_b, "{entries:?}");
    let len0 = plays[0]["end_ms"].as_u64().unwrap() - plays[0]["start_ms"].as_u64().unwrap();
    assert!(
        (27_000..=33_000).contains(&len0),
        "first play lasts {len0} ms: {entries:?}"
    );
    assert!(
        (plays[0]["offset_in_track_s"].as_f64().unwrap() - 2.0).abs() <= 2.0,
        "{entries:?}"
    );

    // The state says what happened (the stream ended: down, reconnecting).
    let (_, view) = call("GET", &srv.url(&format!("/monitors/{id}")), &[], None);
    assert!(view["status"]["plays_logged"].as_u64().unwrap() >= 2, "{view}");
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert!(view["status"]["state"] != "connecting", "{view}");
    drop(feed);

    // Restart: the monitor comes back, and reconnecting after the pause
    // logs a gap.
    let root = dir.path().to_path_buf();
    assert!(srv.stop().success());
    std::thread::sleep(Duration::from_millis(2500)); // the pause to be logged
    gate.store(true, Ordering::SeqCst);
    let srv = Server::start(&root, &flags);
    let (_, list) = call("GET", &srv.url("/monitors"), &[], None);
    assert_eq!(list["monitors"].as_array().unwrap().len(), 1, "{list}");
    let plays_url = srv.url(&format!("/monitors/{id}/plays"));
    srv.eventually("a gap after the restart", 30, |_| {
        let (_, page) = call("GET", &plays_url, &[], None);
        page["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "gap"))
    });
    // Paging by time: one entry per page, following next_from.
    let (_, page) = call("GET", &format!("{plays_url}?limit=1"), &[], None);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "{page}");
    let next = page["next_from"].as_u64().expect("a next page");
    let (_, page2) = call("GET", &format!("{plays_url}?limit=1&from={next}"), &[], None);
    assert_eq!(page2["entries"][0]["start_ms"].as_u64(), Some(next), "{page2}");

    let (status, _) = call("DELETE", &srv.url(&format!("/monitors/{id}")), &admin, None);
    assert_eq!(status, 204);
    let (status, body) = call("GET", &plays_url, &[], None);
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_monitor")));
}

#[test]
fn hostile_monitor_requests_get_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &["--api-keys", "admin1", "--max-monitors", "1"]);
    let admin = [("X-API-Key", "admin1")];
    let post = |body: &str, headers: &[(&str, &str)]| call("POST", &srv.url("/monitors"), headers, Some(body));
    let code = |r: (u16, Value)| (r.0, r.1["error"]["code"].as_str().unwrap_or("").to_string());

    assert_eq!(
        code(post(r#"{"url":"http://example.com/live"}"#, &[])),
        (401, "unauthorized".into())
    );
    for (body, want) in [
        (r#"{"url":"file:///etc/passwd"}"#.to_string(), (400, "invalid_url")),
        (r#"{"url":"gopher://example.com/"}"#.to_string(), (400, "invalid_url")),
        (
            r#"{"url":"http://u:p@example.com/live"}"#.to_string(),
            (400, "invalid_url"),
        ),
        (
            json!({"url": format!("http://example.com/{}", "a".repeat(10_000))}).to_string(),
            (400, "invalid_url"),
        ),
        (
            r#"{"url":"http://127.0.0.1:6379/"}"#.to_string(),
            (403, "url_not_allowed"),
        ),
        (
            r#"{"url":"http://169.254.169.254/latest/meta-data"}"#.to_string(),
            (403, "url_not_allowed"),
        ),
        (r#"{"url":"http://[::1]/"}"#.to_string(), (403, "url_not_allowed")),
        (r#"{"url":"not a url"}"#.to_string(), (400, "invalid_url")),
        (r#"{"url":42}"#.to_string(), (400, "invalid_parameter")),
        (r#"{}"#.to_string(), (400, "invalid_parameter")),
        (
            r#"{"url":"http://example.com/","colour":"red"}"#.to_string(),
            (400, "invalid_parameter"),
        ),
        (
            r#"{"url":"http://example.com/","name":""}"#.to_string(),
            (400, "invalid_parameter"),
        ),
        (r#"[1,2]"#.to_string(), (400, "bad_request")),
        (r#"{"url": "#.to_string(), (400, "bad_request")),
    ] {
        assert_eq!(
            code(post(&body, &admin)),
            (want.0, want.1.to_string()),
            "{}",
            &body[..body.len().min(80)]
        );
    }
    let big = format!(r#"{{"url":"http://example.com/","name":"{}"}}"#, "x".repeat(20_000));
    assert_eq!(code(post(&big, &admin)).0, 413);
    // A name resolving to a private address passes the check, and is
    // refused when the monitor connects.
    let (status, m) = post(r#"{"url":"http://localhost:9/live"}"#, &admin);
    assert_eq!(status, 201, "{m}");
    let id = m["id"].as_u64().unwrap();
    assert_eq!(
        code(post(r#"{"url":"http://example.com/two"}"#, &admin)),
        (409, "too_many_monitors".into())
    );
    srv.eventually("the monitor is down", 20, |s| {
        let (_, v) = call("GET", &s.url(&format!("/monitors/{id}")), &[], None);
        v["status"]["state"] == "down"
            && v["status"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("private"))
    });
    for (path, want) in [
        ("/monitors/abc", (400, "bad_request")),
        ("/monitors/0", (400, "bad_request")),
        ("/monitors/99", (404, "unknown_monitor")),
        ("/monitors/99/plays", (404, "unknown_monitor")),
        ("/monitors/1/plays?from=abc", (400, "invalid_parameter")),
        ("/monitors/1/plays?from=-5", (400, "invalid_parameter")),
        ("/monitors/1/plays?limit=0", (400, "invalid_parameter")),
        ("/monitors/1/plays?limit=100000", (400, "invalid_parameter")),
        ("/monitors/1/plays?from=10&to=5", (400, "invalid_parameter")),
        ("/monitors/1/plays?page=2", (400, "invalid_parameter")),
        ("/monitors/99/events", (404, "unknown_monitor")),
    ] {
        assert_eq!(
            code(call("GET", &srv.url(path), &[], None)),
            (want.0, want.1.to_string()),
            "{path}"
        );
    }
    assert_eq!(code(call("DELETE", &srv.url("/monitors/1"), &[], None)).0, 401);
    assert_eq!(
        code(call("DELETE", &srv.url("/monitors/99"), &admin, None)),
        (404, "unknown_monitor".into())
    );
    assert_eq!(
        call("DELETE", &srv.url(&format!("/monitors/{id}")), &admin, None).0,
        204
    );
    let (_, list) = call("GET", &srv.url("/monitors"), &[], None);
    assert_eq!(list["monitors"], json!([]));
}

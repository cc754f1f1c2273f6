//! Webhooks on a real server, delivering to a receiver in the test (a
//! std `TcpListener` answering HTTP/1.1 as scripted: 200, 500, or closed):
//! signed pings with unique ids, retries until a 2xx with the attempts in
//! the delivery log, deliveries that survive `kill -9` of the server while
//! the receiver is down, the events of the job path, and every route
//! against hostile input.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sonica::webhooks::sign::verify;

use crate::audio;
use crate::server::{multipart, wav_bytes, Part, Server};

const ADMIN: &str = "admin-hooks-1";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    answered: u16,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn event_id(&self) -> u64 {
        self.headers["sonica-event-id"].parse().unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    hits: Vec<Hit>,
    /// Statuses to answer, in order; 200 once empty. [`HANG`] answers
    /// nothing for 8 s; a 3xx points `Location` at `/elsewhere`.
    script: VecDeque<u16>,
}

/// A scripted "status" that never answers (for 8 s).
const HANG: u16 = 0;

/// A webhook receiver on a loopback port.
struct Receiver {
    port: u16,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `port` (0: any free one), sharing `inbox` with a
    /// receiver before it (so a restarted receiver keeps the record).
    fn start(port: u16, inbox: Option<Arc<(Mutex<Inbox>, Condvar)>>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = inbox.unwrap_or_default();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (i, s, c) = (inbox.clone(), stop.clone(), conns.clone());
        let accept = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        c.lock().unwrap().push(stream.try_clone().unwrap());
                        let i = i.clone();
                        std::thread::spawn(move || serve_conn(stream, &i));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver {
            port,
            inbox,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Answers these statuses to the next requests, then 200.
    fn script(&self, statuses: &[u16]) {
        self.inbox.0.lock().unwrap().script.extend(statuses);
    }

    /// Stops listening and cuts every open connection: the port refuses.
    fn close(mut self) -> Arc<(Mutex<Inbox>, Condvar)> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            h.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        self.inbox.clone()
    }

    /// Waits until `f` holds for the hits so far.
    fn wait(&self, what: &str, secs: u64, f: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        wait_inbox(&self.inbox, what, secs, f)
    }
}

fn wait_inbox(inbox: &(Mutex<Inbox>, Condvar), what: &str, secs: u64, f: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut g = inbox.0.lock().unwrap();
    while !f(&g.hits) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}: {} hits", g.hits.len());
        g = inbox.1.wait_timeout(g, left).unwrap().0;
    }
    g.hits.clone()
}

/// Serves requests on one connection (keep-alive) until it closes.
fn serve_conn(stream: TcpStream, inbox: &(Mutex<Inbox>, Condvar)) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut w = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let status = {
            let mut g = inbox.0.lock().unwrap();
            let status = g.script.pop_front().unwrap_or(200);
            g.hits.push(Hit {
                headers,
                body,
                answered: status,
            });
            inbox.1.notify_all();
            status
        };
        if status == HANG {
            std::thread::sleep(Duration::from_secs(8));
            return;
        }
        let location = if (300..400).contains(&status) {
            "Location: /elsewhere\r\n"
        } else {
            ""
        };
        let answer =
            format!("HTTP/1.1 {status} Scripted\r\n{location}Content-Length: 2\r\nContent-Type: text/plain\r\n\r\nok");
        if w.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// One answer: status and JSON body.
struct Got {
    status: u16,
    json: Value,
    location: Option<String>,
}

impl Got {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }
}

fn call(srv: &Server, method: &str, path: &str, key: Option<&str>, body: Option<(&str, &[u8])>) -> Got {
    let mut r = ureq::request(method, &srv.url(path)).timeout(Duration::from_secs(60));
    if let Some(k) = key {
        r = r.set("X-API-Key", k);
    }
    let res = match body {
        Some((ctype, b)) => r.set("Content-Type", ctype).send_bytes(b),
        None => r.call(),
    };
    let resp = match res {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let location = resp.header("location").map(str::to_string);
    let json = serde_json::from_str(&resp.into_string().unwrap_or_default()).unwrap_or(Value::Null);
    Got { status, json, location }
}

fn admin(srv: &Server, method: &str, path: &str) -> Got {
    call(srv, method, path, Some(ADMIN), None)
}

fn subscribe(srv: &Server, body: Value) -> Got {
    call(
        srv,
        "POST",
        "/webhooks",
        Some(ADMIN),
        Some(("application/json", body.to_string().as_bytes())),
    )
}

fn start(root: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--api-keys", ADMIN, "--watch", "false", "--webhook-backoff-ms", "100"];
    args.extend_from_slice(extra);
    Server::start(root, &args)
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Every hit carries a fresh valid signature over its body, its event id
/// in the header equals the body's, and the body is the event.
fn check_signed(hits: &[Hit], secret: &str) {
    for h in hits {
        let sig = &h.headers["sonica-signature"];
        verify(sig, &h.body, secret, now_s(), 300).unwrap_or_else(|e| panic!("{e}: {sig}"));
        assert!(verify(sig, &h.body, "not-the-secret-at-all", now_s(), 300).is_err());
        let v = h.json();
        assert_eq!(v["id"].as_u64(), Some(h.event_id()));
        assert_eq!(v["kind"].as_str(), Some(h.headers["sonica-event"].as_str()));
        assert!(v["created_unix"].is_u64() && v.get("data").is_some(), "{v}");
        assert_eq!(h.headers["content-type"], "application/json");
    }
}

/// The whole delivery log, page by page.
fn log(srv: &Server, id: u64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let r = admin(
            srv,
            "GET",
            &format!("/webhooks/{id}/deliveries?limit=1000&after={after}"),
        );
        assert_eq!(r.status, 200, "{}", r.json);
        all.extend(r.json["deliveries"].as_array().unwrap().iter().cloned());
        match r.json["next_after"].as_u64() {
            Some(n) => after = n,
            None => return all,
        }
    }
}

#[test]
fn pings_arrive_signed_and_a_500_is_retried_until_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None);
    let srv = start(dir.path(), &["--allow-private-urls", "true"]);
    let made = subscribe(
        &srv,
        json!({"url": rx.url(), "events": ["track.ready"], "description": "test receiver"}),
    );
    assert_eq!(made.status, 201, "{}", made.json);
    let id = made.json["id"].as_u64().unwrap();
    assert_eq!(made.location.as_deref(), Some(format!("/webhooks/{id}").as_str()));
    let secret = made.json["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 70, "{secret}");
    assert_eq!(made.json["events"], json!(["track.ready"]));
    // The list hides the secret; the subscription itself shows it.
    let list = admin(&srv, "GET", "/webhooks");
    assert_eq!(list.json["webhooks"][0]["id"], id);
    assert!(list.json["webhooks"][0].get("secret").is_none(), "{}", list.json);
    assert_eq!(
        admin(&srv, "GET", &format!("/webhooks/{id}")).json["secret"],
        secret.as_str()
    );

    let mut sent = Vec::new();
    for _ in 0..5 {
        let p = admin(&srv, "POST", &format!("/webhooks/{id}/ping"));
        assert_eq!(p.status, 202, "{}", p.json);
        sent.push(p.json["event_id"].as_u64().unwrap());
    }
    let hits = rx.wait("five pings", 30, |h| h.len() >= 5);
    check_signed(&hits, &secret);
    let ids: HashSet<u64> = hits.iter().map(Hit::event_id).collect();
    assert_eq!(ids, sent.iter().copied().collect(), "each ping once, unique ids");
    assert!(hits.iter().all(|h| h.headers["sonica-event"] == "ping"));
    assert_eq!(hits[0].json()["data"]["subscription_id"], id);

    // 500 twice, then 200: three attempts, delivered, and the log says so.
    rx.script(&[500, 500]);
    let p = admin(&srv, "POST", &format!("/webhooks/{id}/ping"));
    let event = p.json["event_id"].as_u64().unwrap();
    let hits = rx.wait("the retried ping", 30, |h| {
        h.iter().filter(|x| x.event_id() == event && x.answered == 200).count() == 1
    });
    let tries: Vec<&Hit> = hits.iter().filter(|h| h.event_id() == event).collect();
    assert_eq!(tries.iter().map(|h| h.answered).collect::<Vec<_>>(), [500, 500, 200]);
    check_signed(&hits, &secret);
    srv.eventually("the log to show the delivery", 10, |s| {
        log(s, id)
            .iter()
            .any(|d| d["event_id"] == event && d["state"] == "delivered")
    });
    let row = log(&srv, id).into_iter().find(|d| d["event_id"] == event).unwrap();
    assert_eq!(row["attempts"], 3, "{row}");
    assert_eq!(row["last_status"], 200, "{row}");
    assert_eq!(row["kind"], "ping", "{row}");
    assert!(
        row["delivered_unix"].is_u64() && row.get("next_attempt_unix_ms").is_none(),
        "{row}"
    );
    let all = log(&srv, id);
    assert_eq!(all.len(), 6);
    // Paging: two at a time, by event id.
    let page = admin(&srv, "GET", &format!("/webhooks/{id}/deliveries?limit=2"));
    assert_eq!(page.json["deliveries"].as_array().unwrap().len(), 2);
    let next = page.json["next_after"].as_u64().unwrap();
    let page2 = admin(&srv, "GET", &format!("/webhooks/{id}/deliveries?limit=2&after={next}"));
    assert!(page2.json["deliveries"][0]["event_id"].as_u64().unwrap() > next);

    srv.eventually("the metrics to count", 10, |s| {
        let text = ureq::get(&s.url("/metrics")).call().unwrap().into_string().unwrap();
        text.contains("sonica_webhook_deliveries_total{outcome=\"delivered\"} 6")
            && text.contains("sonica_webhook_deliveries_total{outcome=\"failed\"} 2")
            && text.contains("sonica_webhook_deliveries_pending 0")
    });

    // Deleting it drops it and its log.
    assert_eq!(admin(&srv, "DELETE", &format!("/webhooks/{id}")).status, 204);
    assert_eq!(admin(&srv, "GET", &format!("/webhooks/{id}")).code(), "unknown_webhook");
    assert_eq!(admin(&srv, "DELETE", &format!("/webhooks/{id}")).status, 404);
    assert_eq!(admin(&srv, "POST", &format!("/webhooks/{id}/ping")).status, 404);
}

#[test]
fn a_hung_or_redirecting_receiver_fails_the_attempt_not_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None);
    // A 3 s first retry, so the failed attempts can be read in the log
    // before they are made again.
    let srv = Server::start(
        dir.path(),
        &[
            "--api-keys",
            ADMIN,
            "--watch",
            "false",
            "--allow-private-urls",
            "true",
            "--webhook-backoff-ms",
            "3000",
        ],
    );
    let made = subscribe(&srv, json!({"url": rx.url(), "events": ["monitor.down"]}));
    let id = made.json["id"].as_u64().unwrap();
    rx.script(&[HANG, 302]);
    let started = Instant::now();
    let hung = admin(&srv, "POST", &format!("/webhooks/{id}/ping")).json["event_id"]
        .as_u64()
        .unwrap();
    rx.wait("the hung attempt", 10, |h| !h.is_empty());
    // The server answers while a delivery waits on the receiver; the next
    // event goes out beside it, and is redirected.
    let t = Instant::now();
    assert_eq!(admin(&srv, "GET", "/health").status, 200);
    let moved = admin(&srv, "POST", &format!("/webhooks/{id}/ping")).json["event_id"]
        .as_u64()
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let row = |s: &Server, event: u64| log(s, id).into_iter().find(|d| d["event_id"] == event).unwrap();
    srv.eventually("the redirect to fail", 10, |s| row(s, moved)["attempts"] == 1);
    let r = row(&srv, moved);
    assert_eq!(r["last_status"], 302, "{r}");
    assert!(
        r["last_error"].as_str().unwrap().contains("redirects are not followed"),
        "{r}"
    );
    srv.eventually("the hung attempt to time out", 20, |s| row(s, hung)["attempts"] == 1);
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "the 5 s limit: {:?}",
        started.elapsed()
    );
    let r = row(&srv, hung);
    assert!(r["last_status"].is_null(), "{r}");
    assert!(r["last_error"].as_str().unwrap().contains("timed out"), "{r}");
    assert_eq!(r["state"], "pending");
    // Both are delivered by their second attempt; nothing followed the redirect.
    srv.eventually("both delivered", 30, |s| {
        [hung, moved].iter().all(|e| row(s, *e)["state"] == "delivered")
    });
    assert_eq!(row(&srv, hung)["attempts"], 2);
    assert_eq!(row(&srv, moved)["attempts"], 2);
    let hits = rx.wait("", 1, |_| true);
    assert_eq!(hits.len(), 4, "one hang, one redirect, two deliveries");
}

#[test]
fn pending_deliveries_survive_a_kill_while_the_receiver_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None);
    let port = rx.port;
    let url = rx.url();
    let inbox = rx.close();
    let srv = start(dir.path(), &["--allow-private-urls", "true"]);
    let made = subscribe(&srv, json!({"url": url, "events": ["track.failed"]}));
    assert_eq!(made.status, 201, "{}", made.json);
    let id = made.json["id"].as_u64().unwrap();
    let secret = made.json["secret"].as_str().unwrap().to_string();
    let sent: HashSet<u64> = (0..5)
        .map(|_| {
            admin(&srv, "POST", &format!("/webhooks/{id}/ping")).json["event_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Each has failed at least once against the closed port.
    srv.eventually("every ping to have failed once", 30, |s| {
        let rows = log(s, id);
        rows.len() == 5
            && rows
                .iter()
                .all(|d| d["attempts"].as_u64() >= Some(1) && d["state"] == "pending")
    });
    let rows = log(&srv, id);
    assert!(
        rows.iter()
            .all(|d| d["last_status"].is_null() && d["last_error"].is_string()),
        "{rows:?}"
    );
    srv.kill();

    let rx = Receiver::start(port, Some(inbox));
    let srv = start(dir.path(), &["--allow-private-urls", "true"]);
    let hits = rx.wait("the pings after the restart", 60, |h| {
        h.iter().map(Hit::event_id).collect::<HashSet<_>>().len() == 5
    });
    check_signed(&hits, &secret);
    assert_eq!(hits.iter().map(Hit::event_id).collect::<HashSet<_>>(), sent);
    srv.eventually("all delivered in the log", 10, |s| {
        log(s, id).iter().all(|d| d["state"] == "delivered")
    });
    // Event ids go on after the restart: never reused.
    let next = admin(&srv, "POST", &format!("/webhooks/{id}/ping")).json["event_id"]
        .as_u64()
        .unwrap();
    assert!(next > *sent.iter().max().unwrap());
}

/// A ping, or `None` when the server is gone (killed mid-request).
fn try_ping(srv: &Server, id: u64) -> Option<u64> {
    let r = ureq::post(&srv.url(&format!("/webhooks/{id}/ping")))
        .set("X-API-Key", ADMIN)
        .timeout(Duration::from_secs(10))
        .call()
        .ok()?;
    assert_eq!(r.status(), 202);
    let v: Value = serde_json::from_str(&r.into_string().ok()?).ok()?;
    v["event_id"].as_u64()
}

#[test]
fn kills_at_random_moments_lose_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None);
    let args = ["--allow-private-urls", "true"];
    let srv = start(dir.path(), &args);
    let made = subscribe(&srv, json!({"url": rx.url(), "events": ["play.detected"]}));
    let id = made.json["id"].as_u64().unwrap();
    let secret = made.json["secret"].as_str().unwrap().to_string();
    let mut srv = Some(srv);
    let mut acked = HashSet::new();
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() | 1;
    eprintln!("kill seed {seed}");
    for round in 0..6 {
        let s = srv.take().unwrap_or_else(|| start(dir.path(), &args));
        // Kill it 20–400 ms into a stream of pings and deliveries.
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let after = Duration::from_millis(20 + u64::from(seed % 380));
        let pid = s.child.id().to_string();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(after);
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        });
        while let Some(e) = try_ping(&s, id) {
            assert!(acked.insert(e), "event id {e} handed out twice (round {round})");
        }
        killer.join().unwrap();
        s.kill();
    }
    // The store opens after every kill, and everything acknowledged arrives.
    let s = start(dir.path(), &args);
    let hits = rx.wait("every acknowledged ping", 60, |h| {
        let seen: HashSet<u64> = h.iter().map(Hit::event_id).collect();
        acked.is_subset(&seen)
    });
    assert!(acked.len() > 6, "pings were made: {}", acked.len());
    check_signed(&hits, &secret);
    s.eventually("the log to settle", 30, |s| {
        log(s, id).iter().all(|d| d["state"] == "delivered")
    });
    let rows = log(&s, id);
    let logged: HashSet<u64> = rows.iter().map(|d| d["event_id"].as_u64().unwrap()).collect();
    assert!(acked.is_subset(&logged), "every acknowledged event has its row");
    // A repeat is the same event again, byte for byte: an id is never
    // given to two events, not even across kills.
    let mut bodies: HashMap<u64, &[u8]> = HashMap::new();
    for h in &hits {
        let first = bodies.entry(h.event_id()).or_insert(&h.body);
        assert_eq!(*first, &h.body[..], "event {} sent with two bodies", h.event_id());
    }
    let repeats = hits.len() - bodies.len();
    eprintln!("{} acknowledged, {} POSTs, {repeats} repeats", acked.len(), hits.len());
}

#[test]
fn jobs_emit_ready_failed_and_duplicate_events() {
    const RATE: u32 = 8000;
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None);
    let srv = start(dir.path(), &["--allow-private-urls", "true", "--job-attempts", "1"]);
    let made = subscribe(
        &srv,
        json!({"url": rx.url(), "events": ["track.ready", "track.failed", "duplicate.found"]}),
    );
    assert_eq!(made.status, 201, "{}", made.json);
    let secret = made.json["secret"].as_str().unwrap().to_string();
    let upload = |name: &str, bytes: &[u8]| -> u64 {
        let (ct, body) = multipart(&[Part::file("file", name, bytes)]);
        let r = call(&srv, "POST", "/tracks", Some(ADMIN), Some((&ct, &body)));
        assert_eq!(r.status, 201, "{}", r.json);
        r.json["id"].as_u64().unwrap()
    };
    let song = wav_bytes(dir.path(), "a.wav", &audio::song(7900, 8.0, RATE), RATE);
    let first = upload("first.wav", &song);
    let hits = rx.wait("track.ready", 60, |h| {
        h.iter().any(|x| x.headers["sonica-event"] == "track.ready")
    });
    let ready = hits
        .iter()
        .find(|x| x.headers["sonica-event"] == "track.ready")
        .unwrap()
        .json();
    assert_eq!(ready["data"]["track_id"], first, "{ready}");
    assert!(ready["data"]["path"].as_str().unwrap().ends_with(".wav"), "{ready}");

    // The same bytes again: an exact duplicate (flagged and stored by default).
    let second = upload("second.wav", &song);
    let hits = rx.wait("duplicate.found", 60, |h| {
        h.iter().any(|x| x.headers["sonica-event"] == "duplicate.found")
    });
    let dup = hits
        .iter()
        .find(|x| x.headers["sonica-event"] == "duplicate.found")
        .unwrap()
        .json();
    assert_eq!(dup["data"]["track_id"], second, "{dup}");
    assert_eq!(dup["data"]["duplicates"][0]["of"], first, "{dup}");
    assert_eq!(dup["data"]["duplicates"][0]["kind"], "exact", "{dup}");
    assert_eq!(dup["data"]["stored"], true, "{dup}");

    // A file that passes the upload check and fails the decode.
    let mut broken = wav_bytes(dir.path(), "t.wav", &audio::song(7901, 30.0, RATE), RATE);
    broken.truncate(broken.len() / 3);
    let third = upload("broken.wav", &broken);
    let hits = rx.wait("track.failed", 60, |h| {
        h.iter().any(|x| x.headers["sonica-event"] == "track.failed")
    });
    let failed = hits
        .iter()
        .find(|x| x.headers["sonica-event"] == "track.failed")
        .unwrap()
        .json();
    assert_eq!(failed["data"]["track_id"], third, "{failed}");
    assert_eq!(failed["data"]["code"], "truncated_media", "{failed}");
    assert!(
        failed["data"]["reason"].as_str().unwrap().contains("truncated"),
        "{failed}"
    );
    check_signed(&hits, &secret);
}

/// Serves `body` as `audio/wav` to the first connection, then refuses:
/// a live stream that plays once and goes off the air.
fn one_shot_stream(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
        // The listener drops here: reconnections are refused.
    });
    port
}

#[test]
fn a_monitor_emits_up_play_detected_and_down() {
    const RATE: u32 = 8000;
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, None);
    let srv = start(dir.path(), &["--allow-private-urls", "true"]);
    let made = subscribe(
        &srv,
        json!({"url": rx.url(), "events": ["play.detected", "monitor.up", "monitor.down"]}),
    );
    assert_eq!(made.status, 201, "{}", made.json);
    let secret = made.json["secret"].as_str().unwrap().to_string();
    let song = wav_bytes(dir.path(), "s.wav", &audio::song(7950, 40.0, RATE), RATE);
    let (ct, body) = multipart(&[Part::file("file", "s.wav", &song)]);
    let up = call(&srv, "POST", "/tracks", Some(ADMIN), Some((&ct, &body)));
    assert_eq!(up.status, 201, "{}", up.json);
    let track = up.json["id"].as_u64().unwrap();
    srv.eventually("the track to be ready", 60, |s| {
        admin(s, "GET", &format!("/tracks/{track}")).json["status"] == "READY"
    });
    let port = one_shot_stream(song);
    let m = call(
        &srv,
        "POST",
        "/monitors",
        Some(ADMIN),
        Some((
            "application/json",
            json!({"url": format!("http://127.0.0.1:{port}/live.wav")})
                .to_string()
                .as_bytes(),
        )),
    );
    assert_eq!(m.status, 201, "{}", m.json);
    let monitor = m.json["id"].as_u64().unwrap();
    let kinds = |h: &[Hit]| h.iter().map(|x| x.headers["sonica-event"].clone()).collect::<Vec<_>>();
    let hits = rx.wait("up, a play and down", 90, |h| {
        let k = kinds(h);
        ["monitor.up", "play.detected", "monitor.down"]
            .iter()
            .all(|w| k.iter().any(|x| x == w))
    });
    check_signed(&hits, &secret);
    let k = kinds(&hits);
    let at = |w: &str| k.iter().position(|x| x == w).unwrap();
    assert!(
        at("monitor.up") < at("play.detected") && at("play.detected") < at("monitor.down"),
        "{k:?}"
    );
    let play = hits
        .iter()
        .find(|x| x.headers["sonica-event"] == "play.detected")
        .unwrap()
        .json();
    assert_eq!(play["data"]["monitor"], monitor, "{play}");
    assert_eq!(play["data"]["play"]["track"], track, "{play}");
    let down = hits
        .iter()
        .find(|x| x.headers["sonica-event"] == "monitor.down")
        .unwrap()
        .json();
    assert_eq!(down["data"]["monitor"], monitor, "{down}");
}

#[test]
fn hostile_webhook_requests_get_precise_4xx() {
    let dir = tempfile::tempdir().unwrap();
    // No --allow-private-urls: loopback and private addresses are refused.
    let srv = start(dir.path(), &[]);
    let json_post = |body: &[u8]| call(&srv, "POST", "/webhooks", Some(ADMIN), Some(("application/json", body)));
    let events = json!(["track.ready"]);
    for (body, status, code, says) in [
        (b"{\"url\": ".to_vec(), 400, "bad_request", "malformed JSON"),
        (b"[1, 2]".to_vec(), 400, "bad_request", "object"),
        (b"".to_vec(), 400, "bad_request", "malformed JSON"),
        (
            json!({"url": "https://example.com/h", "events": ["track.deleted"]})
                .to_string()
                .into_bytes(),
            400,
            "invalid_webhook",
            "unknown event kind",
        ),
        (
            json!({"url": "https://example.com/h", "events": []})
                .to_string()
                .into_bytes(),
            400,
            "invalid_webhook",
            "at least one",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["ping"]})
                .to_string()
                .into_bytes(),
            400,
            "invalid_webhook",
            "ping",
        ),
        (
            json!({"url": "file:///etc/passwd", "events": events})
                .to_string()
                .into_bytes(),
            400,
            "invalid_url",
            "http and https",
        ),
        (
            json!({"url": "gopher://example.com:70/", "events": events})
                .to_string()
                .into_bytes(),
            400,
            "invalid_url",
            "http and https",
        ),
        (
            json!({"url": "https://user:pw@example.com/", "events": events})
                .to_string()
                .into_bytes(),
            400,
            "invalid_url",
            "user name or password",
        ),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(10 * 1024)), "events": events})
                .to_string()
                .into_bytes(),
            400,
            "invalid_url",
            "longer than 2048",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": events})
                .to_string()
                .into_bytes(),
            403,
            "url_not_allowed",
            "private",
        ),
        (
            json!({"url": "http://[::1]:9/", "events": events})
                .to_string()
                .into_bytes(),
            403,
            "url_not_allowed",
            "private",
        ),
        (
            json!({"url": "http://169.254.169.254/latest", "events": events})
                .to_string()
                .into_bytes(),
            403,
            "url_not_allowed",
            "private",
        ),
        (
            json!({"url": "not a url", "events": events}).to_string().into_bytes(),
            400,
            "invalid_url",
            "not a valid URL",
        ),
        (
            json!({"url": 42, "events": events}).to_string().into_bytes(),
            400,
            "invalid_webhook",
            "url must be a string",
        ),
        (
            json!({"events": events}).to_string().into_bytes(),
            400,
            "invalid_webhook",
            "url is required",
        ),
        (
            json!({"url": "https://example.com/h", "events": events, "secret": "short"})
                .to_string()
                .into_bytes(),
            400,
            "invalid_webhook",
            "secret",
        ),
        (
            json!({"url": "https://example.com/h", "events": events, "extra": 1})
                .to_string()
                .into_bytes(),
            400,
            "invalid_webhook",
            "unknown field",
        ),
        (vec![b' '; 100 * 1024], 413, "payload_too_large", ""),
    ] {
        let r = json_post(&body);
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{}: {}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            r.json
        );
        assert!(r.message().contains(says), "{says}: {}", r.json);
        assert!(r.message().len() < 400, "one short message: {}", r.message());
    }
    let r = call(&srv, "POST", "/webhooks", Some(ADMIN), Some(("text/plain", b"{}")));
    assert_eq!((r.status, r.code()), (415, "unsupported_content_type"));

    // Who may: an admin key only.
    let body = json!({"url": "https://example.com/h", "events": events}).to_string();
    let anon = call(
        &srv,
        "POST",
        "/webhooks",
        None,
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!((anon.status, anon.code()), (401, "unauthorized"));
    assert_eq!(call(&srv, "GET", "/webhooks", None, None).status, 401, "reads too");
    let key = call(
        &srv,
        "POST",
        "/admin/keys",
        Some(ADMIN),
        Some(("application/json", br#"{"name": "user", "tier": "studio"}"#)),
    );
    let user = key.json["key"].as_str().unwrap().to_string();
    for (method, path) in [
        ("GET", "/webhooks"),
        ("POST", "/webhooks/1/ping"),
        ("GET", "/webhooks/1/deliveries"),
    ] {
        let r = call(&srv, method, path, Some(&user), None);
        assert_eq!((r.status, r.code()), (403, "admin_required"), "{method} {path}");
    }
    let r = call(
        &srv,
        "POST",
        "/webhooks",
        Some(&user),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!((r.status, r.code()), (403, "admin_required"));

    // Unknown and malformed ids.
    for (method, path) in [
        ("GET", "/webhooks/99"),
        ("DELETE", "/webhooks/99"),
        ("POST", "/webhooks/99/ping"),
        ("GET", "/webhooks/99/deliveries"),
    ] {
        let r = admin(&srv, method, path);
        assert_eq!((r.status, r.code()), (404, "unknown_webhook"), "{method} {path}");
        assert!(r.message().contains("99"));
    }
    for path in [
        "/webhooks/abc",
        "/webhooks/0",
        "/webhooks/-1",
        "/webhooks/18446744073709551616",
    ] {
        let r = admin(&srv, "GET", path);
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{path}");
    }
    // A name is judged as it resolves, at every attempt: localhost is
    // accepted here and refused when a delivery would connect.
    let local = subscribe(&srv, json!({"url": "http://localhost:9/", "events": events}));
    assert_eq!(local.status, 201, "{}", local.json);
    let local = local.json["id"].as_u64().unwrap();
    assert_eq!(admin(&srv, "POST", &format!("/webhooks/{local}/ping")).status, 202);
    srv.eventually("the refused attempt", 10, |s| {
        log(s, local).first().is_some_and(|d| d["attempts"] == 1)
    });
    let row = &log(&srv, local)[0];
    assert!(row["last_error"].as_str().unwrap().contains("private"), "{row}");
    let made = subscribe(&srv, json!({"url": "https://example.com/h", "events": events}));
    assert_eq!(made.status, 201, "{}", made.json);
    let id = made.json["id"].as_u64().unwrap();
    for (query, code) in [
        ("limit=0", "invalid_parameter"),
        ("limit=1001", "invalid_parameter"),
        ("limit=abc", "invalid_parameter"),
        ("after=-1", "invalid_parameter"),
        ("after=18446744073709551616", "invalid_parameter"),
        ("offset=3", "bad_request"),
    ] {
        let r = admin(&srv, "GET", &format!("/webhooks/{id}/deliveries?{query}"));
        assert_eq!((r.status, r.code()), (400, code), "{query}: {}", r.json);
    }
    let empty = admin(
        &srv,
        "GET",
        &format!("/webhooks/{id}/deliveries?after=18446744073709551615"),
    );
    assert_eq!(empty.json["deliveries"], json!([]));

    // Methods, and the cap on subscriptions.
    let r = admin(&srv, "PUT", &format!("/webhooks/{id}"));
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
    for n in 2..100 {
        let r = subscribe(
            &srv,
            json!({"url": format!("https://example.com/{n}"), "events": events}),
        );
        assert_eq!(r.status, 201, "{n}: {}", r.json);
    }
    let r = subscribe(
        &srv,
        json!({"url": "https://example.com/one-too-many", "events": events}),
    );
    assert_eq!((r.status, r.code()), (409, "too_many_webhooks"), "{}", r.json);
    assert_eq!(
        admin(&srv, "GET", "/webhooks").json["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        100
    );
    // Nothing above was a server error.
    let metrics = ureq::get(&srv.url("/metrics")).call().unwrap().into_string().unwrap();
    assert!(
        !metrics
            .lines()
            .any(|l| l.contains("route=\"/webhooks") && l.contains("status=\"5")),
        "{metrics}"
    );
}

//! Hostile input through every door: the library, the CLI, upload,
//! recognize, the WebSocket and the watched folder. Each file gets one
//! precise error (never a 5xx, a panic or a crash), memory stays flat, and
//! the store verifies clean afterwards.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sonica::fingerprint::FingerprintParams;
use tungstenite::Message;

use crate::common::{fixture, sonica, stderr, stdout};
use crate::hostile_files::{hostile_set, mutations, Hostile};
use crate::server::{wav_bytes, Server};

fn fixtures_dir() -> std::path::PathBuf {
    fixture("melody.ogg").parent().unwrap().to_path_buf()
}

/// The code of a library-level failure.
fn code_of(r: &Result<sonica::pipeline::Analysed, sonica::SonicaError>) -> Option<String> {
    r.as_ref().err().map(|e| e.code().as_str().to_string())
}

fn check_code(h: &Hostile, code: Option<&str>, via: &str) {
    match code {
        None => assert!(
            h.codes.is_empty(),
            "{} via {via}: accepted, expected one of {:?}",
            h.name,
            h.codes
        ),
        Some(c) => assert!(
            h.codes.contains(&c),
            "{} via {via}: got {c}, expected one of {:?}",
            h.name,
            h.codes
        ),
    }
}

#[test]
fn the_library_refuses_each_hostile_file_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let params = FingerprintParams::index();
    for h in hostile_set(&fixtures_dir()) {
        let p = dir.path().join(h.name);
        std::fs::write(&p, &h.bytes).unwrap();
        let analysed = sonica::pipeline::analyse_file(&p, &params);
        check_code(&h, code_of(&analysed).as_deref(), "analyse_file");
        if let Ok(a) = &analysed {
            let title = a.print.info.tags.title.as_deref().unwrap_or("");
            assert!(
                title.len() <= sonica::decode::MAX_TAG_BYTES,
                "{}: a {} byte tag kept",
                h.name,
                title.len()
            );
        }
        if !h.slow {
            let clip = sonica::decode::load_clip_limited(&p, 60.0).map_err(sonica::SonicaError::from);
            let code = clip.as_ref().err().map(|e| e.code().as_str());
            // A clip may be accepted where a track is refused as too long.
            if code.is_some() || h.codes.is_empty() {
                check_code(&h, code, "load_clip");
            }
        }
    }
}

/// Encoded copies of a song in every container, some made with ffmpeg
/// when it is present (WMA, Opus, AC-3, AIFF-C, Matroska).
fn every_container(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    for f in [
        "melody.ogg",
        "melody_3s.opus",
        "melody_5s.flac",
        "melody_clip.m4a",
        "melody_clip_32k.mp3",
    ] {
        out.push((f.to_string(), fixture(f)));
    }
    let song = crate::audio::song(4242, 6.0, 22_050);
    let wav = dir.join("song.wav");
    crate::audio::write_wav(&wav, &song, 22_050, 2, crate::audio::Fmt::I16);
    out.push(("song.wav".into(), wav.clone()));
    if ffmpeg_present() {
        for (name, args) in [
            ("song.wma", &["-c:a", "wmav2", "-b:a", "32k"][..]),
            ("song.opus", &["-c:a", "libopus", "-b:a", "32k"][..]),
            ("song.ac3", &["-c:a", "ac3", "-b:a", "96k"][..]),
            ("song.aifc", &["-f", "aiff", "-c:a", "pcm_f32be"][..]),
            ("song.mka", &["-c:a", "flac"][..]),
            ("song_vorbis.mka", &["-c:a", "libvorbis"][..]),
        ] {
            let p = dir.join(name);
            let ok = Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-y", "-i"])
                .arg(&wav)
                .args(args)
                .arg(&p)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                out.push((name.to_string(), p));
            } else {
                eprintln!("note: this ffmpeg cannot write {name}; not tested");
            }
        }
    } else {
        eprintln!("note: no ffmpeg on PATH: WMA, Opus, AC-3, AIFF-C and Matroska files are not generated");
    }
    out
}

fn ffmpeg_present() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn every_format_reaches_a_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let params = FingerprintParams::index();
    for (name, p) in every_container(dir.path()) {
        let a = sonica::pipeline::analyse_file(&p, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(a.print.info.duration_s > 2.5, "{name}: {} s", a.print.info.duration_s);
        assert!(!a.print.hashes.is_empty(), "{name}");
    }
}

#[test]
fn truncated_and_bit_flipped_files_of_every_container_never_crash() {
    let dir = tempfile::tempdir().unwrap();
    let params = FingerprintParams::index();
    let mut cases = 0;
    let mut refused = 0;
    for (seed, (name, p)) in every_container(dir.path()).into_iter().enumerate() {
        let bytes = std::fs::read(&p).unwrap();
        let ext = Path::new(&name).extension().unwrap().to_str().unwrap().to_string();
        for (k, m) in mutations(&bytes, seed as u32 + 1).into_iter().enumerate() {
            let q = dir.path().join(format!("m{seed}_{k}.{ext}"));
            std::fs::write(&q, &m).unwrap();
            let r = sonica::pipeline::analyse_file(&q, &params);
            cases += 1;
            if let Err(e) = &r {
                refused += 1;
                assert_ne!(e.code(), sonica::ErrorCode::Internal, "{name} mutation {k}: {e}");
                assert!(!e.to_string().contains('\n'), "one line: {e}");
            }
        }
    }
    eprintln!("{cases} damaged files, {refused} refused, none crashed");
    assert!(cases > 200);
}

#[test]
fn the_cli_reports_each_hostile_file_and_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let set: Vec<Hostile> = hostile_set(&fixtures_dir()).into_iter().filter(|h| !h.slow).collect();
    let mut args = vec!["ingest".to_string(), "--json".into(), "--jobs".into(), "1".into()];
    for h in &set {
        let p = dir.path().join(h.name);
        std::fs::write(&p, &h.bytes).unwrap();
        args.push(p.to_string_lossy().into_owned());
    }
    let good = dir.path().join("good.wav");
    crate::audio::wav(&good, &crate::audio::song(77, 8.0, 16_000), 16_000);
    args.push(good.to_string_lossy().into_owned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sonica(&data, &refs);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), set.len() + 1, "{}", stdout(&out));
    for h in &set {
        let line = lines
            .iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(h.name)))
            .unwrap_or_else(|| panic!("no line for {}", h.name));
        check_code(h, line["error"]["code"].as_str(), "sonica ingest");
    }
    let good_line = lines
        .iter()
        .find(|l| l["path"].as_str().unwrap().ends_with("good.wav"))
        .unwrap();
    assert!(
        good_line["id"].is_u64(),
        "the batch went on to the good file: {good_line}"
    );
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ws_whole_file(srv: &Server, bytes: &[u8]) -> Value {
    let stream = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let url = format!("ws://127.0.0.1:{}/ws/stream", srv.port);
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("handshake");
    ws.send(Message::binary(bytes.to_vec())).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).unwrap(),
            Ok(_) => continue,
            Err(e) => panic!("no answer on the stream: {e}"),
        }
    }
}

#[test]
fn the_service_survives_every_hostile_file_through_every_door() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(
        dir.path(),
        &["--rate-limit", "0", "--job-attempts", "1", "--job-workers", "1"],
    );
    let pid = srv.child.id();
    // A real track, so recognitions have something to look at.
    let song = crate::audio::song(5150, 20.0, 16_000);
    let id = srv.upload("real.wav", &wav_bytes(dir.path(), "real.wav", &song, 16_000));
    assert_eq!(srv.wait_final(id)["status"], "READY");
    // …and a mastering reference, so mixes can be analysed against it.
    let mark = serde_json::json!({"track_id": id, "genre": "hostile"}).to_string();
    let r = srv.post_raw("/api/references", "application/json", mark.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text);
    // The target is per hostile file: the peak while one file goes through
    // every door, against the resident size just before it (the kernel's
    // peak is reset between files through clear_refs).
    let mut worst_kb = 0u64;
    let mut worst_file = "";

    let set = hostile_set(&fixtures_dir());
    for h in &set {
        let before = rss_kb(pid, "VmRSS:");
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        // POST /recognize.
        let r = srv.recognize(h.name, &h.bytes);
        assert!(r.status < 500, "{}: recognize answered {} {}", h.name, r.status, r.text);
        if r.status != 200 {
            check_code(h, r.json["error"]["code"].as_str(), "POST /recognize");
        }
        // The WebSocket, whole file in one frame.
        if !h.bytes.is_empty() {
            let v = ws_whole_file(&srv, &h.bytes);
            if let Some(code) = v["error"]["code"].as_str() {
                check_code(h, Some(code), "WebSocket");
            }
        }
        // POST /api/analyze: the mastering assistant decodes the whole mix.
        if !h.slow {
            let r = srv.post_form(
                "/api/analyze?genre=hostile",
                &[crate::server::Part::file("file", h.name, &h.bytes)],
                &[],
            );
            assert!(r.status < 500, "{}: analyze answered {} {}", h.name, r.status, r.text);
            let code = r.json["error"]["code"].as_str();
            // A file a track accepts may still be silent: nothing to master.
            if r.status != 201 && code != Some("audio_silent") {
                check_code(h, code, "POST /api/analyze");
            }
        }
        // POST /analyze with instrument=drums (analyses, then recognises
        // the clip) and POST /search/patterns with the file as the query.
        if !h.slow {
            for (route, extra) in [("/analyze", Some(("instrument", "drums"))), ("/search/patterns", None)] {
                let mut parts = vec![crate::server::Part::file("file", h.name, &h.bytes)];
                if let Some((k, v)) = extra {
                    parts.push(crate::server::Part::text(k, v));
                }
                let r = srv.post_form(route, &parts, &[]);
                assert!(r.status < 500, "{}: {route} answered {} {}", h.name, r.status, r.text);
                let code = r.json["error"]["code"].as_str();
                // A file a track accepts may still be too short or quiet to
                // analyse, or have no drums to search with.
                let analysis = matches!(
                    code,
                    Some("audio_silent" | "analysis_failed" | "no_pattern" | "audio_too_short")
                );
                if r.status != 200 && !analysis {
                    check_code(h, code, route);
                }
            }
        }
        // POST /tracks: refused at once, or a job that ends FAILED.
        let r = srv.post_form("/tracks", &[crate::server::Part::file("file", h.name, &h.bytes)], &[]);
        assert!(r.status < 500, "{}: upload answered {} {}", h.name, r.status, r.text);
        let code = if r.status == 201 {
            let t = srv.wait_final(r.json["id"].as_u64().unwrap() as u32);
            t["error"]["code"].as_str().map(str::to_string)
        } else {
            r.json["error"]["code"].as_str().map(str::to_string)
        };
        if !h.codes.is_empty() {
            check_code(h, code.as_deref(), "POST /tracks");
        }
        let jump = rss_kb(pid, "VmHWM:").saturating_sub(before);
        if jump > worst_kb {
            (worst_kb, worst_file) = (jump, h.name);
        }
    }
    // The watched folder: every file dropped in at once.
    for h in set.iter().filter(|h| !h.slow) {
        std::fs::write(srv.songs.join(format!("dropped_{}", h.name)), &h.bytes).unwrap();
    }
    srv.eventually("every dropped file to be settled", 120, |s| {
        let songs = s.get("/songs?limit=1000").json;
        let dropped: Vec<&Value> = songs["songs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|t| t["path"].as_str().unwrap_or("").contains("dropped_"))
                    .collect()
            })
            .unwrap_or_default();
        dropped
            .iter()
            .all(|t| t["status"] == "FAILED" || t["status"] == "READY")
            && dropped.len() >= set.iter().filter(|h| !h.slow && h.name.ends_with(".wav")).count()
    });
    assert_eq!(srv.get("/health").status, 200);
    assert_eq!(srv.get_bytes("/metrics").0, 200);
    eprintln!(
        "largest RSS jump for one hostile file: {} MB ({worst_file})",
        worst_kb / 1024
    );
    assert!(
        worst_kb < 200 * 1024,
        "RSS jumped by {} MB for {worst_file}",
        worst_kb / 1024
    );
    let data = dir.path().join("data");
    let stopped = srv.stop();
    assert!(stopped.success());
    let verify = crate::reindex::reindex(&data, &["--verify"]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&verify),
        stderr(&verify)
    );
}

#[test]
fn bare_sonica_reads_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(crate::common::bin())
        .env("SONICA_API_KEYS", "sekrit")
        .env("SONICA_BIND", "127.0.0.1:0")
        .env("SONICA_DATA_DIR", dir.path().join("data"))
        .env("SONICA_SONGS_DIR", dir.path().join("songs"))
        .env("SONICA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    assert!(!base.ends_with(":7700"), "SONICA_BIND was ignored: {base}");
    let (ct, body) = crate::server::multipart(&[crate::server::Part::file("file", "a.wav", b"RIFF")]);
    let r = ureq::post(&format!("{base}/tracks"))
        .set("Content-Type", &ct)
        .send_bytes(&body);
    let status = match r {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 401, "SONICA_API_KEYS was ignored by bare `sonica`");

    // A blank key and a keyless public address refuse to start (exit 2).
    for (k, v) in [("SONICA_API_KEYS", ","), ("SONICA_BIND", "0.0.0.0:0")] {
        let out = Command::new(crate::common::bin())
            .env(k, v)
            .env("SONICA_DATA_DIR", dir.path().join("data2"))
            .env("SONICA_SONGS_DIR", dir.path().join("songs2"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{k}={v}: {}", stderr(&out));
    }
}

#[test]
fn the_watcher_and_delete_stay_inside_the_songs_folder() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let precious = outside.join("precious.wav");
    crate::audio::wav(&precious, &crate::audio::song(31, 8.0, 16_000), 16_000);
    let songs = dir.path().join("songs");
    std::fs::create_dir_all(&songs).unwrap();
    std::os::unix::fs::symlink(&outside, songs.join("out")).unwrap();
    std::os::unix::fs::symlink(&songs, songs.join("loop")).unwrap();
    // A track recorded under the symlinked folder (as an older version's
    // watcher would have), for DELETE to be tempted by.
    let data = dir.path().join("data");
    let via_link = songs.join("out").join("precious.wav");
    let out = sonica(&data, &["ingest", "--json", via_link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = serde_json::from_str::<Value>(stdout(&out).lines().next().unwrap()).unwrap()["id"]
        .as_u64()
        .unwrap();

    let srv = Server::start(dir.path(), &["--watch-remove", "false"]);
    // A marker file proves the watcher has scanned and settled.
    let marker = crate::audio::song(32, 8.0, 16_000);
    std::fs::write(
        srv.songs.join("marker.wav"),
        wav_bytes(dir.path(), "m.wav", &marker, 16_000),
    )
    .unwrap();
    srv.eventually("the marker to be ingested", 60, |s| {
        s.get("/songs").json["songs"].as_array().is_some_and(|a| {
            a.iter()
                .any(|t| t["path"].as_str().unwrap().ends_with("marker.wav") && t["status"] == "READY")
        })
    });
    let songs_list = srv.get("/songs").json;
    let paths: Vec<&str> = songs_list["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 2, "only the CLI track and the marker: {paths:?}");
    assert!(
        !paths.iter().any(|p| p.contains("/loop/")),
        "the symlink loop was followed: {paths:?}"
    );

    let r = srv.delete(&format!("/tracks/{id}"), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(precious.exists(), "DELETE unlinked a file outside the songs folder");
    assert!(srv.get("/health").status == 200);
}

/// Every input a fuzzer once crashed on (`tests/fixtures/hostile/`, named
/// `fuzz-<target>-<n>.bin`), replayed through the part it crashed:
/// decoding, the WebSocket PCM reader or the codecs.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = fixtures_dir().join("hostile");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let params = FingerprintParams::index();
    let mut replayed = 0;
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&p).unwrap();
        if name.starts_with("fuzz-decode") {
            let r = sonica::pipeline::analyse_file(&p, &params);
            if let Err(e) = r {
                assert_ne!(e.code(), sonica::ErrorCode::Internal, "{name}: {e}");
            }
            let _ = sonica::decode::load_clip_limited(&p, 20.0);
            // Where allocation can fail (an address-space limit), a buffer
            // sized from a lying header aborts the process: the CLI must
            // refuse such files before any decoder sizes anything.
            let out = Command::new("bash")
                .arg("-c")
                .arg("ulimit -v 2000000; exec \"$0\" identify --data-dir \"$1\" \"$2\"")
                .arg(crate::common::bin())
                .arg(tempfile::tempdir().unwrap().path().join("db"))
                .arg(&p)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        } else if name.starts_with("fuzz-ws_stream") {
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(mut s) =
                sonica::service::stream::parse_header(&text).and_then(sonica::service::stream::PcmStream::new)
            {
                let _ = s.push(&bytes);
                let _ = s.finish();
                let _ = s.take_window();
            }
        } else if name.starts_with("fuzz-codecs") {
            let _ = sonica_schema::postings::decode(&bytes);
            let _ = sonica_schema::peaks::decode(&bytes);
        } else {
            continue;
        }
        replayed += 1;
    }
    eprintln!("{replayed} fuzz findings replayed");
}

/// A form whose body ends inside a part made actix-multipart wait forever
/// (found by the multipart fuzz target): it is refused at once now.
#[test]
fn a_form_that_ends_inside_a_part_is_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let body = b"--XbOuNdArY\0\nContent-Disposition:form-data;name=e\r\n\r\n\r";
    for route in ["/recognize", "/tracks", "/analyze", "/search/patterns"] {
        let t0 = std::time::Instant::now();
        let r = srv.post_raw(route, "multipart/form-data; boundary=XbOuNdArY", body);
        assert_eq!(r.status, 400, "{route}: {}", r.text);
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{route} took {:?}",
            t0.elapsed()
        );
    }
    // A lone `--` line made actix-multipart 0.7 panic (slice index out of
    // range) inside the HTTP worker: now a 400 like any malformed form.
    let lone = b"multipart/form-data; boundary=zz\n--\nzz\rContent-Disposition: form-data; name=\"artist\"\r\n\r\nMe\r\n--zz--\r\n";
    for _ in 0..3 {
        let r = srv.post_raw("/tracks", "multipart/form-data; boundary=zz", lone);
        assert_eq!(r.status, 400, "{}", r.text);
    }
    assert_eq!(srv.get("/health").status, 200);
}

/// A part without a name (schemathesis sent one) is malformed, not ignored.
#[test]
fn a_form_part_needs_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let r = srv.post_form(
        "/search",
        &[
            crate::server::Part::text("q", "x"),
            crate::server::Part::text("", "null"),
        ],
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "bad_request");
}

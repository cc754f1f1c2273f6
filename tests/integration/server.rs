//! A real `sonica serve` on a free loopback port, and a small HTTP client
//! for it (ureq, multipart built by hand) — what the service tests share.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::bin;

pub struct Server {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub songs: PathBuf,
}

impl Server {
    /// Starts a server on `root/data` and `root/songs` with short retry and
    /// settle times, plus `extra` flags.
    pub fn start(root: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(root, extra, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(root: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let data = root.join("data");
        let songs = root.join("songs");
        let mut child = Command::new(bin())
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--songs-dir",
                songs.to_str().unwrap(),
                "--settle-ms",
                "300",
                "--job-backoff-ms",
                "100",
                "--http-workers",
                "2",
            ])
            .args(extra)
            .env("SONICA_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sonica serve");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Server {
            child,
            base: format!("http://{addr}"),
            port,
            songs: songs.canonicalize().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    pub fn get(&self, path: &str) -> Reply {
        send(ureq::get(&self.url(path)), None)
    }

    /// A GET whose body is not JSON: status and raw bytes.
    pub fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let r = match ureq::get(&self.url(path)).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = r.status();
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).unwrap();
        (status, body)
    }

    pub fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(with(ureq::delete(&self.url(path)), headers), None)
    }

    pub fn post_form(&self, path: &str, parts: &[Part<'_>], headers: &[(&str, &str)]) -> Reply {
        let (ct, body) = multipart(parts);
        send(
            with(ureq::post(&self.url(path)), headers).set("Content-Type", &ct),
            Some(body),
        )
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        send(
            ureq::post(&self.url(path)).set("Content-Type", content_type),
            Some(body.to_vec()),
        )
    }

    /// A POST with `body` as JSON.
    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, "application/json", body.to_string().as_bytes())
    }

    /// Uploads a file as `file` and returns the id from the 201.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> u32 {
        let r = self.post_form("/tracks", &[Part::file("file", name, bytes)], &[]);
        assert_eq!(r.status, 201, "{}", r.json);
        r.json["id"].as_u64().unwrap() as u32
    }

    /// Waits until the upload `id` is final: READY with its analysis
    /// stored, FAILED or REJECTED.
    pub fn wait_final(&self, id: u32) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.get(&format!("/tracks/{id}"));
            let status = r.json["status"].as_str().unwrap_or("").to_string();
            // READY is recognisable; the music analysis follows it.
            let analysed = r.json["analysis"].as_str() != Some("PENDING");
            if (status == "READY" && analysed) || status == "FAILED" || status == "REJECTED" {
                return r.json;
            }
            assert!(Instant::now() < deadline, "track {id} stuck: {}", r.json);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn recognize(&self, name: &str, bytes: &[u8]) -> Reply {
        self.post_form("/recognize", &[Part::file("audio", name, bytes)], &[])
    }

    /// Waits until `f` holds, polling.
    pub fn eventually(&self, what: &str, secs: u64, mut f: impl FnMut(&Server) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub retry_after: Option<String>,
    pub text: String,
}

fn with(mut r: ureq::Request, headers: &[(&str, &str)]) -> ureq::Request {
    for (k, v) in headers {
        r = r.set(k, v);
    }
    r
}

fn send(r: ureq::Request, body: Option<Vec<u8>>) -> Reply {
    let r = r.timeout(Duration::from_secs(60));
    let res = match body {
        Some(b) => r.send_bytes(&b),
        None => r.call(),
    };
    let resp = match res {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let retry_after = resp.header("retry-after").map(str::to_string);
    let text = resp.into_string().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        json,
        retry_after,
        text,
    }
}

pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub bytes: &'a [u8],
}

impl<'a> Part<'a> {
    pub fn file(name: &'a str, file_name: &'a str, bytes: &'a [u8]) -> Self {
        Part {
            name,
            file_name: Some(file_name),
            bytes,
        }
    }

    pub fn text(name: &'a str, value: &'a str) -> Self {
        Part {
            name,
            file_name: None,
            bytes: value.as_bytes(),
        }
    }
}

pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "sonica-test-boundary-7d1c";
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match p.file_name {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                    p.name
                )
                .as_bytes(),
            ),
            None => body
                .extend_from_slice(format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", p.name).as_bytes()),
        }
        body.extend_from_slice(p.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A WAV file's bytes.
pub fn wav_bytes(dir: &Path, name: &str, x: &[f32], rate: u32) -> Vec<u8> {
    let p = dir.join(name);
    crate::audio::wav(&p, x, rate);
    std::fs::read(&p).unwrap()
}

/// Files (not folders) anywhere under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

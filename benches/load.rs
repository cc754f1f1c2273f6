//! Load test for `POST /recognize` against a running server: N keep-alive
//! connections (one thread each) send multipart WAV clips round-robin for a
//! fixed time; prints throughput, latency percentiles, errors and the
//! server's memory. Driven by `benches/load.sh`, which starts the server.
//!
//! Environment: `SONICA_LOAD_URL` (e.g. http://127.0.0.1:7700),
//! `SONICA_LOAD_CLIPS` (a folder of clips, or a file listing them),
//! `SONICA_LOAD_CONNS` (64), `SONICA_LOAD_SECS` (60), `SONICA_LOAD_PID`
//! (the server's pid, for RSS). Without a URL it says so and exits: the
//! bench needs a server, so `cargo bench` alone skips it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn clips(spec: &str) -> Vec<(String, Vec<u8>)> {
    let p = PathBuf::from(spec);
    let paths: Vec<PathBuf> = if p.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
            .expect("read clip folder")
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    } else {
        std::fs::read_to_string(&p)
            .expect("read clip list")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(PathBuf::from)
            .collect()
    };
    let boundary = "sonica-load-boundary";
    paths
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let mut body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"{name}\"\r\nContent-Type: audio/wav\r\n\r\n"
            )
            .into_bytes();
            body.extend(std::fs::read(path).expect("read clip"));
            body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
            (format!("multipart/form-data; boundary={boundary}"), body)
        })
        .collect()
}

fn rss_kb(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let Ok(url) = std::env::var("SONICA_LOAD_URL") else {
        println!("load: SONICA_LOAD_URL is not set; run benches/load.sh (it starts a server)");
        return;
    };
    let spec = std::env::var("SONICA_LOAD_CLIPS").expect("SONICA_LOAD_CLIPS: clip folder or list");
    let conns: usize = env_or("SONICA_LOAD_CONNS", 64);
    let secs: u64 = env_or("SONICA_LOAD_SECS", 60);
    let pid = std::env::var("SONICA_LOAD_PID").ok();
    let bodies = Arc::new(clips(&spec));
    assert!(!bodies.is_empty(), "no clips in {spec}");
    let target = format!("{url}/recognize");
    let before = scrape(&url);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let (bodies, target, stop) = (bodies.clone(), target.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .max_idle_connections_per_host(1)
                    .timeout(Duration::from_secs(30))
                    .build();
                let mut lat = Vec::new();
                let (mut errors, mut matched) = (0u64, 0u64);
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let (ct, body) = &bodies[i % bodies.len()];
                    i += conns;
                    let t = Instant::now();
                    match agent.post(&target).set("Content-Type", ct).send_bytes(body) {
                        Ok(r) => {
                            let text = r.into_string().unwrap_or_default();
                            lat.push(t.elapsed());
                            if !text.contains("\"match\":null") {
                                matched += 1;
                            }
                        }
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors, matched)
            })
        })
        .collect();
    let mut peak_rss = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(p) = &pid {
            peak_rss = peak_rss.max(rss_kb(p, "VmRSS:").unwrap_or(0));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let (mut errors, mut matched) = (0, 0);
    for h in handles {
        let (l, e, m) = h.join().unwrap();
        lat.extend(l);
        errors += e;
        matched += m;
    }
    let wall = started.elapsed().as_secs_f64();
    let after = scrape(&url);
    lat.sort();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1e3
    };
    println!("| connections | seconds | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | matched | server RSS peak MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {conns} | {wall:.0} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {errors} | {:.1}% | {} |",
        lat.len(),
        lat.len() as f64 / wall,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lat.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        100.0 * matched as f64 / lat.len().max(1) as f64,
        pid.as_ref()
            .map_or("n/a".to_string(), |_| format!("{:.0}", peak_rss as f64 / 1024.0)),
    );
    stage_table(&before, &after);
}

/// The server's `/metrics` counters this bench reads: recognitions, and
/// CPU seconds per recognition stage.
fn scrape(url: &str) -> Vec<(String, f64)> {
    let text = ureq::get(&format!("{url}/metrics"))
        .call()
        .ok()
        .and_then(|r| r.into_string().ok())
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("sonica_recognition"))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// CPU milliseconds per recognition by stage over the run (the change in
/// the server's counters divided by the recognitions it made).
fn stage_table(before: &[(String, f64)], after: &[(String, f64)]) {
    let delta = |key: &str| {
        let get = |m: &[(String, f64)]| m.iter().find(|(k, _)| k == key).map_or(0.0, |e| e.1);
        get(after) - get(before)
    };
    let n =
        delta("sonica_recognitions_total{result=\"match\"}") + delta("sonica_recognitions_total{result=\"no_match\"}");
    if n <= 0.0 {
        println!("(no recognitions counted by the server: no stage table)");
        return;
    }
    let stages = ["decode", "resample", "peaks", "hash", "lookup", "vote"];
    let ms: Vec<f64> = stages
        .iter()
        .map(|s| 1e3 * delta(&format!("sonica_recognition_cpu_seconds_total{{stage=\"{s}\"}}")) / n)
        .collect();
    println!();
    println!("CPU ms per recognition by stage ({n:.0} recognitions)");
    println!("| {} | total |", stages.join(" | "));
    println!("|{}---|", "---|".repeat(stages.len()));
    let cells: Vec<String> = ms.iter().map(|m| format!("{m:.2}")).collect();
    println!("| {} | {:.2} |", cells.join(" | "), ms.iter().sum::<f64>());
}

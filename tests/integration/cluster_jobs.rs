//! Jobs on a cluster: any node's workers run any node's uploads, each job
//! runs to READY once, and a node killed mid-job has its job finished by
//! another node. The nodes share one songs folder (each node's `songs` is a
//! link to it), as a cluster must for a job to move between nodes.
//! Skipped, saying so, when `redis-server` is not installed.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::audio;
use crate::cluster::{node, shared_cluster};
use crate::redis_cluster::RedisCluster;
use crate::server::{wav_bytes, Server};

const RATE: u32 = 22_050;

/// A node whose songs folder is `shared` (a link at `root/songs`).
fn shared_node(root: &Path, shared: &Path, cluster: &RedisCluster, ns: &str, extra: &[&str]) -> Server {
    let songs = root.join("songs");
    if !songs.exists() {
        std::os::unix::fs::symlink(shared, &songs).unwrap();
    }
    let mut args = vec!["--watch", "false"];
    args.extend_from_slice(extra);
    node(root, cluster, ns, &args)
}

fn status(srv: &Server, id: u32) -> String {
    srv.get(&format!("/tracks/{id}")).json["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The sum of `sonica_jobs_total{outcome="ready"}` on one node.
fn ready_count(srv: &Server) -> u64 {
    let text = srv.get("/metrics").text;
    text.lines()
        .find_map(|l| l.strip_prefix("sonica_jobs_total{outcome=\"ready\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Entries left in the library's job queue (taken or not): 0 once every
/// job has ended and been acknowledged.
fn queue_len(cluster: &RedisCluster, ns: &str) -> u64 {
    let out = std::process::Command::new("redis-cli")
        .args([
            "-c",
            "-p",
            &cluster.ports[0].to_string(),
            "XLEN",
            &format!("{ns}:{{jobs}}:queue"),
        ])
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(u64::MAX)
}

/// Waits until the job queue of `ns` is empty.
fn queue_drains(srv: &Server, cluster: &RedisCluster, ns: &str) {
    srv.eventually("the job queue to be empty", 10, |_| queue_len(cluster, ns) == 0);
}

#[test]
fn a_node_killed_mid_job_has_its_job_finished_by_another() {
    let Some(cluster) = shared_cluster() else { return };
    let ns = format!("jobs-kill-{}", std::process::id());
    let (shared, ra, rb) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    // A alone takes the upload; long enough that the kill lands mid-job.
    let a = shared_node(ra.path(), shared.path(), cluster, &ns, &["--job-workers", "1"]);
    let long = audio::song(18_500, 600.0, RATE);
    let id = a.upload("long.wav", &wav_bytes(ra.path(), "long.wav", &long, RATE));
    a.eventually("A to start the job", 60, |a| status(a, id) != "QUEUED");
    assert_eq!(status(&a, id), "PROCESSING", "A finished before the kill");
    a.kill();
    let killed = Instant::now();

    // B takes the job over once A's entry has gone untouched for the
    // reclaim time, and runs it to READY.
    let b = shared_node(rb.path(), shared.path(), cluster, &ns, &["--job-workers", "1"]);
    let deadline = killed + Duration::from_secs(120);
    let rec = loop {
        let r = b.get(&format!("/tracks/{id}")).json;
        if r["status"] == "READY" && r["analysis"] != "PENDING" || r["status"] == "FAILED" {
            break r;
        }
        assert!(Instant::now() < deadline, "job {id} not finished by B: {r}");
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("job finished on B {:?} after the kill", killed.elapsed());
    assert_eq!(rec["status"], "READY", "{rec}");
    assert_eq!(rec["id"], id, "{rec}");

    // Recognisable on B, and one track: the job completed once.
    let clip = wav_bytes(rb.path(), "c.wav", &audio::slice(&long, RATE, 300.0, 6.0), RATE);
    let m = b.recognize("c.wav", &clip);
    assert_eq!(m.json["match"]["id"], id, "{}", m.text);
    assert_eq!(b.get("/songs").json["total"], 1);
    assert_eq!(b.get("/health").json["tracks"], 1);
    assert_eq!(ready_count(&b), 1, "B ran it to READY once");
    queue_drains(&b, cluster, &ns);
}

#[test]
fn uploads_spread_over_two_nodes_each_run_once() {
    let Some(cluster) = shared_cluster() else { return };
    let ns = format!("jobs-spread-{}", std::process::id());
    let (shared, ra, rb) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = shared_node(ra.path(), shared.path(), cluster, &ns, &["--job-workers", "2"]);
    let b = shared_node(rb.path(), shared.path(), cluster, &ns, &["--job-workers", "2"]);
    const N: u32 = 6;
    let mut ids = Vec::new();
    for i in 0..N {
        let (srv, dir) = if i % 2 == 0 { (&a, ra.path()) } else { (&b, rb.path()) };
        let name = format!("s{i}.wav");
        let bytes = wav_bytes(dir, &name, &audio::song(18_600 + i, 20.0, RATE), RATE);
        ids.push(srv.upload(&name, &bytes));
    }
    for (i, id) in ids.iter().enumerate() {
        let rec = if i % 2 == 0 {
            b.wait_final(*id)
        } else {
            a.wait_final(*id)
        };
        assert_eq!(rec["status"], "READY", "{rec}");
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), N as usize, "one id per upload: {ids:?}");
    for srv in [&a, &b] {
        assert_eq!(srv.get("/songs").json["total"], N, "each upload is one track");
    }
    // Every job ran to READY once, on one node or the other.
    a.eventually("every READY to be counted", 10, |a| {
        ready_count(a) + ready_count(&b) == u64::from(N)
    });
}

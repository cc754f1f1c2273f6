//! A real Redis Cluster for tests: `redis-server` processes on loopback
//! ports joined with `redis-cli --cluster create`, torn down when dropped
//! or when the test process dies (each server is watched by a shell loop
//! that kills it once the test process is gone).
//!
//! Shared by the index crate's store tests and the integration tests
//! (included with `#[path]`). Without `redis-server` on PATH it returns
//! `None` and says the test was skipped: `.ci/run` installs it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster; dropped, every server is killed.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    dir: PathBuf,
    /// The shell loops watching each server (they end with it).
    watchers: Vec<Child>,
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `n` ports whose cluster-bus ports (+10000) are free too.
fn free_ports(n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    let mut held = Vec::new();
    while out.len() < n {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let p = l.local_addr().unwrap().port();
        if p < 55_000 && TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() && !out.contains(&p) {
            out.push(p);
        }
        held.push(l);
    }
    out
}

pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "Redis Cluster: {what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl RedisCluster {
    /// Starts `masters` masters with `replicas` replicas each, or returns
    /// `None` (after saying so) when Redis is not installed.
    pub fn start(masters: usize, replicas: usize) -> Option<RedisCluster> {
        if !have("redis-server") || !have("redis-cli") {
            eprintln!("SKIPPED: redis-server/redis-cli not found; install Debian's redis-server to run the Redis Cluster tests");
            return None;
        }
        let n = masters * (1 + replicas);
        let ports = free_ports(n);
        let dir = std::env::temp_dir().join(format!("sonica-redis-{}-{}", std::process::id(), ports[0]));
        std::fs::create_dir_all(&dir).expect("create the cluster folder");
        let me = std::process::id();
        let mut watchers = Vec::new();
        for &p in &ports {
            let server = format!(
                "redis-server --port {p} --bind 127.0.0.1 --cluster-enabled yes \
                 --cluster-config-file nodes-{p}.conf --cluster-node-timeout 1000 \
                 --cluster-require-full-coverage no --cluster-replica-validity-factor 0 \
                 --save '' --appendonly no --dir {} --logfile redis-{p}.log",
                dir.display()
            );
            // The watcher: the server dies with the test process.
            let script = format!(
                "{server} & r=$!; while kill -0 {me} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done; kill -9 $r 2>/dev/null"
            );
            let watcher = Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            watchers.push(watcher);
        }
        for &p in &ports {
            wait_until(
                &format!("redis-server on {p} answering"),
                Duration::from_secs(10),
                || cli(p, &["ping"]).trim() == "PONG",
            );
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { ports, dir, watchers };
        cluster.wait_ok();
        if replicas > 0 {
            wait_until("every replica in sync", Duration::from_secs(20), || {
                cluster.masters().iter().all(|&m| {
                    let info = cli(m, &["info", "replication"]);
                    info.contains(&format!("connected_slaves:{replicas}"))
                        && (0..replicas)
                            .all(|i| info.contains(&format!("slave{i}:")) && !info.contains("state=wait_bgsave"))
                })
            });
        }
        Some(cluster)
    }

    /// Waits until every running node reports `cluster_state:ok`.
    pub fn wait_ok(&self) {
        wait_until("cluster_state:ok on every node", Duration::from_secs(30), || {
            self.ports
                .iter()
                .filter(|&&p| cli(p, &["ping"]).trim() == "PONG")
                .all(|&p| cli(p, &["cluster", "info"]).contains("cluster_state:ok"))
        });
    }

    /// The seed URLs for `--cluster`.
    pub fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Ports of the nodes that are masters now.
    pub fn masters(&self) -> Vec<u16> {
        self.ports
            .iter()
            .copied()
            .filter(|&p| cli(p, &["info", "replication"]).contains("role:master"))
            .collect()
    }

    /// Kills one master (SIGKILL) and waits until a replica has taken its
    /// place and the cluster is whole again. Returns the dead port.
    pub fn kill_a_master(&mut self) -> u16 {
        let masters = self.masters();
        let victim = masters[0];
        let pid: u32 = cli(victim, &["info", "server"])
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("the master's process id");
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill");
        self.ports.retain(|&p| p != victim);
        wait_until("a replica promoted", Duration::from_secs(30), || {
            self.masters().len() == masters.len()
        });
        self.wait_ok();
        victim
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for &p in &self.ports {
            let _ = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &p.to_string(), "shutdown", "nosave"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for w in &mut self.watchers {
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

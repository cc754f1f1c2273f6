//! Connections to the cluster: a pool for readers and one connection for
//! writers, with retries that ride out a failover.
//!
//! Writes share one connection because `WAIT` (what
//! [`KvStore::flush`](crate::KvStore::flush) sends) only counts the writes
//! of the connection it is sent on. A failed call is retried for a few
//! seconds with a fresh connection: that covers a master dying and its
//! replica taking over, which Redis Cluster does in about the node timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{Cmd, RedisResult};

use super::{backend, strings};
use crate::StoreError;

/// How long one call keeps retrying before it reports the cluster down.
const RETRY_FOR: Duration = Duration::from_secs(15);
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Most URLs accepted in `--cluster` (seeds; the rest is discovered).
const MAX_SEEDS: usize = 64;

pub struct Pool {
    client: ClusterClient,
    idle: Mutex<Vec<ClusterConnection>>,
    writer: Mutex<Option<ClusterConnection>>,
}

/// Checks `--cluster`: comma-separated `redis://host:port` seeds.
pub fn parse_seeds(urls: &str) -> Result<Vec<String>, StoreError> {
    let seeds: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if seeds.is_empty() {
        return Err(StoreError::Backend(
            "--cluster names no Redis node: give redis://host:port[,redis://host:port…]".into(),
        ));
    }
    if seeds.len() > MAX_SEEDS {
        return Err(StoreError::Backend(format!(
            "--cluster names {} nodes; give at most {MAX_SEEDS} seeds (the rest are discovered)",
            seeds.len()
        )));
    }
    for s in &seeds {
        if !(s.starts_with("redis://") || s.starts_with("rediss://")) || s.len() > 2048 {
            return Err(StoreError::Backend(format!(
                "--cluster: {:?} is not a redis://host:port URL",
                s.chars().take(200).collect::<String>()
            )));
        }
    }
    Ok(seeds)
}

impl Pool {
    pub fn connect(urls: &str) -> Result<Pool, StoreError> {
        let seeds = parse_seeds(urls)?;
        let client = ClusterClient::builder(seeds.clone())
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StoreError::Backend(format!("--cluster {urls}: {e}")))?;
        let first = client
            .get_connection()
            .map_err(|e| StoreError::Backend(format!("cannot reach the Redis Cluster at {urls}: {e}")))?;
        Ok(Pool {
            client,
            idle: Mutex::new(vec![first]),
            writer: Mutex::new(None),
        })
    }

    fn fresh(&self) -> RedisResult<ClusterConnection> {
        self.client.get_connection()
    }

    /// Runs `f` on a pooled reader connection, retrying on a new one while
    /// the cluster recovers.
    pub fn read<T>(&self, mut f: impl FnMut(&mut ClusterConnection) -> RedisResult<T>) -> Result<T, StoreError> {
        let start = Instant::now();
        loop {
            let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let err = match taken.map_or_else(|| self.fresh(), Ok) {
                Ok(mut c) => match f(&mut c) {
                    Ok(v) => {
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                        return Ok(v);
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if !retryable(&err) || start.elapsed() > RETRY_FOR {
                return Err(backend(err));
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }

    /// Runs `f` on the one writer connection (see the file comment).
    pub fn write<T>(&self, mut f: impl FnMut(&mut ClusterConnection) -> RedisResult<T>) -> Result<T, StoreError> {
        let start = Instant::now();
        let mut slot = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if slot.is_none() {
                match self.fresh() {
                    Ok(c) => *slot = Some(c),
                    Err(e) if retryable(&e) && start.elapsed() <= RETRY_FOR => {
                        std::thread::sleep(RETRY_PAUSE);
                        continue;
                    }
                    Err(e) => return Err(backend(e)),
                }
            }
            let c = slot.as_mut().expect("connected above");
            match f(c) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    *slot = None;
                    if !retryable(&e) || start.elapsed() > RETRY_FOR {
                        return Err(backend(e));
                    }
                    std::thread::sleep(RETRY_PAUSE);
                }
            }
        }
    }

    /// Sends `cmd` to every master, on the writer connection when `writer`,
    /// and returns the text of their replies.
    pub fn on_masters_with(&self, cmd: &Cmd, writer: bool) -> Result<Vec<String>, StoreError> {
        let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let run = |c: &mut ClusterConnection| c.route_command(cmd, routing.clone());
        let v = if writer { self.write(run)? } else { self.read(run)? };
        let mut out = Vec::new();
        strings(&v, &mut out);
        Ok(out)
    }

    pub fn on_masters(&self, cmd: &Cmd) -> Result<Vec<String>, StoreError> {
        self.on_masters_with(cmd, false)
    }
}

/// Whether an error may pass once the cluster settles (a node down, a
/// failover, a moved slot) rather than being a wrong command.
fn retryable(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind as K, ServerErrorKind as S};
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            K::ClusterConnectionNotFound | K::Server(S::MasterDown | S::BusyLoading | S::ReadOnly)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_checked() {
        assert!(parse_seeds("").is_err());
        assert!(parse_seeds(" , ").is_err());
        assert!(parse_seeds("http://x:1").is_err());
        assert!(parse_seeds(&"redis://h:1,".repeat(100)).is_err());
        assert_eq!(
            parse_seeds("redis://a:1, redis://b:2").unwrap(),
            ["redis://a:1", "redis://b:2"]
        );
    }
}

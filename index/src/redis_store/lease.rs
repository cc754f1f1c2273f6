//! The writer lease: one index writer at a time across every node.
//!
//! sled serialises writers inside one process; nodes sharing a cluster
//! need the same guarantee across processes, or two compactions could
//! rewrite one bucket and lose postings, and two adds could take one id.
//! The lease is a key set with `NX` and a short expiry, renewed by the
//! heartbeat while held and deleted (only by its holder) on release. A
//! holder that dies stops renewing, and the lease passes on within
//! [`LEASE_MS`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sonica_schema::cluster_layout::lease_key;

use super::{random_u32, Pool, RedisStore};
use crate::store::WriterLease;
use crate::StoreError;

/// Lease expiry; renewed every heartbeat (1 s) while held.
pub(crate) const LEASE_MS: u64 = 5_000;
/// How long a writer waits for the lease before giving up.
const WAIT_FOR: Duration = Duration::from_secs(60);

/// The token of the lease this process holds, if any (the heartbeat
/// renews it).
pub(crate) type Held = Arc<Mutex<Option<String>>>;

const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const RENEW: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

pub(crate) struct Lease {
    pool: Arc<Pool>,
    key: String,
    token: String,
    held: Held,
}

impl WriterLease for Lease {}

impl Lease {
    /// Waits for the lease.
    pub(super) fn acquire(store: &RedisStore) -> Result<Lease, StoreError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(l) = Self::try_acquire(&store.pool, &store.ns, &store.node, &store.held)? {
                return Ok(l);
            }
            if start.elapsed() > WAIT_FOR {
                return Err(StoreError::Backend(format!(
                    "Redis Cluster: another node has held the writer lease for over {} s",
                    WAIT_FOR.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Takes the lease if it is free.
    pub(super) fn try_acquire(
        pool: &Arc<Pool>,
        ns: &str,
        node: &str,
        held: &Held,
    ) -> Result<Option<Lease>, StoreError> {
        let key = lease_key(ns);
        let token = format!("{node}:{:08x}", random_u32());
        let got: Option<String> = pool.write(|c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(LEASE_MS)
                .query(c)
        })?;
        if got.is_none() {
            return Ok(None);
        }
        *held.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(Some(Lease {
            pool: pool.clone(),
            key,
            token,
            held: held.clone(),
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let script = redis::Script::new(RELEASE);
        let released = self
            .pool
            .write(|c| script.key(&self.key).arg(&self.token).invoke::<i64>(c));
        if let Err(e) = released {
            // It expires on its own within LEASE_MS.
            eprintln!("sonica: releasing the writer lease failed: {e}");
        }
    }
}

/// Extends the lease while this process holds it.
pub(super) fn renew(pool: &Pool, ns: &str, held: &Held) -> Result<(), StoreError> {
    let token = held.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(token) = token {
        let script = redis::Script::new(RENEW);
        pool.read(|c| script.key(lease_key(ns)).arg(&token).arg(LEASE_MS).invoke::<i64>(c))?;
    }
    Ok(())
}

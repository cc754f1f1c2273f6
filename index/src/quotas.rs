//! Counting an API key's quotas, exactly and durably.
//!
//! [`Quotas::take`] decides whether one more request fits every quota it
//! counts against and, if it does, writes the new counts and flushes them
//! to disk before it returns: a request is only ever admitted once its
//! count is durable, so no kill (not even `kill -9`) and no restart can let
//! a key past its limit; at worst a request counted just before a kill is
//! never answered. Takes for one key run one at a time (a striped lock), so
//! concurrent requests are counted exactly; different keys mostly run side
//! by side.

use std::sync::{Arc, Mutex};

use sonica_schema::quota::{counter_key, Counter, Quota};
use sonica_schema::Tree;

use crate::store::{Batch, KvStore};
use crate::IndexError;

/// Locks that serialise takes: a key always maps to the same one.
const STRIPES: usize = 64;

/// One quota a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub quota: Quota,
    /// The key's limit for it in one window.
    pub limit: u64,
    /// Whether this request counts against it (otherwise it is only read,
    /// for the response's headers).
    pub counts: bool,
}

/// Where one quota stands after a take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub quota: Quota,
    pub limit: u64,
    /// Used in the current window, this request included when admitted.
    pub used: u64,
    /// Length of the current window, seconds.
    pub window_s: u64,
    /// Seconds until the current window ends (at least 1).
    pub reset_s: u64,
}

impl Standing {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// The answer of [`Quotas::take`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Counted (durably); the standings include this request.
    Admitted(Vec<Standing>),
    /// Over `quota`; nothing was counted.
    Refused { quota: Quota, standings: Vec<Standing> },
}

/// The counters of every key.
pub struct Quotas {
    store: Arc<dyn KvStore>,
    stripes: Vec<Mutex<()>>,
}

impl Quotas {
    pub fn new(store: Arc<dyn KvStore>) -> Quotas {
        Quotas {
            store,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Counts one request of key `key_id` at `now_unix` against `asks`:
    /// admitted (and durable) only if every quota it counts against has
    /// room. When several are full, the refusal names the one whose window
    /// ends last (the earliest time a retry can succeed).
    pub fn take(&self, key_id: u64, asks: &[Ask], now_unix: u64) -> Result<Take, IndexError> {
        // A poisoned stripe only means another take panicked; the counters
        // on disk are still whole.
        let _turn = self.stripes[(key_id % STRIPES as u64) as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut standings = Vec::with_capacity(asks.len());
        let mut full: Option<(Quota, u64)> = None;
        for a in asks {
            let w = a.quota.window();
            let start = w.start(now_unix);
            let end = w.end(now_unix);
            let used = match self.store.get(Tree::QuotaCounters, &counter_key(key_id, a.quota))? {
                Some(v) => Counter::decode(&v)?.used_in(start),
                None => 0,
            };
            let s = Standing {
                quota: a.quota,
                limit: a.limit,
                used,
                window_s: end - start,
                reset_s: (end - now_unix).max(1),
            };
            if a.counts && used >= a.limit && full.is_none_or(|(_, r)| s.reset_s > r) {
                full = Some((a.quota, s.reset_s));
            }
            standings.push(s);
        }
        if let Some((quota, _)) = full {
            return Ok(Take::Refused { quota, standings });
        }
        let mut b = Batch::new();
        for (a, s) in asks.iter().zip(standings.iter_mut()) {
            if a.counts {
                s.used += 1;
                let c = Counter {
                    window_start: a.quota.window().start(now_unix),
                    count: s.used,
                };
                b.put(Tree::QuotaCounters, counter_key(key_id, a.quota), c.encode());
            }
        }
        if !b.is_empty() {
            self.store.commit(b)?;
            self.store.flush()?;
        }
        Ok(Take::Admitted(standings))
    }

    /// What key `key_id` has used of `quota` in the window holding `now_unix`.
    pub fn used(&self, key_id: u64, quota: Quota, now_unix: u64) -> Result<u64, IndexError> {
        let start = quota.window().start(now_unix);
        Ok(
            match self.store.get(Tree::QuotaCounters, &counter_key(key_id, quota))? {
                Some(v) => Counter::decode(&v)?.used_in(start),
                None => 0,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    fn ask(quota: Quota, limit: u64, counts: bool) -> Ask {
        Ask { quota, limit, counts }
    }

    #[test]
    fn a_quota_admits_exactly_its_limit_per_window() {
        let q = Quotas::new(Arc::new(MemStore::new()));
        let t0 = 10 * 3600 + 600;
        let asks = [ask(Quota::Requests, 3, true)];
        for n in 1..=3 {
            match q.take(1, &asks, t0).unwrap() {
                Take::Admitted(s) => assert_eq!((s[0].used, s[0].remaining()), (n, 3 - n)),
                other => panic!("{other:?}"),
            }
        }
        match q.take(1, &asks, t0 + 5).unwrap() {
            Take::Refused { quota, standings } => {
                assert_eq!(quota, Quota::Requests);
                assert_eq!(standings[0].reset_s, 3600 - 605);
                assert_eq!(standings[0].window_s, 3600);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(q.used(1, Quota::Requests, t0).unwrap(), 3, "a refusal counts nothing");
        assert!(matches!(q.take(2, &asks, t0).unwrap(), Take::Admitted(_)), "per key");
        assert!(
            matches!(q.take(1, &asks, t0 + 3000).unwrap(), Take::Admitted(_)),
            "the next hour starts at zero"
        );
    }

    #[test]
    fn a_request_fits_every_quota_it_counts_against_or_none() {
        let q = Quotas::new(Arc::new(MemStore::new()));
        let now = 1_700_000_000;
        let upload = [ask(Quota::Requests, 10, true), ask(Quota::Uploads, 1, true)];
        assert!(matches!(q.take(1, &upload, now).unwrap(), Take::Admitted(_)));
        match q.take(1, &upload, now).unwrap() {
            Take::Refused { quota, .. } => assert_eq!(quota, Quota::Uploads),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            q.used(1, Quota::Requests, now).unwrap(),
            1,
            "the refused upload took no request"
        );
        // Read only: a full quota the request does not count against.
        let read = [ask(Quota::Requests, 10, true), ask(Quota::Uploads, 1, false)];
        match q.take(1, &read, now).unwrap() {
            Take::Admitted(s) => assert_eq!((s[0].used, s[1].used, s[1].remaining()), (2, 1, 0)),
            other => panic!("{other:?}"),
        }
        // A zero limit refuses everything.
        assert!(matches!(
            q.take(5, &[ask(Quota::Analyses, 0, true)], now).unwrap(),
            Take::Refused { .. }
        ));
    }

    #[test]
    fn concurrent_takes_are_exact() {
        let q = Arc::new(Quotas::new(Arc::new(MemStore::new())));
        let admitted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..20 {
                        if let Take::Admitted(_) = q.take(7, &[ask(Quota::Requests, 100, true)], 3600).unwrap() {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 100);
        assert_eq!(q.used(7, Quota::Requests, 3600).unwrap(), 100);
    }
}

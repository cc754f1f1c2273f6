//! API keys and per-client rate limits: who is calling, and whether the
//! route lets them (a route says which kind of access it is, in
//! `policy.rs`).
//!
//! Keys: the configured ones (`api_keys`) are admin keys; stored ones
//! (`sonica keys add`, `POST /admin/keys`) belong to a tier. When there
//! are none of either the service is open. With keys, write routes (POST,
//! DELETE) need one; reads and recognition stay open unless
//! `protect_reads` is set; a key that is sent must be valid wherever a
//! route needs access (a revoked or unknown one is a 401, not ignored).
//! Requests without a key are rate-limited per client IP, a token bucket
//! (governor's GCRA), on recognition, streams and uploads; a stored key's
//! requests are counted against its tier's quotas instead.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sonica_index::{KeyStore, KvStore, Quotas};

use crate::service::config::Config;
use crate::service::error::ApiError;
use crate::service::tiers::{Caller, KeyCaller, Tier, TierTable};

/// What a route does, for the key check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Recognize,
    Write,
    /// Managing keys: a configured (admin) key only.
    Admin,
}

pub struct Guard {
    keys: Vec<String>,
    protect_reads: bool,
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    stored: Arc<KeyStore>,
    quotas: Quotas,
    tiers: TierTable,
}

impl Guard {
    /// The guard of a service whose stored keys are `stored` and whose
    /// quota counters live in `store`.
    pub fn new(c: &Config, stored: Arc<KeyStore>, store: Arc<dyn KvStore>) -> Guard {
        let limiter = NonZeroU32::new(c.rate_limit).map(|per_s| {
            let burst = NonZeroU32::new(c.rate_burst).unwrap_or(per_s);
            RateLimiter::keyed(Quota::per_second(per_s).allow_burst(burst))
        });
        Guard {
            keys: c.api_keys.clone(),
            protect_reads: c.protect_reads,
            limiter,
            stored,
            quotas: Quotas::new(store),
            tiers: c.tiers.clone(),
        }
    }

    /// The stored keys (for the admin routes).
    pub fn stored_keys(&self) -> &Arc<KeyStore> {
        &self.stored
    }

    /// The stored keys' counters.
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// Who sent `req`: a 401 for a key that is sent but not valid, where
    /// the service has keys (a service without any ignores them).
    pub fn identify(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        let any_keys = !self.keys.is_empty() || self.stored.any_active();
        let Some(k) = presented_key(req) else {
            return Ok(if any_keys { Caller::Anonymous } else { Caller::Open });
        };
        if self
            .keys
            .iter()
            .any(|good| constant_time_eq(good.as_bytes(), k.as_bytes()))
        {
            return Ok(Caller::Admin);
        }
        match self.stored.by_hash(&crate::service::keys::hash(&k)) {
            Some(r) if r.is_active() => Ok(Caller::Key(KeyCaller {
                id: r.id,
                name: r.name,
                tier: r.tier,
                limits: self.tiers.limits(r.tier).with(&r.overrides),
            })),
            Some(_) => Err(ApiError::Revoked),
            None if any_keys => Err(ApiError::Unauthorized),
            None => Ok(Caller::Open),
        }
    }

    /// Refuses a caller the route's kind of access does not admit.
    pub fn authorize(&self, caller: &Caller, access: Access) -> Result<(), ApiError> {
        match (caller, access) {
            (Caller::Admin, _) => Ok(()),
            (Caller::Key(_), Access::Admin) => Err(ApiError::AdminRequired),
            (_, Access::Admin) => Err(ApiError::Unauthorized),
            (Caller::Open | Caller::Key(_), _) => Ok(()),
            (Caller::Anonymous, Access::Write) => Err(ApiError::Unauthorized),
            (Caller::Anonymous, _) if self.protect_reads => Err(ApiError::Unauthorized),
            (Caller::Anonymous, _) => Ok(()),
        }
    }

    /// Refuses a caller below a feature's tier: a stored key with a 403
    /// naming the tier, no key with a 401.
    pub fn gate(&self, caller: &Caller, tier: Tier) -> Result<(), ApiError> {
        match caller {
            c if c.reaches(tier) => Ok(()),
            Caller::Key(_) => Err(ApiError::TierRequired(tier)),
            _ => Err(ApiError::Unauthorized),
        }
    }

    /// Takes one unit of the client's allowance, or says when to retry.
    pub fn limit(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.limit_client(client_ip(req))
    }

    /// [`Guard::limit`] for a client already known by address (a
    /// WebSocket takes a unit per recognition attempt).
    pub fn limit_client(&self, ip: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// Forgets clients that have not been seen for a while (memory bound).
    pub fn prune(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
        }
    }
}

/// The client's address, as rate limits count it.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// Routes a browser reaches without being able to add a header (a
/// WebSocket, an `<audio src>`, a download link): on these alone the key
/// may come in the query string, as `key=`.
pub const KEY_IN_QUERY: &[&str] = &[
    "/ws/stream",
    "/tracks/{id}/audio",
    "/tracks/{id}/pattern.mid",
    "/patterns/{id}/midi",
    "/patterns/{id}/preview",
    // EventSource cannot send headers either.
    "/monitors/events",
    "/monitors/{id}/events",
];

fn presented_key(req: &HttpRequest) -> Option<String> {
    let h = req.headers();
    if let Some(v) = h.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    if let Some(auth) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, key) = auth.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| key.trim().to_string());
    }
    let pattern = req.match_pattern()?;
    if !KEY_IN_QUERY.contains(&pattern.as_str()) {
        return None;
    }
    let q = actix_web::web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string()).ok()?;
    q.into_inner().remove("key")
}

/// Compares without an early exit, so timing does not leak a key prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use sonica_schema::api_key::Overrides;

    fn guard(keys: &[&str], protect_reads: bool, rate: u32) -> Guard {
        let store: Arc<dyn KvStore> = Arc::new(sonica_index::MemStore::new());
        let stored = Arc::new(KeyStore::open(store.clone()).unwrap());
        let c = Config {
            api_keys: keys.iter().map(|s| s.to_string()).collect(),
            protect_reads,
            rate_limit: rate,
            rate_burst: rate,
            ..Config::default()
        };
        Guard::new(&c, stored, store)
    }

    fn with_key(header: (&'static str, &str)) -> HttpRequest {
        TestRequest::default().insert_header(header).to_http_request()
    }

    /// Identified and authorized, as the policy does it.
    fn allowed(g: &Guard, req: &HttpRequest, access: Access) -> Result<Caller, ApiError> {
        let c = g.identify(req)?;
        g.authorize(&c, access).map(|()| c)
    }

    #[test]
    fn keys_guard_writes_and_optionally_reads() {
        let g = guard(&["sekrit"], false, 0);
        let none = TestRequest::default().to_http_request();
        let bearer = with_key(("Authorization", "Bearer sekrit"));
        let x = with_key(("X-API-Key", "sekrit"));
        let wrong = with_key(("Authorization", "Bearer sekrix"));
        assert!(allowed(&g, &none, Access::Read).is_ok());
        assert!(allowed(&g, &none, Access::Write).is_err());
        assert!(allowed(&g, &wrong, Access::Write).is_err());
        assert!(allowed(&g, &wrong, Access::Read).is_err(), "a wrong key is not ignored");
        assert_eq!(allowed(&g, &bearer, Access::Write).unwrap(), Caller::Admin);
        assert_eq!(allowed(&g, &x, Access::Admin).unwrap(), Caller::Admin);
        let strict = guard(&["sekrit"], true, 0);
        assert!(allowed(&strict, &none, Access::Recognize).is_err());
        let open = guard(&[], true, 0);
        assert_eq!(allowed(&open, &none, Access::Write).unwrap(), Caller::Open);
        assert_eq!(allowed(&open, &wrong, Access::Write).unwrap(), Caller::Open);
        assert!(
            allowed(&open, &none, Access::Admin).is_err(),
            "no admin without an admin key"
        );
    }

    #[test]
    fn stored_keys_have_a_tier_and_can_be_revoked() {
        let g = guard(&[], false, 0);
        let keys = g.stored_keys().clone();
        let (secret, r) = crate::service::keys::create(&keys, "k", Tier::Starter, Overrides::default(), 1).unwrap();
        let req = with_key(("X-API-Key", &secret));
        let none = TestRequest::default().to_http_request();
        match allowed(&g, &req, Access::Write).unwrap() {
            Caller::Key(k) => assert_eq!(
                (k.id, k.tier, k.limits),
                (r.id, Tier::Starter, TierTable::default().limits(Tier::Starter))
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            allowed(&g, &none, Access::Read).unwrap(),
            Caller::Anonymous,
            "a stored key makes the service keyed"
        );
        assert!(allowed(&g, &none, Access::Write).is_err());
        assert!(matches!(allowed(&g, &req, Access::Admin), Err(ApiError::AdminRequired)));
        let caller = g.identify(&req).unwrap();
        assert!(matches!(
            g.gate(&caller, Tier::Producer),
            Err(ApiError::TierRequired(Tier::Producer))
        ));
        assert!(g.gate(&caller, Tier::Starter).is_ok());
        assert!(matches!(
            g.gate(&Caller::Anonymous, Tier::Producer),
            Err(ApiError::Unauthorized)
        ));
        keys.revoke(r.id, 2).unwrap();
        assert!(matches!(g.identify(&req), Err(ApiError::Revoked)));
    }

    #[test]
    fn the_limit_answers_with_a_retry_time() {
        let g = guard(&[], false, 2);
        let req = TestRequest::default()
            .peer_addr("127.0.0.2:5000".parse().unwrap())
            .to_http_request();
        assert!(g.limit(&req).is_ok());
        assert!(g.limit(&req).is_ok());
        match g.limit(&req) {
            Err(ApiError::RateLimited { retry_after_s }) => assert!(retry_after_s >= 1),
            other => panic!("expected a 429, got {other:?}"),
        }
        let other = TestRequest::default()
            .peer_addr("127.0.0.3:5000".parse().unwrap())
            .to_http_request();
        assert!(g.limit(&other).is_ok(), "limits are per client");
    }
}

//! API keys and per-client rate limits, checked at the top of each route
//! that needs them (a route says which kind of access it is).
//!
//! Keys: when none are configured the service is open. With keys, write
//! routes (POST, DELETE) need one; reads and recognition stay open unless
//! `protect_reads` is set. Rate limits are per client IP, a token bucket
//! (governor's GCRA), on recognition, streams and uploads.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::http::header;
use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::service::config::Config;
use crate::service::error::ApiError;

/// What a route does, for the key check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Recognize,
    Write,
}

pub struct Guard {
    keys: Vec<String>,
    protect_reads: bool,
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Guard {
    pub fn new(c: &Config) -> Guard {
        let limiter = NonZeroU32::new(c.rate_limit).map(|per_s| {
            let burst = NonZeroU32::new(c.rate_burst).unwrap_or(per_s);
            RateLimiter::keyed(Quota::per_second(per_s).allow_burst(burst))
        });
        Guard {
            keys: c.api_keys.clone(),
            protect_reads: c.protect_reads,
            limiter,
        }
    }

    /// Refuses the request unless it carries a key where one is needed.
    pub fn authorize(&self, req: &HttpRequest, access: Access) -> Result<(), ApiError> {
        if self.keys.is_empty() || (access != Access::Write && !self.protect_reads) {
            return Ok(());
        }
        match presented_key(req).as_deref() {
            Some(k)
                if self
                    .keys
                    .iter()
                    .any(|good| constant_time_eq(good.as_bytes(), k.as_bytes())) =>
            {
                Ok(())
            }
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
pub const KEY_IN_QUERY: &[&str] = &["/ws/stream", "/tracks/{id}/audio", "/tracks/{id}/pattern.mid"];

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

    fn guard(keys: &[&str], protect_reads: bool, rate: u32) -> Guard {
        Guard::new(&Config {
            api_keys: keys.iter().map(|s| s.to_string()).collect(),
            protect_reads,
            rate_limit: rate,
            rate_burst: rate,
            ..Config::default()
        })
    }

    #[test]
    fn keys_guard_writes_and_optionally_reads() {
        let g = guard(&["sekrit"], false, 0);
        let none = TestRequest::default().to_http_request();
        let bearer = TestRequest::default()
            .insert_header(("Authorization", "Bearer sekrit"))
            .to_http_request();
        let x = TestRequest::default()
            .insert_header(("X-API-Key", "sekrit"))
            .to_http_request();
        let wrong = TestRequest::default()
            .insert_header(("Authorization", "Bearer sekrix"))
            .to_http_request();
        assert!(g.authorize(&none, Access::Read).is_ok());
        assert!(g.authorize(&none, Access::Write).is_err());
        assert!(g.authorize(&wrong, Access::Write).is_err());
        assert!(g.authorize(&bearer, Access::Write).is_ok());
        assert!(g.authorize(&x, Access::Write).is_ok());
        let strict = guard(&["sekrit"], true, 0);
        assert!(strict.authorize(&none, Access::Recognize).is_err());
        assert!(guard(&[], true, 0).authorize(&none, Access::Write).is_ok());
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

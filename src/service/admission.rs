//! The middleware in front of every route: the policy's checks
//! (`policy::admit`), then, for a stored key, its quotas counted (durably,
//! on the blocking pool: a take waits for its flush and for the key's
//! other requests), then the handler; the caller is left in the request's
//! extensions for handlers (`tiers::caller`).
//!
//! Every answer to a stored key's request, a 429 included, carries the
//! key's quotas in the IETF draft's headers
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` lists each
//! finite quota as `"requests";q=100;w=3600` (q the limit, w the window
//! in seconds), `RateLimit` where it stands as `"requests";r=42;t=1800`
//! (r what is left, t seconds until the window resets).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use sonica_index::{Ask, Standing, Take};
use sonica_schema::quota::Quota;

use crate::pipeline::writer::unix_now_s;
use crate::service::error::ApiError;
use crate::service::policy;
use crate::service::state::AppState;
use crate::service::tiers::{Caller, KeyCaller};

/// `RateLimit-Policy`: the quotas.
pub const POLICY_HEADER: &str = "ratelimit-policy";
/// `RateLimit`: where each stands.
pub const STATE_HEADER: &str = "ratelimit";

/// The guard of every route (wrapped with `middleware::from_fn`).
pub async fn guard<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let checked = match policy::admit(&req) {
        Ok(c) => c,
        Err(e) => return Ok(refuse(req, &e, &[])),
    };
    let mut standings = Vec::new();
    if let (Caller::Key(key), Some(p)) = (&checked.caller, checked.policy) {
        let mut asks = asks(key, p.counts);
        if checked.refused.is_some() {
            // Refused anyway: nothing is counted, the quotas only shown.
            asks.iter_mut().for_each(|a| a.counts = false);
        }
        if !asks.is_empty() {
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Ok(refuse(
                    req,
                    &ApiError::Internal("the service state is missing".into()),
                    &[],
                ));
            };
            let id = key.id;
            let took = web::block(move || state.guard.quotas().take(id, &asks, unix_now_s())).await;
            match took {
                Ok(Ok(Take::Admitted(s))) => standings = s,
                Ok(Ok(Take::Refused { quota, standings: s })) => {
                    let at = s.iter().find(|x| x.quota == quota).copied();
                    let e = ApiError::Quota {
                        quota,
                        limit: at.map_or(0, |x| x.limit),
                        retry_after_s: at.map_or(1, |x| x.reset_s),
                    };
                    return Ok(refuse(req, &e, &s));
                }
                Ok(Err(e)) => return Ok(refuse(req, &ApiError::Index(e), &[])),
                Err(_) => {
                    return Ok(refuse(
                        req,
                        &ApiError::Internal("a quota check was cancelled".into()),
                        &[],
                    ))
                }
            }
        }
    }
    if let Some(e) = checked.refused {
        return Ok(refuse(req, &e, &standings));
    }
    req.extensions_mut().insert(checked.caller);
    let mut res = next.call(req).await?.map_into_boxed_body();
    put_headers(res.headers_mut(), &standings);
    Ok(res)
}

/// The quotas a stored key's request is checked against: every finite
/// one (for the headers); it counts against requests, and against
/// `counted` where the route names one.
fn asks(key: &KeyCaller, counted: Option<Quota>) -> Vec<Ask> {
    Quota::ALL
        .into_iter()
        .filter_map(|q| {
            key.limits.of(q).finite().map(|limit| Ask {
                quota: q,
                limit,
                counts: q == Quota::Requests || Some(q) == counted,
            })
        })
        .collect()
}

fn refuse(req: ServiceRequest, e: &ApiError, standings: &[Standing]) -> ServiceResponse<BoxBody> {
    let mut res = req.into_response(e.error_response());
    put_headers(res.headers_mut(), standings);
    res
}

fn put_headers(h: &mut HeaderMap, standings: &[Standing]) {
    if standings.is_empty() {
        return;
    }
    let (policy, state) = header_values(standings);
    for (name, value) in [(POLICY_HEADER, policy), (STATE_HEADER, state)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
}

/// The `RateLimit-Policy` and `RateLimit` values (structured-field lists).
pub fn header_values(standings: &[Standing]) -> (String, String) {
    let policy = standings
        .iter()
        .map(|s| format!("\"{}\";q={};w={}", s.quota.name(), s.limit, s.window_s))
        .collect::<Vec<_>>()
        .join(", ");
    let state = standings
        .iter()
        .map(|s| format!("\"{}\";r={};t={}", s.quota.name(), s.remaining(), s.reset_s))
        .collect::<Vec<_>>()
        .join(", ");
    (policy, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::tiers::{Limit, Tier, TierTable};

    #[test]
    fn a_request_counts_against_its_route_s_quota_and_reads_the_rest() {
        let mut key = KeyCaller {
            id: 1,
            name: "k".into(),
            tier: Tier::Producer,
            limits: TierTable::default().limits(Tier::Producer),
        };
        let a = asks(&key, Some(Quota::Uploads));
        let got: Vec<_> = a.iter().map(|x| (x.quota, x.limit, x.counts)).collect();
        // Producer: analyses are unlimited, so neither counted nor shown.
        assert_eq!(got, [(Quota::Requests, 100, true), (Quota::Uploads, 50, true)]);
        assert!(
            !asks(&key, None)[1].counts,
            "a plain request only reads the upload quota"
        );
        key.limits.requests_per_hour = Limit::Unlimited;
        key.limits.uploads_per_day = Limit::Unlimited;
        assert!(asks(&key, Some(Quota::Uploads)).is_empty(), "nothing to count");
    }

    #[test]
    fn headers_follow_the_draft() {
        let s = [
            Standing {
                quota: Quota::Requests,
                limit: 100,
                used: 58,
                window_s: 3600,
                reset_s: 1800,
            },
            Standing {
                quota: Quota::Analyses,
                limit: 3,
                used: 3,
                window_s: 2_678_400,
                reset_s: 86_400,
            },
        ];
        let (p, r) = header_values(&s);
        assert_eq!(p, "\"requests\";q=100;w=3600, \"analyses\";q=3;w=2678400");
        assert_eq!(r, "\"requests\";r=42;t=1800, \"analyses\";r=0;t=86400");
        let mut h = HeaderMap::new();
        put_headers(&mut h, &s);
        assert_eq!(h.get("RateLimit").unwrap().to_str().unwrap(), r);
        put_headers(&mut h, &[]);
        assert_eq!(h.len(), 2);
    }
}

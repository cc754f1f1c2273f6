//! The one guard in front of every route: what each route needs (a key
//! for which kind of access, a unit of the client's rate limit, a
//! same-origin browser, a tier of key, which quota it counts against) is
//! declared in one table, and one middleware (`admission.rs`) applies it
//! before any handler runs.
//!
//! A route missing from the table is treated as the strictest kind (a
//! write that takes a rate-limit unit), so a new route cannot forget its
//! guard; a test checks that every route in the OpenAPI document has its
//! own line.

use actix_web::dev::ServiceRequest;
use actix_web::http::{header, Method};
use actix_web::web;

use crate::service::auth::Access;
use crate::service::error::ApiError;
use crate::service::state::AppState;
use crate::service::tiers::{Caller, Tier};
use sonica_schema::quota::Quota;

/// What a route needs before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `None`: open to everyone (the API document and its page).
    pub access: Option<Access>,
    /// Takes a unit of the client's rate limit (routes that decode audio
    /// or write the library), for callers without a key.
    pub limited: bool,
    /// The lowest tier of stored key the route is open to (configured
    /// keys and a service without keys pass every gate).
    pub tier: Option<Tier>,
    /// The quota a stored key's request counts against besides its
    /// requests per hour: analyses or uploads.
    pub counts: Option<Quota>,
}

const fn p(access: Access, limited: bool) -> Policy {
    Policy {
        access: Some(access),
        limited,
        tier: None,
        counts: None,
    }
}

impl Policy {
    /// The route is for keys of `tier` and above.
    const fn needs(self, tier: Tier) -> Policy {
        Policy {
            tier: Some(tier),
            ..self
        }
    }

    /// A request counts against `quota` too.
    const fn counts(self, quota: Quota) -> Policy {
        Policy {
            counts: Some(quota),
            ..self
        }
    }
}

const OPEN: Policy = Policy {
    access: None,
    limited: false,
    tier: None,
    counts: None,
};

/// Every route, by method and pattern: one line each.
#[rustfmt::skip]
pub const ROUTES: &[(&str, &str, Policy)] = &[
    ("GET", "/health", p(Access::Read, false)),
    ("GET", "/songs", p(Access::Read, false)),
    ("GET", "/duplicates", p(Access::Read, false)),
    ("POST", "/tracks", p(Access::Write, true).counts(Quota::Uploads)),
    ("POST", "/upload", p(Access::Write, true).counts(Quota::Uploads)),
    ("GET", "/tracks/{id}", p(Access::Read, false)),
    ("DELETE", "/tracks/{id}", p(Access::Write, false)),
    ("GET", "/tracks/{id}/analysis", p(Access::Read, false)),
    ("GET", "/tracks/{id}/pattern.mid", p(Access::Read, false).needs(Tier::Producer)),
    ("GET", "/tracks/{id}/similar", p(Access::Read, false)),
    // Limited: a track stored before waveforms existed is decoded on first ask.
    ("GET", "/tracks/{id}/waveform", p(Access::Read, true)),
    ("GET", "/tracks/{id}/spectrogram", p(Access::Read, true)),
    ("GET", "/tracks/{id}/audio", p(Access::Read, false)),
    ("POST", "/analyze", p(Access::Recognize, true).counts(Quota::Analyses)),
    ("POST", "/search/similar", p(Access::Recognize, true)),
    ("GET", "/search", p(Access::Read, false)),
    ("POST", "/search", p(Access::Recognize, true)),
    ("POST", "/recognize", p(Access::Recognize, true)),
    ("GET", "/ws/stream", p(Access::Recognize, true)),
    ("POST", "/api/analyze", p(Access::Recognize, true).counts(Quota::Analyses)),
    ("GET", "/api/analysis/{id}", p(Access::Read, false)),
    ("GET", "/api/analysis/{id}/preview.wav", p(Access::Read, true)),
    ("GET", "/api/references", p(Access::Read, false)),
    ("POST", "/api/references", p(Access::Write, true)),
    ("DELETE", "/api/references/{track_id}", p(Access::Write, false)),
    ("POST", "/api/similarity/{analysis_id}", p(Access::Read, false)),
    ("GET", "/patterns/{id}", p(Access::Read, false)),
    ("GET", "/patterns/{id}/midi", p(Access::Read, false).needs(Tier::Producer)),
    // Limited: decodes the track's audio up to the section.
    ("GET", "/patterns/{id}/preview", p(Access::Read, true)),
    ("POST", "/search/patterns", p(Access::Recognize, true)),
    ("GET", "/admin/keys", p(Access::Admin, false)),
    ("POST", "/admin/keys", p(Access::Admin, false)),
    ("DELETE", "/admin/keys/{id}", p(Access::Admin, false)),
    ("GET", "/monitors", p(Access::Read, false)),
    ("POST", "/monitors", p(Access::Admin, false)),
    ("GET", "/monitors/events", p(Access::Read, false)),
    ("GET", "/monitors/{id}", p(Access::Read, false)),
    ("DELETE", "/monitors/{id}", p(Access::Admin, false)),
    ("GET", "/monitors/{id}/plays", p(Access::Read, false)),
    ("GET", "/monitors/{id}/events", p(Access::Read, false)),
    ("GET", "/webhooks", p(Access::Admin, false)),
    ("POST", "/webhooks", p(Access::Admin, false)),
    ("GET", "/webhooks/{id}", p(Access::Admin, false)),
    ("DELETE", "/webhooks/{id}", p(Access::Admin, false)),
    ("GET", "/webhooks/{id}/deliveries", p(Access::Admin, false)),
    ("POST", "/webhooks/{id}/ping", p(Access::Admin, false)),
    ("GET", "/metrics", p(Access::Read, false)),
    ("GET", "/openapi.json", OPEN),
    ("GET", "/docs", OPEN),
    // The web app's files: the page must load to ask for a key.
    ("GET", "/", OPEN),
    ("GET", "/app/{name}", OPEN),
];

/// The policy of a matched route; the strictest for one not in the table.
pub fn policy_of(method: &Method, pattern: &str) -> Policy {
    ROUTES
        .iter()
        .find(|(m, path, _)| *path == pattern && *m == method.as_str())
        .map(|(_, _, policy)| *policy)
        .unwrap_or(p(Access::Write, true))
}

/// What the synchronous checks found: who is calling, the route's policy
/// (`None` for a path or method no route answers), and the refusal of a
/// caller already identified (so a stored key's refusal can still show
/// its quotas).
#[derive(Debug)]
pub struct Checked {
    pub caller: Caller,
    pub policy: Option<Policy>,
    pub refused: Option<ApiError>,
}

/// Checks a request against its route's policy: origin, key, access,
/// tier and (without a key) the client's rate limit, in that order; an
/// `Err` is a refusal before the caller is known. The quotas of a stored
/// key are counted after this, off the worker thread (`admission.rs`).
/// Unmatched paths and methods pass through to the 404/405 answers.
pub fn admit(req: &ServiceRequest) -> Result<Checked, ApiError> {
    let pass = Checked {
        caller: Caller::Open,
        policy: None,
        refused: None,
    };
    let Some(pattern) = req.match_pattern() else {
        return Ok(pass);
    };
    if !ROUTES.iter().any(|(_, path, _)| *path == pattern) {
        return Ok(pass);
    }
    if !ROUTES
        .iter()
        .any(|(m, path, _)| *path == pattern && *m == req.method().as_str())
    {
        return Ok(pass); // the resource's 405
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::Internal("the service state is missing".into()));
    };
    let policy = policy_of(req.method(), &pattern);
    let http = req.request();
    if changes_state_or_streams(req.method(), &pattern) {
        same_origin(http)?;
    }
    let Some(access) = policy.access else {
        return Ok(Checked {
            caller: Caller::Open,
            policy: Some(policy),
            refused: None,
        });
    };
    let caller = state.guard.identify(http)?;
    let refused = (|| {
        state.guard.authorize(&caller, access)?;
        if let Some(tier) = policy.tier {
            state.guard.gate(&caller, tier)?;
        }
        if policy.limited && caller.is_unkeyed() {
            state.guard.limit(http)?;
        }
        Ok::<(), ApiError>(())
    })()
    .err();
    Ok(Checked {
        caller,
        policy: Some(policy),
        refused,
    })
}

/// Whether a route is under the same-origin check (the OpenAPI document
/// reads this too, to list the 403).
pub fn changes_state_or_streams(method: &Method, pattern: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || pattern == "/ws/stream"
}

/// A browser names the page that sent a request in `Origin`; a request
/// that changes the library (or opens a stream) from another site's page
/// is refused. Clients that are not browsers send no `Origin`.
pub fn same_origin(req: &actix_web::HttpRequest) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim();
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !authority.is_empty() && authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(ApiError::ForbiddenOrigin {
            origin: origin.chars().take(200).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn an_unlisted_route_gets_the_strictest_policy() {
        assert_eq!(policy_of(&Method::PUT, "/new/route"), p(Access::Write, true));
        assert_eq!(policy_of(&Method::GET, "/health"), p(Access::Read, false));
    }

    #[test]
    fn gates_and_counted_quotas_are_in_the_table() {
        assert_eq!(
            policy_of(&Method::GET, "/tracks/{id}/pattern.mid").tier,
            Some(Tier::Producer)
        );
        for path in ["/tracks", "/upload"] {
            assert_eq!(policy_of(&Method::POST, path).counts, Some(Quota::Uploads), "{path}");
        }
        for path in ["/analyze", "/api/analyze"] {
            assert_eq!(policy_of(&Method::POST, path).counts, Some(Quota::Analyses), "{path}");
        }
        assert_eq!(policy_of(&Method::POST, "/recognize").counts, None);
        assert_eq!(policy_of(&Method::POST, "/admin/keys").access, Some(Access::Admin));
    }

    #[test]
    fn cross_site_browser_writes_are_refused() {
        let same = TestRequest::post()
            .insert_header(("Host", "127.0.0.1:7700"))
            .insert_header(("Origin", "http://127.0.0.1:7700"))
            .to_http_request();
        assert!(same_origin(&same).is_ok());
        let none = TestRequest::post()
            .insert_header(("Host", "127.0.0.1:7700"))
            .to_http_request();
        assert!(same_origin(&none).is_ok(), "curl and scripts send no Origin");
        for evil in ["http://evil.example", "null", "http://127.0.0.1:7700.evil.example"] {
            let r = TestRequest::post()
                .insert_header(("Host", "127.0.0.1:7700"))
                .insert_header(("Origin", evil))
                .to_http_request();
            assert!(
                matches!(same_origin(&r), Err(ApiError::ForbiddenOrigin { .. })),
                "{evil}"
            );
        }
    }
}

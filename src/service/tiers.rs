//! What each tier of API key may do, and who is calling.
//!
//! A tier's limits come from a default table, changed by the service
//! configuration's `[tiers.NAME]` tables (a stored key's own overrides go
//! on top). The guard identifies the caller of every request that needs
//! access and leaves it in the request's extensions as a [`Caller`], so a
//! handler can ask [`caller`], [`caller_tier`] or
//! [`pattern_results_limit`] instead of reading keys itself.

use std::collections::BTreeMap;

use actix_web::{web, HttpMessage, HttpRequest};

pub use sonica_schema::api_key::{Limit, Limits, Overrides, Tier};

use crate::service::state::AppState;

/// Every tier's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierTable {
    limits: [Limits; 4],
}

const fn limits(
    requests_per_hour: u64,
    analyses_per_month: Limit,
    uploads_per_day: u64,
    pattern_results: Limit,
) -> Limits {
    Limits {
        requests_per_hour: Limit::Finite(requests_per_hour),
        analyses_per_month,
        uploads_per_day: Limit::Finite(uploads_per_day),
        pattern_results,
    }
}

/// Results a similar-pattern search gives a free key (and a caller with
/// no key, where the service has keys).
pub const FREE_PATTERN_RESULTS: u64 = 5;

impl Default for TierTable {
    /// free: 10 requests an hour, 3 analyses a month, 3 uploads a day and
    /// the first few pattern matches; starter: 50, 25, 10; producer: 100,
    /// unlimited, 50; studio: 200, unlimited, 100. Every paid tier gets
    /// every pattern match.
    fn default() -> Self {
        use Limit::{Finite, Unlimited};
        TierTable {
            limits: [
                limits(10, Finite(3), 3, Finite(FREE_PATTERN_RESULTS)),
                limits(50, Finite(25), 10, Unlimited),
                limits(100, Unlimited, 50, Unlimited),
                limits(200, Unlimited, 100, Unlimited),
            ],
        }
    }
}

impl TierTable {
    /// The defaults with the configuration's changes.
    pub fn with(changes: &BTreeMap<Tier, Overrides>) -> TierTable {
        let mut t = TierTable::default();
        for (tier, o) in changes {
            t.limits[*tier as usize] = t.limits[*tier as usize].with(o);
        }
        t
    }

    pub fn limits(&self, tier: Tier) -> Limits {
        self.limits[tier as usize]
    }
}

/// Who sent a request, as the guard found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The service has no keys at all: everything is open, nothing gated
    /// or counted (the per-client rate limit still applies).
    Open,
    /// No key, on a service that has keys: open routes only, no gated
    /// feature, a free key's share where results are capped.
    Anonymous,
    /// A key from the configuration (`api_keys`): everything, uncounted.
    Admin,
    /// A stored key.
    Key(KeyCaller),
}

/// A stored key that passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    pub id: u64,
    pub name: String,
    pub tier: Tier,
    /// The tier's limits with the key's overrides.
    pub limits: Limits,
}

impl Caller {
    /// The tier of a stored key; `None` for everyone else.
    pub fn tier(&self) -> Option<Tier> {
        match self {
            Caller::Key(k) => Some(k.tier),
            _ => None,
        }
    }

    /// Whether a feature gated at `tier` is open to this caller.
    pub fn reaches(&self, tier: Tier) -> bool {
        match self {
            Caller::Open | Caller::Admin => true,
            Caller::Key(k) => k.tier >= tier,
            Caller::Anonymous => false,
        }
    }

    /// Whether the request came without a (valid) key: the per-client
    /// rate limit applies to these.
    pub fn is_unkeyed(&self) -> bool {
        matches!(self, Caller::Open | Caller::Anonymous)
    }
}

/// The caller of a request that passed the guard ([`Caller::Open`] where
/// the guard did not run: an open route, or a test without the service).
pub fn caller(req: &HttpRequest) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller::Open)
}

/// The tier of the request's key: `Some` for a stored key, `None` for a
/// configured (admin) key, no key, or a service without keys.
pub fn caller_tier(req: &HttpRequest) -> Option<Tier> {
    caller(req).tier()
}

/// How many results a similar-pattern search may return to this caller:
/// `None` for all of them (paid tiers, admin keys, a service without
/// keys), `Some(n)` for a free key, or no key where the service has keys.
pub fn pattern_results_limit(req: &HttpRequest) -> Option<usize> {
    let capped = |l: Limit| l.finite().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    match caller(req) {
        Caller::Open | Caller::Admin => None,
        Caller::Key(k) => capped(k.limits.pattern_results),
        Caller::Anonymous => match req.app_data::<web::Data<AppState>>() {
            Some(s) => capped(s.config.tiers.limits(Tier::Free).pattern_results),
            None => Some(FREE_PATTERN_RESULTS as usize),
        },
    }
}

/// Whether the caller may download pattern MIDI (the tier the policy
/// table gates `GET /patterns/{id}/midi` at), for answers that offer it.
pub fn midi_allowed(req: &HttpRequest) -> bool {
    caller(req).reaches(Tier::Producer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_default_table_is_the_issue_s() {
        let t = TierTable::default();
        let row = |tier| {
            let l = t.limits(tier);
            (l.requests_per_hour, l.analyses_per_month, l.uploads_per_day)
        };
        use Limit::{Finite as F, Unlimited as U};
        assert_eq!(row(Tier::Free), (F(10), F(3), F(3)));
        assert_eq!(row(Tier::Starter), (F(50), F(25), F(10)));
        assert_eq!(row(Tier::Producer), (F(100), U, F(50)));
        assert_eq!(row(Tier::Studio), (F(200), U, F(100)));
        assert_eq!(t.limits(Tier::Free).pattern_results, F(FREE_PATTERN_RESULTS));
        assert_eq!(t.limits(Tier::Starter).pattern_results, U);
    }

    #[test]
    fn configuration_changes_single_limits() {
        let mut changes = BTreeMap::new();
        changes.insert(
            Tier::Starter,
            Overrides {
                uploads_per_day: Some(Limit::Unlimited),
                ..Overrides::default()
            },
        );
        let t = TierTable::with(&changes);
        assert_eq!(t.limits(Tier::Starter).uploads_per_day, Limit::Unlimited);
        assert_eq!(t.limits(Tier::Starter).requests_per_hour, Limit::Finite(50));
        assert_eq!(t.limits(Tier::Free), TierTable::default().limits(Tier::Free));
    }

    #[test]
    fn gates_compare_tiers_and_handlers_read_the_caller() {
        let key = |tier| {
            Caller::Key(KeyCaller {
                id: 1,
                name: "k".into(),
                tier,
                limits: TierTable::default().limits(tier),
            })
        };
        assert!(!key(Tier::Starter).reaches(Tier::Producer));
        assert!(key(Tier::Producer).reaches(Tier::Producer));
        assert!(key(Tier::Studio).reaches(Tier::Producer));
        assert!(Caller::Admin.reaches(Tier::Studio) && Caller::Open.reaches(Tier::Studio));
        assert!(!Caller::Anonymous.reaches(Tier::Free));

        let req = TestRequest::default().to_http_request();
        assert_eq!(caller(&req), Caller::Open);
        assert_eq!(pattern_results_limit(&req), None);
        req.extensions_mut().insert(key(Tier::Free));
        assert_eq!(caller_tier(&req), Some(Tier::Free));
        assert_eq!(pattern_results_limit(&req), Some(FREE_PATTERN_RESULTS as usize));
        let anon = TestRequest::default().to_http_request();
        anon.extensions_mut().insert(Caller::Anonymous);
        assert_eq!(caller_tier(&anon), None);
        assert_eq!(pattern_results_limit(&anon), Some(FREE_PATTERN_RESULTS as usize));
    }
}

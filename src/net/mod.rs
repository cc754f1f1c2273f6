//! Outbound HTTP, held to what a user-given URL may reach.
//!
//! Monitors pull streams and webhooks post events to URLs that API clients
//! give the server. Unchecked, such a URL is a way into the server's own
//! network (`http://127.0.0.1:6379`, a cloud metadata address, `file:`).
//! So every outbound request goes through here:
//! - [`check_url`]: http or https only, no user name or password, a length
//!   cap, and the host on the allow-list when one is configured;
//! - [`agent`]: an HTTP client whose name resolution drops private,
//!   loopback, link-local and other non-public addresses unless the policy
//!   allows them, so the address checked is the address connected to (a
//!   DNS answer that changes between check and connect gains nothing);
//! - [`get`]: redirects are followed by hand, each hop checked again.

mod address;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

pub use address::is_public;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// What outbound requests may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    /// When not empty, the only hosts (exact, case-insensitive) URLs may
    /// name.
    pub allow_hosts: Vec<String>,
    /// Allow private, loopback and link-local addresses (a monitor of a
    /// stream on the local network; the tests' loopback servers).
    pub allow_private: bool,
}

/// Why a URL is refused. Each message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a valid URL: {0}")]
    Malformed(String),
    #[error("only http and https URLs are allowed, not `{0}:`")]
    Scheme(String),
    #[error("URLs with a user name or password are not allowed")]
    Userinfo,
    #[error("URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("URL has no host")]
    NoHost,
    #[error("host {0} is not on the allow-list")]
    HostNotAllowed(String),
    #[error("{host} is a private, loopback or link-local address; such addresses are not allowed")]
    PrivateAddress { host: String },
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(String),
}

/// Checks a URL against the policy, before any connection.
pub fn check_url(raw: &str, policy: &NetPolicy) -> Result<url::Url, UrlError> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| UrlError::Malformed(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme(url.scheme().chars().take(32).collect()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Userinfo);
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or(UrlError::NoHost)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if !policy.allow_hosts.is_empty() && !policy.allow_hosts.iter().any(|h| h.eq_ignore_ascii_case(bare)) {
        return Err(UrlError::HostNotAllowed(bare.to_string()));
    }
    // A literal address is judged now; names are judged as they resolve.
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        if !policy.allow_private && !is_public(ip) {
            return Err(UrlError::PrivateAddress { host: bare.to_string() });
        }
    }
    Ok(url)
}

/// Resolves names, keeping only the addresses the policy allows.
struct GuardedResolver {
    allow_private: bool,
}

impl ureq::Resolver for GuardedResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        let all: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        let kept: Vec<SocketAddr> = all
            .iter()
            .copied()
            .filter(|a| self.allow_private || is_public(a.ip()))
            .collect();
        if kept.is_empty() && !all.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{netloc} resolves only to private, loopback or link-local addresses, which are not allowed"),
            ));
        }
        Ok(kept)
    }
}

/// An HTTP client held to `policy`: guarded name resolution, no automatic
/// redirects, a 5 s connect timeout and `read_timeout` between reads.
pub fn agent(policy: &NetPolicy, read_timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .resolver(GuardedResolver {
            allow_private: policy.allow_private,
        })
        .redirects(0)
        .timeout_connect(Duration::from_secs(5))
        .timeout_read(read_timeout)
        .timeout_write(Duration::from_secs(10))
        .user_agent(concat!("sonica/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// GETs `url`, following up to [`MAX_REDIRECTS`] redirects, each checked
/// against `policy`. Any status but 2xx is an error.
pub fn get(
    agent: &ureq::Agent,
    url: &url::Url,
    policy: &NetPolicy,
    headers: &[(&str, &str)],
) -> Result<ureq::Response, FetchError> {
    let mut current = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let mut req = agent.request_url("GET", &current);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) => return Err(FetchError::Status(code)),
            Err(ureq::Error::Transport(t)) => return Err(FetchError::Transport(transport_message(&t))),
        };
        match resp.status() {
            200..=299 => return Ok(resp),
            300..=399 => {
                let location = resp.header("location").ok_or(FetchError::Status(resp.status()))?;
                let next = current
                    .join(location)
                    .map_err(|e| FetchError::Url(UrlError::Malformed(e.to_string())))?;
                current = check_url(next.as_str(), policy)?;
            }
            code => return Err(FetchError::Status(code)),
        }
    }
    Err(FetchError::TooManyRedirects)
}

/// A transport failure in one line, without ureq's internal detail.
pub fn transport_message(t: &ureq::Transport) -> String {
    let mut msg = t.to_string();
    if let Some(src) = std::error::Error::source(t) {
        let s = src.to_string();
        if !msg.contains(&s) {
            msg = format!("{msg}: {s}");
        }
    }
    msg.lines().next().unwrap_or_default().chars().take(300).collect()
}

/// A shared handle to a policy (monitors and webhooks hold one each).
pub type SharedPolicy = Arc<NetPolicy>;

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> NetPolicy {
        NetPolicy::default()
    }

    #[test]
    fn only_http_and_https_pass() {
        assert!(check_url("http://example.com/stream", &open()).is_ok());
        assert!(check_url("https://example.com:8443/a.mp3", &open()).is_ok());
        for bad in [
            "file:///etc/passwd",
            "gopher://example.com/",
            "ftp://example.com/x",
            "javascript:alert(1)",
        ] {
            assert!(matches!(check_url(bad, &open()), Err(UrlError::Scheme(_))), "{bad}");
        }
        assert!(matches!(check_url("not a url", &open()), Err(UrlError::Malformed(_))));
        assert!(matches!(check_url("", &open()), Err(UrlError::Malformed(_))));
    }

    #[test]
    fn userinfo_length_and_private_literals_are_refused() {
        assert_eq!(check_url("http://u:p@example.com/", &open()), Err(UrlError::Userinfo));
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, &open()), Err(UrlError::TooLong));
        for bad in [
            "http://127.0.0.1:6379/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(
                matches!(check_url(bad, &open()), Err(UrlError::PrivateAddress { .. })),
                "{bad}"
            );
        }
        let allow = NetPolicy {
            allow_private: true,
            ..open()
        };
        assert!(check_url("http://127.0.0.1:6379/", &allow).is_ok());
    }

    #[test]
    fn the_allow_list_is_exact() {
        let p = NetPolicy {
            allow_hosts: vec!["radio.example.com".into()],
            allow_private: false,
        };
        assert!(check_url("http://RADIO.example.com/live", &p).is_ok());
        assert!(matches!(
            check_url("http://radio.example.com.evil.net/", &p),
            Err(UrlError::HostNotAllowed(_))
        ));
    }

    #[test]
    fn names_resolving_to_private_addresses_are_refused_at_connection() {
        let agent = agent(&open(), Duration::from_secs(2));
        let url = check_url("http://localhost:9/", &open()).expect("a name passes the static check");
        match get(&agent, &url, &open(), &[]) {
            Err(FetchError::Transport(m)) => assert!(m.contains("private"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

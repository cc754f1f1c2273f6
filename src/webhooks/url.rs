//! Which URLs a webhook may be sent to, checked twice: the text when a
//! subscription is made ([`check_url`], [`check_host`]), and every address
//! the host name resolves to when a delivery connects ([`Guarded`], the
//! resolver the delivery agent uses), so a name that later points at a
//! private address (DNS rebinding) is refused at the moment it would be
//! reached. Redirects are never followed (the agent has `redirects(0)`),
//! so a receiver cannot bounce a delivery onto an internal address either.
//!
//! A stop-gap until the shared guard of `src/net` (monitors and webhooks
//! alike, with an allow-list of hosts) lands: it should replace this file,
//! keeping these tests.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Longest webhook URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// The URL as it will be used (normalised), or why it cannot be: http or
/// https only, absolute with a host, no user name or password, at most
/// [`MAX_URL_BYTES`].
pub fn check_url(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_URL_BYTES {
        return Err(format!("url is {} bytes long; at most {MAX_URL_BYTES}", raw.len()));
    }
    if raw.trim().is_empty() {
        return Err("url must not be blank".into());
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return Err("url must not contain spaces, control characters or backslashes".into());
    }
    let u = url::Url::parse(raw).map_err(|e| format!("url is not an absolute http(s) URL: {e}"))?;
    match u.scheme() {
        "http" | "https" => {}
        other => {
            let shown: String = other.chars().take(20).collect();
            return Err(format!("url must be http or https, not {shown:?}"));
        }
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("url must not contain a user name or password; the receiver checks the signature instead".into());
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("url has no host".into());
    }
    let out = u.to_string();
    if out.len() > MAX_URL_BYTES {
        return Err(format!(
            "url is {} bytes long once normalised; at most {MAX_URL_BYTES}",
            out.len()
        ));
    }
    Ok(out)
}

/// Refuses a URL (already through [`check_url`]) whose host is a private,
/// loopback or link-local address, or `localhost`, unless private targets
/// are allowed. Names are checked again at every connection.
pub fn check_host(checked: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let u = url::Url::parse(checked).map_err(|e| format!("url: {e}"))?;
    let private = match u.host() {
        Some(url::Host::Ipv4(a)) => is_private(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => is_private(IpAddr::V6(a)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => true,
    };
    if private {
        return Err(
            "url points at a private, loopback or link-local address; the server refuses those \
                    unless started with --allow-private-urls true"
                .into(),
        );
    }
    Ok(())
}

/// Whether an address is one a webhook must not reach without leave:
/// loopback, private, link-local, shared (CGNAT), unspecified,
/// multicast, broadcast or reserved, and IPv6's equivalents (an
/// IPv4-mapped address by its IPv4 half).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => private_v4(a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return private_v4(v4);
            }
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 reaches IPv4 inside
                || s[0] == 0x2002 // 6to4 embeds an IPv4 address
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || a == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
        }
    }
}

fn private_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || o[0] == 0 // "this network" 0/8
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF 192.0.0/24
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240 // reserved 240/4
}

/// The delivery agent's resolver: the system's answer with every address
/// a webhook may not reach removed; an error when none is left.
#[derive(Debug, Clone, Copy)]
pub struct Guarded {
    pub allow_private: bool,
}

impl Guarded {
    /// The usable addresses of `netloc` (`host:port`).
    pub fn filter(&self, all: Vec<SocketAddr>) -> io::Result<Vec<SocketAddr>> {
        if self.allow_private {
            return Ok(all);
        }
        let n = all.len();
        let ok: Vec<SocketAddr> = all.into_iter().filter(|a| !is_private(a.ip())).collect();
        if ok.is_empty() && n > 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the host resolves only to private, loopback or link-local addresses (refused)",
            ));
        }
        Ok(ok)
    }
}

impl ureq::Resolver for Guarded {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        self.filter(netloc.to_socket_addrs()?.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_and_https_urls_pass() {
        assert_eq!(
            check_url("https://example.com/hook").unwrap(),
            "https://example.com/hook"
        );
        assert_eq!(check_url("HTTP://Example.COM").unwrap(), "http://example.com/");
        assert!(check_url("http://127.0.0.1:9000/x?y=1").is_ok());
        assert!(check_url("http://[::1]:9000/").is_ok());
        for (bad, says) in [
            ("file:///etc/passwd", "http or https"),
            ("gopher://example.com/", "http or https"),
            ("ftp://example.com/", "http or https"),
            ("javascript:alert(1)", "http or https"),
            ("data:text/plain,hi", "http or https"),
            ("https://user:pass@example.com/", "user name or password"),
            ("https://user@example.com/", "user name or password"),
            ("https://:pass@example.com/", "user name or password"),
            ("example.com/hook", "absolute"),
            ("/hook", "absolute"),
            ("http://", "absolute"),
            ("http://exa mple.com/", "spaces"),
            ("http://example.com/\n", "control"),
            ("http://example.com\\@evil/", "backslashes"),
            ("http://[::1/", "absolute"),
            ("http://example.com:99999/", "absolute"),
            ("", "blank"),
            ("   ", "blank"),
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let long = format!("https://example.com/{}", "a".repeat(3000));
        assert!(check_url(&long).unwrap_err().contains("at most 2048"));
        let e = check_url(&format!("{}://x", "z".repeat(500))).unwrap_err();
        assert!(e.len() < 200, "the message stays short: {e}");
    }

    #[test]
    fn private_targets_need_leave() {
        for url in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.5.5/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://a.localhost/",
            "http://2130706433/", // 127.0.0.1 as one number
            "http://0x7f.1/",
        ] {
            let u = check_url(url).unwrap();
            assert!(check_host(&u, false).is_err(), "{url} ({u})");
            assert!(check_host(&u, true).is_ok(), "{url}");
        }
        for url in [
            "https://example.com/",
            "http://93.184.216.34/",
            "http://[2606:4700::1]/",
        ] {
            assert!(check_host(&check_url(url).unwrap(), false).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_resolver_drops_private_addresses() {
        let g = Guarded { allow_private: false };
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let meta: SocketAddr = "169.254.169.254:80".parse().unwrap();
        assert_eq!(g.filter(vec![local, public]).unwrap(), vec![public]);
        assert_eq!(
            g.filter(vec![local, meta]).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        let open = Guarded { allow_private: true };
        assert_eq!(open.filter(vec![local]).unwrap(), vec![local]);
        assert!(ureq::Resolver::resolve(&g, "127.0.0.1:80").is_err());
        assert!(ureq::Resolver::resolve(&open, "127.0.0.1:80").is_ok());
    }
}

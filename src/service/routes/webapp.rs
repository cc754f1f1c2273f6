//! The web app: `GET /` is its page and `GET /app/{name}` its scripts and
//! styles, all embedded in the binary at build time (see `build.rs`), so
//! the service needs no files beside it and no network.
//!
//! Each answer carries an ETag (a repeat visit costs a 304), `no-cache` so
//! a new binary's files are picked up at once, the gzipped copy when the
//! browser accepts it, and `nosniff`. The page itself gets a Content
//! Security Policy that allows only this server: no inline script, no
//! other origin, no framing. Like `/docs`, these are open to everyone (the
//! page must load to ask for a key) and are not API routes, so they are
//! not in the OpenAPI document.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::error::ApiError;

/// One embedded file.
pub struct WebFile {
    pub name: &'static str,
    pub body: &'static [u8],
    pub gzip: &'static [u8],
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// The embedded file called `name`.
pub fn file(name: &str) -> Option<&'static WebFile> {
    WEB_FILES.iter().find(|f| f.name == name)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether the request's `Accept-Encoding` takes gzip (a `q=0` refuses it).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(v) = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    v.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let refused = it.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn serve(req: &HttpRequest, f: &'static WebFile, csp: Option<String>) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == f.etag || t.trim() == "*"));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, f.etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    if let Some(csp) = csp {
        res.insert_header((header::CONTENT_SECURITY_POLICY, csp))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
    if fresh {
        return res.finish();
    }
    res.insert_header((header::CONTENT_TYPE, content_type(f.name)));
    if accepts_gzip(req) {
        res.insert_header((header::CONTENT_ENCODING, "gzip")).body(f.gzip)
    } else {
        res.body(f.body)
    }
}

/// The page's Content Security Policy: this server only. The WebSocket is
/// named with the host the page was loaded from.
fn page_policy(req: &HttpRequest) -> String {
    let host = req.connection_info().host().to_string();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(*c))
        .take(300)
        .collect();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self' ws://{host} wss://{host}; worker-src 'self'; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let f = file("index.html").ok_or_else(|| ApiError::Internal("the web app was not built in".into()))?;
    Ok(serve(&req, f, Some(page_policy(&req))))
}

pub async fn asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match file(&name) {
        Some(f) => Ok(serve(&req, f, None)),
        None => Err(ApiError::RouteNotFound {
            method: "GET".into(),
            path: req.path().chars().take(200).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_page_and_its_scripts_are_built_in() {
        let page = file("index.html").expect("web/index.html is embedded");
        assert!(std::str::from_utf8(page.body).unwrap().contains("<html"));
        assert!(!page.gzip.is_empty() && page.gzip.len() < page.body.len());
        assert!(WEB_FILES.iter().all(|f| f.etag.starts_with('"') && f.etag.len() == 18));
        assert!(file("../Cargo.toml").is_none() && file("").is_none());
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        let r = |v: &str| {
            TestRequest::default()
                .insert_header(("Accept-Encoding", v))
                .to_http_request()
        };
        assert!(accepts_gzip(&r("gzip, deflate, br")));
        assert!(accepts_gzip(&r("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&r("gzip;q=0")));
        assert!(!accepts_gzip(&r("br")));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }
}

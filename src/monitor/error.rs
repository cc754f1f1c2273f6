//! Why a monitor cannot run: bad parameters, a URL the policy refuses, or
//! a source that cannot be read.

/// A monitor's own errors (decoding and the index have theirs).
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("bad monitor parameters: {0}")]
    Params(String),
    #[error(transparent)]
    Url(#[from] crate::net::UrlError),
    #[error("cannot read the stream: {0}")]
    Source(String),
}

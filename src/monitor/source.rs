//! Where a monitor's audio comes from: a recording on disk, or a live
//! HTTP/Icecast stream pulled through the guarded client of [`crate::net`].
//! Both end as mono samples at the fingerprint rate pushed into a scan.

use std::path::PathBuf;
use std::time::Duration;

use super::{MonitorError, MAX_RECORDING_S};
use crate::decode::{AudioInfo, DecodeError};
use crate::net::{self, NetPolicy};
use crate::SonicaError;

/// Longest silence from a live stream before it counts as dropped.
pub const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// A monitor's input.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    Url(url::Url),
}

impl Source {
    /// An http(s) URL (checked against `policy`) or a file path.
    pub fn parse(input: &str, policy: &NetPolicy) -> Result<Source, SonicaError> {
        let lower = input.trim_start().to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") || lower.contains("://") {
            return Ok(Source::Url(net::check_url(input, policy).map_err(MonitorError::Url)?));
        }
        let path = PathBuf::from(input);
        if !path.exists() {
            return Err(SonicaError::Missing);
        }
        Ok(Source::File(path))
    }

    /// Reads the source to its end (a live stream: until it drops or
    /// `sink` stops it), pushing samples at the fingerprint rate.
    pub fn pull(
        &self,
        policy: &NetPolicy,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
    ) -> Result<AudioInfo, SonicaError> {
        match self {
            Source::File(path) => Ok(crate::decode::decode_recording(path, MAX_RECORDING_S, sink)?),
            Source::Url(url) => {
                let reader = open_stream(url, policy)?;
                Ok(crate::decode::decode_stream(reader.0, reader.1.as_deref(), sink)?)
            }
        }
    }
}

/// Connects to a stream: its body and a format hint from its content type.
pub fn open_stream(
    url: &url::Url,
    policy: &NetPolicy,
) -> Result<(Box<dyn std::io::Read + Send + Sync>, Option<String>), SonicaError> {
    let agent = net::agent(policy, STREAM_READ_TIMEOUT);
    let resp = net::get(&agent, url, policy, &[]).map_err(|e| match e {
        net::FetchError::Url(u) => MonitorError::Url(u),
        other => MonitorError::Source(other.to_string()),
    })?;
    let ext = format_hint(resp.content_type(), url.path());
    Ok((resp.into_reader(), ext))
}

/// A file extension for the decoder's probe, from a content type (Icecast
/// sends `audio/mpeg`, `audio/aac`, `application/ogg`…) or the URL's path.
pub fn format_hint(content_type: &str, path: &str) -> Option<String> {
    let ct = content_type.to_ascii_lowercase();
    let by_type = match ct.split(';').next().unwrap_or("").trim() {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => Some("mp3"),
        "audio/aac" | "audio/aacp" | "audio/x-aac" => Some("aac"),
        "application/ogg" | "audio/ogg" | "audio/vorbis" | "audio/x-ogg" => Some("ogg"),
        "audio/flac" | "audio/x-flac" => Some("flac"),
        "audio/wav" | "audio/x-wav" | "audio/wave" => Some("wav"),
        _ => None,
    };
    by_type.map(str::to_string).or_else(|| {
        path.rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .filter(|e| e.len() <= 5)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_paths_must_exist() {
        let p = NetPolicy::default();
        assert!(matches!(
            Source::parse("file:///etc/passwd", &p),
            Err(SonicaError::Monitor(MonitorError::Url(_)))
        ));
        assert!(matches!(
            Source::parse("gopher://example.com/", &p),
            Err(SonicaError::Monitor(MonitorError::Url(_)))
        ));
        assert!(matches!(
            Source::parse("/no/such/recording.mp3", &p),
            Err(SonicaError::Missing)
        ));
        assert!(matches!(
            Source::parse("http://radio.example.com/live", &p),
            Ok(Source::Url(_))
        ));
    }

    #[test]
    fn the_format_hint_comes_from_the_type_then_the_path() {
        assert_eq!(format_hint("audio/mpeg", "/live").as_deref(), Some("mp3"));
        assert_eq!(format_hint("application/ogg; charset=x", "/x").as_deref(), Some("ogg"));
        assert_eq!(
            format_hint("application/octet-stream", "/live.aac").as_deref(),
            Some("aac")
        );
        assert_eq!(format_hint("text/html", "/live").as_deref(), None);
    }
}

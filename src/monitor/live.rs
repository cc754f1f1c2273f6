//! A live source, monitored for as long as it is registered: connect, scan
//! what arrives, and when the stream drops (or never answers), wait with
//! backoff and connect again, recording the time not heard as a gap. Times
//! are Unix seconds, from the moment each connection opened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::source::open_stream;
use super::{scan, MonitorParams, Play, Report};
use crate::decode::DecodeError;
use crate::net::NetPolicy;
use crate::{Identifier, SonicaError};

/// First wait after a drop; it doubles on each failed attempt…
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// …up to this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that lasted this long resets the backoff.
const STABLE: Duration = Duration::from_secs(30);
/// Silence shorter than this between two connections is not a gap.
const MIN_GAP_MS: u64 = 2_000;

/// Where a live monitor's findings go (the service stores them, tells the
/// web app and fires webhooks).
pub trait LiveSink: Send + Sync {
    /// Connected and hearing audio.
    fn up(&self);
    /// Dropped, or could not connect: why.
    fn down(&self, reason: &str);
    /// A play was confirmed (its end is provisional).
    fn started(&self, play: &Play);
    /// A play ended.
    fn ended(&self, play: &Play);
    /// Not heard from `from_ms` to `to_ms` (Unix ms).
    fn gap(&self, from_ms: u64, to_ms: u64, reason: &str);
    /// Audio received up to `until_ms`, and how far identification trails
    /// it, in seconds.
    fn heard(&self, until_ms: u64, lag_s: f64);
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Monitors `url` until `stop` is set. `heard_until_ms` is when the source
/// was last heard (after a restart: the gap starts there).
pub fn run_live(
    ident: &Identifier<'_>,
    params: &MonitorParams,
    url: &url::Url,
    policy: &NetPolicy,
    stop: &AtomicBool,
    heard_until_ms: Option<u64>,
    sink: &dyn LiveSink,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut last_heard = heard_until_ms;
    let mut reason = String::from("the monitor was not running");
    while !stop.load(Ordering::SeqCst) {
        let opened = Instant::now();
        let origin_ms = now_ms();
        let mut received_s = 0.0f64;
        let result = open_stream(url, policy).and_then(|(reader, ext)| {
            sink.up();
            if let Some(from) = last_heard.filter(|&h| origin_ms > h + MIN_GAP_MS) {
                sink.gap(from, origin_ms, &reason);
            }
            let origin_s = origin_ms as f64 / 1000.0;
            let produce = |push: &mut super::scan::Push<'_>| -> Result<(), SonicaError> {
                let rate = f64::from(crate::fingerprint::FINGERPRINT_RATE);
                let mut last_note = Instant::now();
                crate::decode::decode_stream(reader, ext.as_deref(), &mut |s| {
                    if stop.load(Ordering::SeqCst) {
                        return Err(DecodeError::Io(std::io::Error::other("the monitor was removed")));
                    }
                    received_s += s.len() as f64 / rate;
                    if last_note.elapsed() >= Duration::from_secs(1) {
                        last_note = Instant::now();
                        let heard_ms = origin_ms + (received_s * 1000.0) as u64;
                        let lag_s = (now_ms() as f64 - heard_ms as f64).max(0.0) / 1000.0;
                        sink.heard(heard_ms, lag_s);
                    }
                    push(s)
                })?;
                Ok(())
            };
            let mut report = |r: Report| match r {
                Report::Started(p) => sink.started(&p),
                Report::Ended(p) => sink.ended(&p),
            };
            scan(ident, params, origin_s, produce, &mut report)
        });
        if stop.load(Ordering::SeqCst) {
            return;
        }
        reason = match result {
            Ok(_) => "the stream ended".to_string(),
            Err(e) => e.to_string(),
        };
        if received_s > 0.0 {
            last_heard = Some(origin_ms + (received_s * 1000.0) as u64);
        } else if last_heard.is_none() {
            last_heard = Some(origin_ms);
        }
        sink.down(&reason);
        if opened.elapsed() >= STABLE {
            backoff = FIRST_BACKOFF;
        }
        sleep_unless_stopped(backoff, stop);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100).min(until.saturating_duration_since(Instant::now())));
    }
}

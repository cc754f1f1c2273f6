//! Webhooks as the store keeps them: subscriptions (`webhooks` tree), the
//! events waiting to be delivered (`outbox`) and one delivery row per
//! event and subscription (`deliveries`), which is also the delivery log.
//!
//! An event is written with its delivery rows in one batch, so a kill
//! leaves either the event with every row or nothing. A row is pending
//! until it is delivered or given up; what a row says about its attempts
//! is the whole delivery log (the bodies sent are the event itself).
//! Every value is JSON; ids are u64 big-endian so scans come back in id
//! order, and a delivery key starts with its event id, so the log reads
//! oldest event first.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SchemaError;

/// What happened: the `kind` of an event and what a subscription listens
/// to. `ping` is never subscribed to: `POST /webhooks/{id}/ping` sends one
/// to a single subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "play.detected")]
    PlayDetected,
    #[serde(rename = "track.ready")]
    TrackReady,
    #[serde(rename = "track.failed")]
    TrackFailed,
    #[serde(rename = "duplicate.found")]
    DuplicateFound,
    #[serde(rename = "monitor.down")]
    MonitorDown,
    #[serde(rename = "monitor.up")]
    MonitorUp,
    #[serde(rename = "ping")]
    Ping,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::PlayDetected,
        EventKind::TrackReady,
        EventKind::TrackFailed,
        EventKind::DuplicateFound,
        EventKind::MonitorDown,
        EventKind::MonitorUp,
        EventKind::Ping,
    ];

    /// The kinds a subscription may list (all but `ping`).
    pub const SUBSCRIBABLE: [EventKind; 6] = [
        EventKind::PlayDetected,
        EventKind::TrackReady,
        EventKind::TrackFailed,
        EventKind::DuplicateFound,
        EventKind::MonitorDown,
        EventKind::MonitorUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PlayDetected => "play.detected",
            EventKind::TrackReady => "track.ready",
            EventKind::TrackFailed => "track.failed",
            EventKind::DuplicateFound => "duplicate.found",
            EventKind::MonitorDown => "monitor.down",
            EventKind::MonitorUp => "monitor.up",
            EventKind::Ping => "ping",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<EventKind, String> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let shown: String = s.chars().take(40).collect();
            let names: Vec<&str> = EventKind::SUBSCRIBABLE.iter().map(|k| k.as_str()).collect();
            format!("unknown event kind {shown:?}; one of {}", names.join(", "))
        })
    }
}

/// One subscription: where events of the listed kinds are POSTed, and the
/// secret their signature is made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: u64,
    pub url: String,
    /// Sorted, without repeats.
    pub events: Vec<EventKind>,
    /// The HMAC-SHA256 key of the `Sonica-Signature` header (its bytes).
    pub secret: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Subscription {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a subscription always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("webhook subscription", e.to_string()))
    }

    /// Whether events of `kind` go to this subscription (`ping` goes only
    /// where it is sent).
    pub fn listens(&self, kind: EventKind) -> bool {
        kind != EventKind::Ping && self.events.contains(&kind)
    }
}

/// One event, as stored in the outbox and as sent: the body of every
/// delivery is this object's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique in the store, never reused (`Sonica-Event-Id`).
    pub id: u64,
    pub kind: EventKind,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// What happened, small: ids, names, reasons.
    pub data: serde_json::Value,
}

impl Event {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("webhook event", e.to_string()))
    }
}

/// One event's delivery to one subscription: pending until delivered or
/// given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub event_id: u64,
    pub subscription_id: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, Unix milliseconds (meaningless once
    /// delivered or given up).
    pub next_attempt_unix_ms: u64,
    /// The HTTP status of the last attempt, when one came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Why the last attempt failed (a status, a timeout, a refused
    /// connection), cut to 300 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last attempt was made, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_unix_ms: Option<u64>,
    /// Unix seconds of the attempt that got a 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_unix: Option<u64>,
    /// No more attempts will be made.
    #[serde(default)]
    pub gave_up: bool,
}

/// Longest `last_error` kept, in characters.
pub const MAX_ERROR_CHARS: usize = 300;

impl Delivery {
    /// A new row, due at `now_ms`.
    pub fn new(event_id: u64, subscription_id: u64, now_ms: u64) -> Delivery {
        Delivery {
            event_id,
            subscription_id,
            attempts: 0,
            next_attempt_unix_ms: now_ms,
            last_status: None,
            last_error: None,
            last_attempt_unix_ms: None,
            delivered_unix: None,
            gave_up: false,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a delivery always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("webhook delivery", e.to_string()))
    }

    /// Still to be attempted.
    pub fn is_pending(&self) -> bool {
        self.delivered_unix.is_none() && !self.gave_up
    }

    /// `pending`, `delivered` or `gave_up`.
    pub fn state(&self) -> &'static str {
        if self.delivered_unix.is_some() {
            "delivered"
        } else if self.gave_up {
            "gave_up"
        } else {
            "pending"
        }
    }

    pub fn key(&self) -> [u8; 16] {
        delivery_key(self.event_id, self.subscription_id)
    }
}

/// Key in `webhooks`: the subscription id, u64 BE.
pub fn subscription_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Key in `outbox`: the event id, u64 BE.
pub fn event_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes a `webhooks` or `outbox` key.
pub fn parse_id_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// Key in `deliveries`: event id ++ subscription id, u64 BE each.
pub fn delivery_key(event_id: u64, subscription_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&event_id.to_be_bytes());
    k[8..].copy_from_slice(&subscription_id.to_be_bytes());
    k
}

/// Decodes a `deliveries` key into (event id, subscription id).
pub fn parse_delivery_key(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != 16 {
        return None;
    }
    let e = u64::from_be_bytes(key[..8].try_into().ok()?);
    let s = u64::from_be_bytes(key[8..].try_into().ok()?);
    Some((e, s))
}

/// Key in `meta` of the next subscription id (u64 BE).
pub const META_NEXT_SUBSCRIPTION_ID: &[u8] = b"next_webhook_id";

/// Key in `meta` of the next event id (u64 BE): event ids are never
/// reused, even after their events are pruned, so a receiver can drop
/// repeats by id.
pub const META_NEXT_EVENT_ID: &[u8] = b"next_event_id";

/// Decodes a counter kept in `meta`.
pub fn decode_counter(what: &'static str, bytes: &[u8]) -> Result<u64, SchemaError> {
    let b: [u8; 8] = bytes
        .try_into()
        .map_err(|_| SchemaError::corrupt(what, format!("{} bytes, not 8", bytes.len())))?;
    Ok(u64::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_dotted_names_both_ways() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.as_str()));
            assert_eq!(
                serde_json::from_value::<EventKind>(serde_json::json!(k.as_str())).unwrap(),
                k
            );
        }
        let e = "track.deleted".parse::<EventKind>().unwrap_err();
        assert!(e.contains("track.deleted") && e.contains("play.detected"), "{e}");
        assert!(!e.contains("ping"), "ping is not offered: {e}");
        assert!("Track.Ready".parse::<EventKind>().is_err(), "names are exact");
        assert!(serde_json::from_str::<EventKind>("\"track_ready\"").is_err());
        assert!(!EventKind::SUBSCRIBABLE.contains(&EventKind::Ping));
    }

    #[test]
    fn records_round_trip_and_bad_bytes_are_corrupt() {
        let s = Subscription {
            id: 3,
            url: "https://example.com/hook".into(),
            events: vec![EventKind::TrackReady, EventKind::PlayDetected],
            secret: "whsec_x".into(),
            created_unix: 10,
            description: None,
        };
        assert_eq!(Subscription::decode(&s.encode()).unwrap(), s);
        assert!(!String::from_utf8(s.encode()).unwrap().contains("description"));
        assert!(s.listens(EventKind::TrackReady) && !s.listens(EventKind::MonitorUp));
        assert!(!s.listens(EventKind::Ping));

        let e = Event {
            id: u64::MAX,
            kind: EventKind::Ping,
            created_unix: 1,
            data: serde_json::json!({"subscription_id": 3}),
        };
        assert_eq!(Event::decode(&e.encode()).unwrap(), e);
        let json: serde_json::Value = serde_json::from_slice(&e.encode()).unwrap();
        assert_eq!(json["kind"], "ping");

        let mut d = Delivery::new(7, 3, 1000);
        assert!(d.is_pending() && d.state() == "pending");
        d.gave_up = true;
        assert_eq!(Delivery::decode(&d.encode()).unwrap(), d);
        assert_eq!(d.state(), "gave_up");
        d.gave_up = false;
        d.delivered_unix = Some(5);
        assert_eq!(d.state(), "delivered");

        for bad in [&b""[..], b"{", b"null", b"[1,2]", b"\xff\xfe", b"{\"id\":-1}"] {
            assert!(matches!(Subscription::decode(bad), Err(SchemaError::Corrupt { .. })));
            assert!(matches!(Event::decode(bad), Err(SchemaError::Corrupt { .. })));
            assert!(matches!(Delivery::decode(bad), Err(SchemaError::Corrupt { .. })));
        }
        // An unknown kind in a stored event is corruption, not a panic.
        assert!(Event::decode(br#"{"id":1,"kind":"nope","created_unix":1,"data":null}"#).is_err());
    }

    #[test]
    fn keys_sort_by_event_then_subscription() {
        assert!(delivery_key(1, 9) < delivery_key(2, 0));
        assert!(delivery_key(1, 1) < delivery_key(1, 2));
        assert!(delivery_key(255, 0) < delivery_key(256, 0));
        assert_eq!(parse_delivery_key(&delivery_key(u64::MAX, 4)), Some((u64::MAX, 4)));
        assert_eq!(parse_delivery_key(&[0; 15]), None);
        assert_eq!(parse_id_key(&event_key(42)), Some(42));
        assert_eq!(parse_id_key(&subscription_key(7)), Some(7));
        assert_eq!(parse_id_key(b"abc"), None);
        assert_eq!(decode_counter("c", &9u64.to_be_bytes()), Ok(9));
        assert!(decode_counter("c", b"abc").is_err());
    }
}

//! API keys as the store keeps them: a record per key in the `api_keys`
//! tree, with the tier it belongs to and any limits of its own. The key
//! itself is never stored, only its sha256 (so a copy of the store hands
//! out no working key); the record's `id` is what lists and the admin
//! route name it by.
//!
//! The tiers are a fixed, ordered set (free < starter < producer <
//! studio): a feature gated at a tier is open to it and every tier above.
//! What each tier allows is configuration (the service's `[tiers.NAME]`
//! tables); a key's [`Overrides`] replace single limits of its tier.

use serde::{Deserialize, Serialize};

use crate::quota::Quota;
use crate::SchemaError;

/// A key's tier, lowest first (the order gates compare by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Free,
    Starter,
    Producer,
    Studio,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Starter, Tier::Producer, Tier::Studio];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Starter => "starter",
            Tier::Producer => "producer",
            Tier::Studio => "studio",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Tier, String> {
        Tier::ALL.into_iter().find(|t| t.name() == s.trim()).ok_or_else(|| {
            let shown: String = s.chars().take(40).collect();
            format!("unknown tier {shown:?}; one of free, starter, producer, studio")
        })
    }
}

/// One limit: a count per window, or none at all. In TOML and JSON a
/// number or the string `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Finite(u64),
    Unlimited,
}

impl Limit {
    /// The count, when there is one.
    pub fn finite(self) -> Option<u64> {
        match self {
            Limit::Finite(n) => Some(n),
            Limit::Unlimited => None,
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Finite(n) => s.serialize_u64(*n),
            Limit::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::N(n)) => Ok(Limit::Finite(n)),
            Ok(Raw::S(s)) if s == "unlimited" => Ok(Limit::Unlimited),
            _ => Err(serde::de::Error::custom(
                "a limit is a whole number from 0 or \"unlimited\"",
            )),
        }
    }
}

/// Everything a tier allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub requests_per_hour: Limit,
    pub analyses_per_month: Limit,
    pub uploads_per_day: Limit,
    /// Results a similar-pattern search returns at most.
    pub pattern_results: Limit,
}

impl Limits {
    /// The limit of a counted quota.
    pub fn of(&self, q: Quota) -> Limit {
        match q {
            Quota::Requests => self.requests_per_hour,
            Quota::Analyses => self.analyses_per_month,
            Quota::Uploads => self.uploads_per_day,
        }
    }

    /// These limits with `o`'s replacing theirs.
    pub fn with(&self, o: &Overrides) -> Limits {
        Limits {
            requests_per_hour: o.requests_per_hour.unwrap_or(self.requests_per_hour),
            analyses_per_month: o.analyses_per_month.unwrap_or(self.analyses_per_month),
            uploads_per_day: o.uploads_per_day.unwrap_or(self.uploads_per_day),
            pattern_results: o.pattern_results.unwrap_or(self.pattern_results),
        }
    }
}

/// Single limits replaced, for one key (or, in the configuration, for one
/// tier over its defaults). Unknown fields are refused by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_hour: Option<Limit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyses_per_month: Option<Limit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploads_per_day: Option<Limit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_results: Option<Limit>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A key's name as stored: trimmed, 1–100 characters, no control
/// characters. The reason otherwise.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 {
        return Err("name must not be blank".into());
    }
    if n > MAX_NAME_CHARS {
        return Err(format!("name is {n} characters long; at most {MAX_NAME_CHARS}"));
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(name.to_string())
}

/// One key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: u64,
    pub name: String,
    pub tier: Tier,
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
    /// sha256 of the key, lower-case hex.
    pub sha256: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// Set once revoked: the key is refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_unix: Option<u64>,
}

impl KeyRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a key record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("API key record", e.to_string()))
    }

    pub fn is_active(&self) -> bool {
        self.revoked_unix.is_none()
    }

    /// The hash as bytes, `None` when the stored hex is not 32 bytes.
    pub fn hash_bytes(&self) -> Option<[u8; 32]> {
        from_hex(&self.sha256)
    }
}

/// Key in `api_keys`: the key id, u64 BE.
pub fn key_id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes an `api_keys` key.
pub fn parse_key_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// Lower-case hex of a hash.
pub fn to_hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_order_and_parse() {
        assert!(Tier::Free < Tier::Starter && Tier::Starter < Tier::Producer && Tier::Producer < Tier::Studio);
        for t in Tier::ALL {
            assert_eq!(t.name().parse::<Tier>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.name()));
        }
        let e = "gold".parse::<Tier>().unwrap_err();
        assert!(e.contains("gold") && e.contains("producer"), "{e}");
        assert!("Free".parse::<Tier>().is_err(), "names are exact");
    }

    #[test]
    fn limits_are_numbers_or_unlimited() {
        let o: Overrides =
            serde_json::from_str(r#"{"requests_per_hour": 5, "analyses_per_month": "unlimited"}"#).unwrap();
        assert_eq!(o.requests_per_hour, Some(Limit::Finite(5)));
        assert_eq!(o.analyses_per_month, Some(Limit::Unlimited));
        for bad in [
            r#"{"requests_per_hour": -1}"#,
            r#"{"requests_per_hour": 1.5}"#,
            r#"{"requests_per_hour": "lots"}"#,
            r#"{"requests_per_day": 5}"#,
        ] {
            assert!(serde_json::from_str::<Overrides>(bad).is_err(), "{bad}");
        }
        let base = Limits {
            requests_per_hour: Limit::Finite(10),
            analyses_per_month: Limit::Finite(3),
            uploads_per_day: Limit::Finite(3),
            pattern_results: Limit::Finite(5),
        };
        let l = base.with(&o);
        assert_eq!(l.of(Quota::Requests), Limit::Finite(5));
        assert_eq!(l.of(Quota::Analyses), Limit::Unlimited);
        assert_eq!(l.of(Quota::Uploads), Limit::Finite(3));
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"requests_per_hour":5,"analyses_per_month":"unlimited"}"#
        );
    }

    #[test]
    fn records_round_trip_and_names_are_checked() {
        let r = KeyRecord {
            id: 7,
            name: "ci".into(),
            tier: Tier::Producer,
            overrides: Overrides::default(),
            sha256: to_hex(&[0xab; 32]),
            created_unix: 1,
            revoked_unix: None,
        };
        assert_eq!(KeyRecord::decode(&r.encode()).unwrap(), r);
        assert_eq!(r.hash_bytes(), Some([0xab; 32]));
        assert!(KeyRecord::decode(b"{").is_err());
        assert_eq!(parse_key_id(&key_id_key(7)), Some(7));
        assert!(key_id_key(2) < key_id_key(256));
        assert_eq!(check_name("  ci  ").unwrap(), "ci");
        assert!(check_name(" ").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_name(&"é".repeat(100)).is_ok(), "characters, not bytes");
        assert!(check_name("a\nb").is_err());
    }
}

//! The counted quotas of an API key and their windows, and the counter the
//! `quota_counters` tree keeps for each (key, quota).
//!
//! Windows are fixed and aligned to UTC: a clock hour, a calendar day and a
//! calendar month. A counter stores the start of the window it counts in;
//! a counter from an earlier window reads as zero, so nothing has to sweep
//! old counters and a restart simply reads on where it stopped.

use crate::SchemaError;

/// What a key's limits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quota {
    /// Every request the key makes (to a route that needs access).
    Requests,
    /// `POST /analyze`, `POST /api/analyze`.
    Analyses,
    /// `POST /tracks`, `POST /upload`.
    Uploads,
}

impl Quota {
    pub const ALL: [Quota; 3] = [Quota::Requests, Quota::Analyses, Quota::Uploads];

    /// The name in `RateLimit` headers.
    pub fn name(self) -> &'static str {
        match self {
            Quota::Requests => "requests",
            Quota::Analyses => "analyses",
            Quota::Uploads => "uploads",
        }
    }

    /// The setting's name, which also names the 429 (`quota_` + it).
    pub fn limit_name(self) -> &'static str {
        match self {
            Quota::Requests => "requests_per_hour",
            Quota::Analyses => "analyses_per_month",
            Quota::Uploads => "uploads_per_day",
        }
    }

    pub fn window(self) -> Window {
        match self {
            Quota::Requests => Window::Hour,
            Quota::Analyses => Window::Month,
            Quota::Uploads => Window::Day,
        }
    }

    /// The byte after the key id in a counter's key.
    fn tag(self) -> u8 {
        match self {
            Quota::Requests => 1,
            Quota::Analyses => 2,
            Quota::Uploads => 3,
        }
    }
}

/// A fixed window, aligned to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Hour,
    Day,
    /// A calendar month (28 to 31 days).
    Month,
}

const DAY_S: u64 = 86_400;

impl Window {
    /// Start of the window holding `now` (Unix seconds).
    pub fn start(self, now: u64) -> u64 {
        match self {
            Window::Hour => now - now % 3600,
            Window::Day => now - now % DAY_S,
            Window::Month => {
                let (y, m, _) = civil_from_days(now / DAY_S);
                days_from_civil(y, m, 1) * DAY_S
            }
        }
    }

    /// End (exclusive) of the window holding `now`.
    pub fn end(self, now: u64) -> u64 {
        match self {
            Window::Hour => self.start(now) + 3600,
            Window::Day => self.start(now) + DAY_S,
            Window::Month => {
                let (y, m, _) = civil_from_days(now / DAY_S);
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY_S
            }
        }
    }
}

/// Year, month (1–12) and day of a day count since 1970-01-01
/// (H. Hinnant's algorithm, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a date on or after it.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What a key has used of one quota: the window it counts in and the
/// count there. 16 bytes: both u64 BE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    pub window_start: u64,
    pub count: u64,
}

impl Counter {
    /// The count in the window starting at `window_start` (0 when this
    /// counter is from an earlier one).
    pub fn used_in(&self, window_start: u64) -> u64 {
        if self.window_start == window_start {
            self.count
        } else {
            0
        }
    }

    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.window_start.to_be_bytes());
        b[8..].copy_from_slice(&self.count.to_be_bytes());
        b
    }

    pub fn decode(bytes: &[u8]) -> Result<Counter, SchemaError> {
        let b: &[u8; 16] = bytes
            .try_into()
            .map_err(|_| SchemaError::corrupt("quota counter", format!("{} bytes, not 16", bytes.len())))?;
        Ok(Counter {
            window_start: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
            count: u64::from_be_bytes(b[8..].try_into().expect("8 bytes")),
        })
    }
}

/// Key in `quota_counters`: the key id (u64 BE) and the quota's tag byte,
/// so a key's counters sit together.
pub fn counter_key(key_id: u64, q: Quota) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&key_id.to_be_bytes());
    k[8] = q.tag();
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a UTC date and time.
    fn at(y: u64, m: u64, d: u64, h: u64) -> u64 {
        days_from_civil(y, m, d) * DAY_S + h * 3600
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in (0..80_000).step_by(13) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn windows_are_aligned_to_utc() {
        let now = at(2024, 2, 17, 13) + 1234;
        assert_eq!(Window::Hour.start(now), at(2024, 2, 17, 13));
        assert_eq!(Window::Hour.end(now), at(2024, 2, 17, 14));
        assert_eq!(Window::Day.start(now), at(2024, 2, 17, 0));
        assert_eq!(Window::Day.end(now), at(2024, 2, 18, 0));
        assert_eq!(Window::Month.start(now), at(2024, 2, 1, 0));
        assert_eq!(Window::Month.end(now), at(2024, 3, 1, 0), "a leap February");
        assert_eq!(Window::Month.end(at(2023, 12, 31, 23)), at(2024, 1, 1, 0));
        assert_eq!(
            Window::Month.start(at(2024, 3, 1, 0)),
            at(2024, 3, 1, 0),
            "the first second"
        );
        assert_eq!(
            Window::Month.start(at(2024, 3, 1, 0) - 1),
            at(2024, 2, 1, 0),
            "the last second"
        );
    }

    #[test]
    fn counters_reset_with_their_window() {
        let c = Counter {
            window_start: 3600,
            count: 9,
        };
        assert_eq!(Counter::decode(&c.encode()).unwrap(), c);
        assert_eq!(c.used_in(3600), 9);
        assert_eq!(c.used_in(7200), 0);
        assert!(Counter::decode(&[0; 15]).is_err());
        assert!(counter_key(1, Quota::Uploads) > counter_key(1, Quota::Requests));
        assert!(counter_key(1, Quota::Uploads) < counter_key(2, Quota::Requests));
    }
}

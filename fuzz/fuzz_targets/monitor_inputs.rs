//! What a stranger controls in monitoring: the URL given to `POST
//! /monitors` (and webhooks), the content type a stream answers with, the
//! stored log and monitor records read back, and the sequence of window
//! answers the tracker merges (a stream chooses what each window hears).
//! None may panic; the URL check must never pass a scheme other than http
//! or https, user info, or an over-long URL; the tracker must never emit a
//! play that ends before it starts or was never confirmed.
//!
//! Input layout: `selector` then bytes. Selector 0: URL; 1: content type +
//! path; 2: log entry / monitor record bytes; 3+: tracker answers, 4 bytes
//! each (track id 0 = no answer, alignment, score, copy flag).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica::monitor::source::format_hint;
use sonica::monitor::tracker::{Event, Found, Rules, Tracker, WindowAnswer};
use sonica::net::{check_url, NetPolicy, MAX_URL_LEN};
use sonica_schema::monitor::{parse_log_key, LogEntry, MonitorRecord};
use sonica_schema::{Tier, TrackRecord};

fn record(id: u32) -> TrackRecord {
    TrackRecord {
        id,
        path: format!("t{id}"),
        title: String::new(),
        artist: None,
        album: None,
        genre: None,
        duration_s: 300.0,
        sample_rate: 8000,
        channels: 1,
        codec: String::new(),
        peaks: 0,
        hashes: 0,
        tier: Tier::Fresh,
        created_at: 0,
        file_len: None,
        file_mtime_ms: None,
        sha256: None,
        duplicate_of: None,
        analysis_pending: false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    match sel % 4 {
        0 => {
            let s = String::from_utf8_lossy(rest);
            for allow_private in [false, true] {
                let p = NetPolicy { allow_hosts: vec![], allow_private };
                if let Ok(u) = check_url(&s, &p) {
                    assert!(matches!(u.scheme(), "http" | "https"), "{s:?}");
                    assert!(u.username().is_empty() && u.password().is_none(), "{s:?}");
                    assert!(s.len() <= MAX_URL_LEN);
                }
            }
        }
        1 => {
            let s = String::from_utf8_lossy(rest);
            let (ct, path) = s.split_once('\n').unwrap_or((&s, ""));
            if let Some(ext) = format_hint(ct, path) {
                assert!(ext.len() <= 5);
            }
        }
        2 => {
            let _ = LogEntry::decode(rest);
            let _ = MonitorRecord::decode(rest);
            let _ = parse_log_key(rest);
        }
        _ => {
            let mut t = Tracker::new(Rules { confirm_windows: 2, max_missed: 3, align_tolerance_s: 1.5 });
            let mut open = std::collections::HashSet::new();
            let mut check = |events: Vec<Event>| {
                for e in events {
                    match e {
                        Event::Confirmed(d) => {
                            assert!(d.matched >= 2);
                            open.insert(d.first_window);
                        }
                        Event::Closed(d) => {
                            assert!(open.remove(&d.first_window), "closed a play never confirmed");
                            assert!(d.last_window >= d.first_window);
                            assert!(d.confidence() > 0.0 && d.confidence() <= 1.0);
                        }
                    }
                }
            };
            for (k, w) in rest.chunks_exact(4).enumerate() {
                let start_s = k as f64 * 5.0;
                let found = (w[0] % 8 != 0).then(|| Found {
                    track: record(u32::from(w[0] % 8)),
                    copies: if w[3] & 1 == 1 { vec![u32::from(w[3] % 8)] } else { vec![] },
                    offset_s: start_s - f64::from(w[1]) * 3.0,
                    rate: 1.0,
                    score: u32::from(w[2]),
                });
                check(t.push(&WindowAnswer { index: k as u64, start_s, found }));
            }
            check(t.finish());
            assert!(open.is_empty(), "a play left open at the end");
        }
    }
});

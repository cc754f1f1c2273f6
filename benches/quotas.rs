//! What counting a stored API key's quota costs each request: one
//! [`Quotas::take`] reads the key's counters, writes the new counts and
//! flushes sled before the request is admitted (so a kill never loses a
//! count). This times takes on a real sled store in a temporary folder,
//! one key from one thread (every take waits for the last one's flush:
//! how fast one busy key can go) and eight keys from eight threads (how
//! much the flushes overlap).
//!
//! `cargo bench -p sonica-index --bench quotas`
//! Knob: `SONICA_QUOTA_TAKES` (takes per row, default 2000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sonica_index::{Ask, KvStore, Quotas, SledStore, Take};
use sonica_schema::quota::Quota;

fn asks() -> [Ask; 2] {
    [
        Ask {
            quota: Quota::Requests,
            limit: u64::MAX,
            counts: true,
        },
        Ask {
            quota: Quota::Uploads,
            limit: u64::MAX,
            counts: false,
        },
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn row(label: &str, threads: usize, takes: usize, quotas: &Arc<Quotas>) {
    let started = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let q = quotas.clone();
                s.spawn(move || {
                    (0..takes / threads)
                        .map(|_| {
                            let at = Instant::now();
                            let took = q.take(t as u64 + 1, &asks(), 1_700_000_000).expect("take");
                            assert!(matches!(took, Take::Admitted(_)));
                            at.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    all.sort_unstable();
    println!(
        "{label:<28} {:>8.0} takes/s   median {:>7.3} ms   p99 {:>7.3} ms",
        all.len() as f64 / wall.as_secs_f64(),
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let takes: usize = std::env::var("SONICA_QUOTA_TAKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp folder");
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open(dir.path()).expect("sled"));
    let quotas = Arc::new(Quotas::new(store));
    row("one key, one thread", 1, takes, &quotas);
    row("eight keys, eight threads", 8, takes, &quotas);
}

//! Prometheus metrics: requests and latency per route, the job queue, and
//! the library's size. Gauges that mirror state (queue depth, tracks,
//! bytes) are read when scraped rather than kept in step on every change.

use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use sonica_index::FingerprintIndex;

use crate::service::scheduler::Scheduler;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    jobs: IntCounterVec,
    recognitions: IntCounterVec,
    stage_cpu: CounterVec,
    queue_depth: IntGauge,
    tracks: IntGauge,
    jobs_pending: IntGaugeVec,
    index_bytes: IntGaugeVec,
    webhook_deliveries: IntCounterVec,
    webhook_pending: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("sonica".into()), None).expect("a static prefix is valid");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route, method and status"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route").buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let jobs = IntCounterVec::new(
            Opts::new("jobs_total", "Fingerprinting jobs by outcome (ready, retried, failed)"),
            &["outcome"],
        )
        .expect("valid metric");
        let recognitions = IntCounterVec::new(
            Opts::new("recognitions_total", "Recognitions by result (match, no_match)"),
            &["result"],
        )
        .expect("valid metric");
        let stage_cpu = CounterVec::new(
            Opts::new(
                "recognition_cpu_seconds_total",
                "CPU seconds spent by recognitions, by stage (decode, resample, peaks, hash, lookup, vote)",
            ),
            &["stage"],
        )
        .expect("valid metric");
        let queue_depth = IntGauge::new("jobs_queue_depth", "Jobs waiting or running").expect("valid metric");
        let tracks = IntGauge::new("tracks", "Tracks ready in the library").expect("valid metric");
        let jobs_pending = IntGaugeVec::new(
            Opts::new("jobs_stored", "Jobs kept in the store by status"),
            &["status"],
        )
        .expect("valid metric");
        let index_bytes = IntGaugeVec::new(
            Opts::new(
                "index_bytes",
                "Store size on disk (kind=disk); logical sizes are in `sonica stats`, too costly to scan per scrape",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome (delivered, failed: to be retried, gave_up)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let webhook_pending = IntGauge::new(
            "webhook_deliveries_pending",
            "Webhook deliveries waiting (due or backing off)",
        )
        .expect("valid metric");
        for c in [
            Box::new(webhook_deliveries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(webhook_pending.clone()),
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(jobs.clone()),
            Box::new(recognitions.clone()),
            Box::new(stage_cpu.clone()),
            Box::new(queue_depth.clone()),
            Box::new(tracks.clone()),
            Box::new(jobs_pending.clone()),
            Box::new(index_bytes.clone()),
        ] {
            registry.register(c).expect("metric names are distinct");
        }
        for outcome in ["ready", "retried", "failed"] {
            jobs.with_label_values(&[outcome]);
        }
        for result in ["match", "no_match"] {
            recognitions.with_label_values(&[result]);
        }
        for outcome in ["delivered", "failed", "gave_up"] {
            webhook_deliveries.with_label_values(&[outcome]);
        }
        Metrics {
            registry,
            requests,
            latency,
            jobs,
            recognitions,
            stage_cpu,
            queue_depth,
            tracks,
            jobs_pending,
            index_bytes,
            webhook_deliveries,
            webhook_pending,
        }
    }

    /// Brings the webhook counters and the pending gauge up to `s` (the
    /// delivery workers count; this mirrors them when scraped).
    pub fn observe_webhooks(&self, s: crate::webhooks::Stats) {
        for (outcome, total) in [("delivered", s.delivered), ("failed", s.failed), ("gave_up", s.gave_up)] {
            let c = self.webhook_deliveries.with_label_values(&[outcome]);
            c.inc_by(total.saturating_sub(c.get()));
        }
        self.webhook_pending.set(s.pending as i64);
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method_label(method), &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    pub fn job_outcome(&self, outcome: &str) {
        self.jobs.with_label_values(&[outcome]).inc();
    }

    pub fn recognition(&self, matched: bool) {
        self.recognitions
            .with_label_values(&[if matched { "match" } else { "no_match" }])
            .inc();
    }

    /// The text exposition, with state gauges read now.
    pub fn render(&self, index: &FingerprintIndex, scheduler: &Scheduler) -> String {
        self.queue_depth.set(scheduler.depth() as i64);
        for (stage, total) in crate::cpu_stages::totals() {
            let c = self.stage_cpu.with_label_values(&[stage.name()]);
            c.inc_by((total - c.get()).max(0.0));
        }
        self.tracks.set(index.len() as i64);
        if let Ok(jobs) = index.jobs() {
            for (status, n) in job_counts(&jobs) {
                self.jobs_pending.with_label_values(&[status]).set(n);
            }
        }
        let store = index.store();
        if let Ok(disk) = store.disk_bytes() {
            self.index_bytes.with_label_values(&["disk"]).set(disk as i64);
        }
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Stored jobs by status, every status named (a status missing here once
/// made every scrape panic after the first REJECTED job).
fn job_counts(jobs: &[sonica_schema::JobRecord]) -> [(&'static str, i64); 4] {
    use sonica_schema::JobStatus;
    let mut counts = [("queued", 0), ("processing", 0), ("failed", 0), ("rejected", 0)];
    for j in jobs {
        let at = match j.status {
            JobStatus::Queued => 0,
            JobStatus::Processing => 1,
            JobStatus::Failed => 2,
            JobStatus::Rejected => 3,
        };
        counts[at].1 += 1;
    }
    counts
}

/// The method as a label: one of the known methods or `other`, so a client
/// inventing methods cannot grow the label set without bound.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.iter().find(|m| **m == method).copied().unwrap_or("other")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::{JobRecord, JobSource, JobStatus};

    fn job(id: u32, status: JobStatus) -> JobRecord {
        JobRecord {
            id,
            path: format!("/songs/{id}.ogg"),
            source: JobSource::Upload,
            status,
            title: None,
            artist: None,
            album: None,
            genre: None,
            attempts: 1,
            error: None,
            error_code: None,
            created_at: 0,
            file_len: None,
            file_mtime_ms: None,
            on_duplicate: None,
            duplicates: Vec::new(),
        }
    }

    #[test]
    fn every_job_status_is_counted() {
        let jobs = [
            job(1, JobStatus::Rejected),
            job(2, JobStatus::Queued),
            job(3, JobStatus::Rejected),
            job(4, JobStatus::Failed),
        ];
        let counts = job_counts(&jobs);
        assert_eq!(
            counts,
            [("queued", 1), ("processing", 0), ("failed", 1), ("rejected", 2)]
        );
    }

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("XXXXXXXXXXXXXXXXXXXX"), "other");
    }
}

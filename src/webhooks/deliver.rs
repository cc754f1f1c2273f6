//! The delivery workers: a few threads of their own that POST due
//! deliveries to their receivers and record each attempt.
//!
//! They share nothing with recognition or the job workers but the store,
//! so a receiver that is down, slow or answering 500 costs only these
//! threads' time: each attempt has a 5 s limit, a subscription has at
//! most half the workers at once (a slow receiver cannot hold them all),
//! and a failure is retried later by [`RetryPolicy`] instead of now.
//! Workers sleep until an event is enqueued (a wake-up on a channel) or
//! a second has passed, so a delivery starts as soon as it is due. A
//! receiver that answers again after failing gets its waiting deliveries
//! at once instead of at their backed-off times. Delivery is at least
//! once: a kill after the receiver's 2xx but before the attempt is stored
//! sends it again after the restart (same `Sonica-Event-Id`).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use sonica_index::{Attempt, Due, Next, WebhookStore};

use super::retry::{unit_random, RetryPolicy};
use super::sign::{sign, EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};
use super::{now_ms, KEEP_EVENTS, KEEP_EVENTS_S};
use crate::net::NetPolicy;

/// How the workers deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Worker threads (1–16).
    pub workers: usize,
    pub retry: RetryPolicy,
    /// The limit of one attempt: connect, send, and the answer.
    pub timeout: Duration,
    /// What the URLs may name and reach (checked again at every attempt,
    /// and on every address a name resolves to).
    pub policy: NetPolicy,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            workers: 4,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(5),
            policy: NetPolicy::default(),
        }
    }
}

/// Attempts by outcome since the start, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Answered 2xx.
    pub delivered: AtomicU64,
    /// Failed, to be tried again.
    pub failed: AtomicU64,
    /// Failed for the last time.
    pub gave_up: AtomicU64,
}

/// Bytes of an answer read (and dropped) so its connection can be reused.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// How often the outbox is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The longest sleep when nothing is due.
const POLL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct SubState {
    in_flight: usize,
}

#[derive(Default)]
struct Claims {
    busy: HashSet<(u64, u64)>,
    subs: HashMap<u64, SubState>,
}

struct Shared {
    store: Arc<WebhookStore>,
    opts: DeliveryOptions,
    agent: ureq::Agent,
    stop: AtomicBool,
    wake_tx: Sender<()>,
    wake_rx: Receiver<()>,
    claims: Mutex<Claims>,
    counters: Arc<Counters>,
    per_sub: usize,
}

/// The running workers.
pub struct Pool {
    handles: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub status: Option<u16>,
    /// `None` when delivered.
    pub error: Option<String>,
}

impl Pool {
    /// Starts the workers over `store`; `wake` is the sending end of the
    /// channel whose receiving end is `wake_rx`.
    pub fn start(
        store: Arc<WebhookStore>,
        opts: DeliveryOptions,
        wake: (Sender<()>, Receiver<()>),
        counters: Arc<Counters>,
    ) -> std::io::Result<Pool> {
        // Guarded name resolution and no redirects; the whole attempt is
        // held to `timeout` per request below.
        let agent = crate::net::agent(&opts.policy, opts.timeout);
        let workers = opts.workers.clamp(1, 16);
        let shared = Arc::new(Shared {
            store,
            opts,
            agent,
            stop: AtomicBool::new(false),
            wake_tx: wake.0,
            wake_rx: wake.1,
            claims: Mutex::new(Claims::default()),
            counters,
            per_sub: (workers / 2).max(1),
        });
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let s = shared.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("sonica-webhook-{n}"))
                    .spawn(move || s.run(n == 0))?,
            );
        }
        Ok(Pool { handles, shared })
    }

    /// Stops the workers after the attempts they are making; what is
    /// pending stays in the store for the next start.
    pub fn shutdown(self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.handles.len() {
            let _ = self.shared.wake_tx.try_send(());
        }
        for h in self.handles {
            let _ = h.join();
        }
    }
}

enum Claim {
    Got(Box<Due>),
    Idle(Duration),
}

impl Shared {
    fn run(&self, prunes: bool) {
        let mut last_prune: Option<Instant> = None;
        while !self.stop.load(Ordering::SeqCst) {
            if prunes && last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                let older = now_ms() / 1000;
                match self.store.prune(KEEP_EVENTS, older.saturating_sub(KEEP_EVENTS_S)) {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(events = n, "webhook outbox pruned"),
                    Err(e) => tracing::warn!(error = %e, "cannot prune the webhook outbox"),
                }
            }
            match self.claim() {
                Ok(Claim::Got(d)) => {
                    self.attempt(*d);
                    // Another worker may take what this one's capacity held back.
                    let _ = self.wake_tx.try_send(());
                }
                Ok(Claim::Idle(wait)) => {
                    let _ = self.wake_rx.recv_timeout(wait);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the webhook outbox; trying again in a second");
                    let _ = self.wake_rx.recv_timeout(POLL);
                }
            }
        }
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, Claims> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The earliest due row that no worker is sending and whose
    /// subscription has room, marked as taken.
    fn claim(&self) -> Result<Claim, sonica_index::IndexError> {
        let now = now_ms();
        let mut c = self.claims();
        loop {
            let keys = {
                let Claims { busy, subs } = &*c;
                self.store.due_where(now, 2, |e, s| {
                    !busy.contains(&(e, s)) && subs.get(&s).is_none_or(|st| st.in_flight < self.per_sub)
                })
            };
            let Some(&(event, sub)) = keys.first() else {
                let wait = match self.store.next_due() {
                    Some(at) if at > now => Duration::from_millis(at - now).min(POLL),
                    _ => POLL,
                };
                return Ok(Claim::Idle(wait.max(Duration::from_millis(5))));
            };
            match self.store.load(event, sub)? {
                Some(d) => {
                    c.busy.insert((event, sub));
                    c.subs.entry(sub).or_default().in_flight += 1;
                    if keys.len() > 1 {
                        let _ = self.wake_tx.try_send(());
                    }
                    return Ok(Claim::Got(Box::new(d)));
                }
                None => continue, // no longer pending: look again
            }
        }
    }

    fn attempt(&self, d: Due) {
        let (event, sub) = (d.event.id, d.subscription.id);
        let sent = send(&self.agent, &d, &self.opts.policy, self.opts.timeout);
        let at_ms = now_ms();
        let number = d.delivery.attempts.saturating_add(1);
        let next = match (&sent.error, self.opts.retry.exhausted(number)) {
            (None, _) => Next::Delivered,
            (Some(_), true) => Next::GiveUp,
            (Some(_), false) => {
                let wait = self.opts.retry.delay(number, unit_random());
                Next::RetryAt(at_ms + wait.as_millis() as u64)
            }
        };
        let counter = match next {
            Next::Delivered => &self.counters.delivered,
            Next::RetryAt(_) => &self.counters.failed,
            Next::GiveUp => &self.counters.gave_up,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match &next {
            Next::Delivered => tracing::debug!(event, sub, attempt = number, "webhook delivered"),
            Next::RetryAt(at) => tracing::debug!(event, sub, attempt = number, error = ?sent.error,
                retry_in_ms = at.saturating_sub(at_ms), "webhook attempt failed"),
            Next::GiveUp => tracing::warn!(event, sub, attempts = number, error = ?sent.error,
                url = %d.subscription.url, "webhook delivery given up"),
        }
        let recorded = self.store.record_attempt(
            event,
            sub,
            Attempt {
                at_ms,
                status: sent.status,
                error: sent.error.clone(),
                next: next.clone(),
            },
        );
        if let Err(e) = recorded {
            tracing::error!(event, sub, error = %e, "cannot store a webhook attempt; it will be made again");
        }
        let mut c = self.claims();
        c.busy.remove(&(event, sub));
        if let Some(st) = c.subs.get_mut(&sub) {
            st.in_flight = st.in_flight.saturating_sub(1);
            if st.in_flight == 0 {
                c.subs.remove(&sub);
            }
        }
        drop(c);
        // A receiver that answers: its deliveries waiting out a backoff
        // (they failed while it was away, maybe before a restart) go now.
        if next == Next::Delivered {
            let n = self.store.expedite(sub, at_ms);
            if n > 0 {
                tracing::info!(
                    sub,
                    deliveries = n,
                    "webhook receiver answers again; sending what waited"
                );
                let _ = self.wake_tx.try_send(());
            }
        }
    }
}

/// One POST of `d`'s event, signed now, within `timeout`: 2xx is
/// delivered; any other status (a redirect too: they are not followed), a
/// URL the policy no longer allows, a refused connection or the time limit
/// is a failure, described.
pub fn send(agent: &ureq::Agent, d: &Due, policy: &NetPolicy, timeout: Duration) -> Sent {
    let url = match crate::net::check_url(&d.subscription.url, policy) {
        Ok(u) => u,
        Err(e) => {
            return Sent {
                status: None,
                error: Some(format!("url refused: {e}")),
            }
        }
    };
    let body = d.event.encode();
    let t = now_ms() / 1000;
    let result = agent
        .request_url("POST", &url)
        .timeout(timeout)
        .set("User-Agent", concat!("Sonica-Webhooks/", env!("CARGO_PKG_VERSION")))
        .set("Content-Type", "application/json")
        .set(SIGNATURE_HEADER, &sign(&d.subscription.secret, t, &body))
        .set(EVENT_ID_HEADER, &d.event.id.to_string())
        .set(EVENT_HEADER, d.event.kind.as_str())
        .send_bytes(&body);
    match result {
        Ok(r) => {
            let status = r.status();
            let location = r.header("location").map(|l| l.chars().take(100).collect::<String>());
            let _ = r.into_reader().take(MAX_ANSWER_BYTES).read_to_end(&mut Vec::new());
            if (200..300).contains(&status) {
                Sent {
                    status: Some(status),
                    error: None,
                }
            } else {
                let error = match location {
                    Some(l) if (300..400).contains(&status) => {
                        format!("answered {status} (to {l}); redirects are not followed")
                    }
                    _ => format!("answered {status}"),
                };
                Sent {
                    status: Some(status),
                    error: Some(error),
                }
            }
        }
        Err(ureq::Error::Status(status, r)) => {
            let _ = r.into_reader().take(MAX_ANSWER_BYTES).read_to_end(&mut Vec::new());
            Sent {
                status: Some(status),
                error: Some(format!("answered {status}")),
            }
        }
        Err(ureq::Error::Transport(t)) => Sent {
            status: None,
            error: Some(crate::net::transport_message(&t)),
        },
    }
}

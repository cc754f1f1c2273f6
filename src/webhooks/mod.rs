//! Webhooks: events (a play detected, a track ready or failed, a
//! duplicate found, a monitor down or up) POSTed to the URLs subscribed
//! to them, signed, from a persisted outbox.
//!
//! A library-level module, not part of the service, so that anything
//! holding the store (the service, a `sonica monitor` run) can emit. The
//! caller's side is [`Webhooks::emit`]: it writes the event and its
//! delivery rows to the store in one batch and wakes the delivery
//! workers; it never waits on a receiver and never fails the caller (a
//! store that cannot be written is logged). Everything else happens on
//! the workers of `deliver.rs`. What is pending survives a restart: the
//! rows are in the store and the workers resume them at start.
//!
//! `sign.rs` makes and checks the `Sonica-Signature` header, `retry.rs`
//! says when a failure is tried again. Which URLs may be used, and the
//! addresses they may reach, is [`crate::net`]'s guard, shared with the
//! monitors.

pub mod deliver;
pub mod retry;
pub mod sign;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use sonica_index::{IndexError, KvStore, WebhookStore};
use sonica_schema::webhook::{Event, EventKind};

pub use deliver::{Counters, DeliveryOptions};
pub use retry::RetryPolicy;
pub use sonica_index::{KEEP_EVENTS, KEEP_EVENTS_S};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where the delivery counters and the queue stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub delivered: u64,
    pub failed: u64,
    pub gave_up: u64,
    /// Deliveries waiting (due or backing off).
    pub pending: u64,
}

/// The webhooks of one store: subscriptions, the outbox and the workers
/// delivering it.
pub struct Webhooks {
    store: Arc<WebhookStore>,
    options: DeliveryOptions,
    wake: Sender<()>,
    wake_rx: Receiver<()>,
    counters: Arc<Counters>,
    pool: Mutex<Option<deliver::Pool>>,
}

impl Webhooks {
    /// Opens the subscriptions and outbox of `store` and starts the
    /// delivery workers, which resume whatever is pending.
    pub fn start(store: Arc<dyn KvStore>, options: DeliveryOptions) -> Result<Webhooks, WebhooksError> {
        let w = Webhooks::open(store, options)?;
        let pool = deliver::Pool::start(
            w.store.clone(),
            w.options.clone(),
            (w.wake.clone(), w.wake_rx.clone()),
            w.counters.clone(),
        )
        .map_err(WebhooksError::Workers)?;
        *w.pool.lock().unwrap_or_else(|p| p.into_inner()) = Some(pool);
        let pending = w.store.pending();
        if pending > 0 {
            tracing::info!(pending, "webhook deliveries resumed");
        }
        Ok(w)
    }

    /// Opens without workers: events are stored, nothing is sent (until
    /// a process with workers opens the store).
    pub fn open(store: Arc<dyn KvStore>, options: DeliveryOptions) -> Result<Webhooks, WebhooksError> {
        let (tx, rx) = crossbeam_channel::bounded(16);
        let w = Webhooks {
            store: Arc::new(WebhookStore::open(store)?),
            options,
            wake: tx,
            wake_rx: rx,
            counters: Arc::new(Counters::default()),
            pool: Mutex::new(None),
        };
        Ok(w)
    }

    /// Records an event of `kind` for every subscription listening to it
    /// and wakes the workers. Never blocks on a receiver and never fails
    /// the caller: with no subscriber nothing is written, and a store that
    /// cannot be written is logged. The event is durable (flushed) when
    /// this returns. Returns the event's id when one was stored.
    pub fn emit(&self, kind: EventKind, data: serde_json::Value) -> Option<u64> {
        if !self.store.has_listeners(kind) {
            return None;
        }
        match self.store.enqueue(kind, data, now_ms()) {
            Ok(Some(e)) => {
                let _ = self.wake.try_send(());
                Some(e.id)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(kind = %kind, error = %e, "cannot store a webhook event; it is lost");
                None
            }
        }
    }

    /// Sends a `ping` to subscription `id` alone (durable when this
    /// returns); `None` when there is no such subscription.
    pub fn ping(&self, id: u64) -> Result<Option<Event>, IndexError> {
        let now = now_ms();
        let data = serde_json::json!({"subscription_id": id, "message": "ping from Sonica", "sent_unix_ms": now});
        let e = self.store.enqueue_to(id, EventKind::Ping, data, now)?;
        if e.is_some() {
            let _ = self.wake.try_send(());
        }
        Ok(e)
    }

    /// The subscriptions and the delivery log.
    pub fn store(&self) -> &WebhookStore {
        &self.store
    }

    /// How deliveries are made.
    pub fn options(&self) -> &DeliveryOptions {
        &self.options
    }

    /// Counters since the start, and what is pending now.
    pub fn stats(&self) -> Stats {
        Stats {
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            gave_up: self.counters.gave_up.load(Ordering::Relaxed),
            pending: self.store.pending() as u64,
        }
    }

    /// Stops the workers after the attempts under way (at most the
    /// attempt time limit); pending deliveries stay in the store.
    pub fn shutdown(&self) {
        let pool = self.pool.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(p) = pool {
            p.shutdown();
        }
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "cannot flush the webhook outbox");
        }
    }
}

/// Why webhooks could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error("cannot open the webhook outbox: {0}")]
    Store(#[from] IndexError),
    #[error("cannot start the webhook workers: {0}")]
    Workers(std::io::Error),
}

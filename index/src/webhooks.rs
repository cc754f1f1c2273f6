//! The durable side of webhooks: subscriptions, the outbox of events and
//! the delivery rows that are both the queue and the delivery log.
//!
//! Every change is one batch, so a kill at any moment leaves the store
//! consistent: an event lands with one row per subscriber or not at all
//! ([`WebhookStore::enqueue`]), an attempt rewrites its one row
//! ([`WebhookStore::record_attempt`]), removing a subscription takes its
//! rows with it, and pruning removes an event together with its rows.
//! Events nobody listens to are not stored. Ids (subscriptions and events)
//! come from counters in `meta` and are never reused, so a receiver can
//! drop repeats by event id.
//!
//! The trees are the truth; the subscriptions and the pending rows' due
//! times are also held in memory (loaded at open), so finding what is due
//! never scans the store. One process owns the store, and every change
//! goes through here, under one lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use sonica_schema::webhook::{
    decode_counter, delivery_key, event_key, parse_delivery_key, parse_id_key, subscription_key, Delivery, Event,
    EventKind, Subscription, MAX_ERROR_CHARS, META_NEXT_EVENT_ID, META_NEXT_SUBSCRIPTION_ID,
};
use sonica_schema::{SchemaError, Tree};

use crate::store::{Batch, KvStore};
use crate::IndexError;

/// Finished events kept at most (the newest); older ones are pruned.
pub const KEEP_EVENTS: usize = 10_000;

/// Finished events older than this are pruned whatever their number.
pub const KEEP_EVENTS_S: u64 = 7 * 24 * 3600;

/// A new subscription's details, already checked by the caller.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    pub events: Vec<EventKind>,
    pub secret: String,
    pub created_unix: u64,
    pub description: Option<String>,
}

/// A pending delivery whose time has come, with what sending it needs.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery: Delivery,
    pub event: Event,
    pub subscription: Subscription,
}

/// What one attempt decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A 2xx came back.
    Delivered,
    /// Failed; try again at this Unix millisecond.
    RetryAt(u64),
    /// Failed for the last time.
    GiveUp,
}

/// One attempt's outcome, as [`WebhookStore::record_attempt`] stores it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at_ms: u64,
    /// The status, when a response came back.
    pub status: Option<u16>,
    /// Why it failed (`None` when delivered).
    pub error: Option<String>,
    pub next: Next,
}

struct Inner {
    subs: BTreeMap<u64, Subscription>,
    /// Pending rows: (event, subscription) → due time (ms).
    pending: HashMap<(u64, u64), u64>,
    /// The same rows ordered by (due time, event, subscription).
    queue: BTreeSet<(u64, u64, u64)>,
    next_sub: u64,
    next_event: u64,
}

impl Inner {
    fn schedule(&mut self, event: u64, sub: u64, at_ms: u64) {
        if let Some(old) = self.pending.insert((event, sub), at_ms) {
            self.queue.remove(&(old, event, sub));
        }
        self.queue.insert((at_ms, event, sub));
    }

    fn unschedule(&mut self, event: u64, sub: u64) {
        if let Some(old) = self.pending.remove(&(event, sub)) {
            self.queue.remove(&(old, event, sub));
        }
    }
}

/// Subscriptions, outbox and deliveries over one store.
pub struct WebhookStore {
    store: Arc<dyn KvStore>,
    inner: Mutex<Inner>,
}

fn counter(store: &dyn KvStore, key: &[u8], what: &'static str) -> Result<Option<u64>, IndexError> {
    match store.get(Tree::Meta, key)? {
        Some(v) => Ok(Some(decode_counter(what, &v)?)),
        None => Ok(None),
    }
}

fn corrupt(what: &'static str, why: String) -> IndexError {
    IndexError::Corrupt(SchemaError::Corrupt { what, why })
}

/// `s` cut to `n` characters.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl WebhookStore {
    /// Loads the subscriptions, the counters and the pending rows. A row
    /// whose event is missing (no batch writes one, but a damaged store
    /// might) is left out of the queue and pruned later.
    pub fn open(store: Arc<dyn KvStore>) -> Result<WebhookStore, IndexError> {
        let mut subs = BTreeMap::new();
        for e in store.scan(Tree::Webhooks) {
            let (k, v) = e?;
            let s = Subscription::decode(&v)?;
            if parse_id_key(&k) != Some(s.id) {
                return Err(corrupt(
                    "webhook subscription",
                    format!("subscription {} has a bad key", s.id),
                ));
            }
            subs.insert(s.id, s);
        }
        let mut events = HashSet::new();
        let mut max_event = 0;
        for e in store.scan(Tree::Outbox) {
            let (k, _) = e?;
            let id = parse_id_key(&k).ok_or_else(|| corrupt("webhook event", "a bad outbox key".into()))?;
            events.insert(id);
            max_event = max_event.max(id);
        }
        let mut inner = Inner {
            next_sub: 0,
            next_event: 0,
            subs,
            pending: HashMap::new(),
            queue: BTreeSet::new(),
        };
        for e in store.scan(Tree::Deliveries) {
            let (k, v) = e?;
            let d = Delivery::decode(&v)?;
            if parse_delivery_key(&k) != Some((d.event_id, d.subscription_id)) {
                return Err(corrupt(
                    "webhook delivery",
                    format!("delivery of event {} has a bad key", d.event_id),
                ));
            }
            max_event = max_event.max(d.event_id);
            if d.is_pending() && events.contains(&d.event_id) && inner.subs.contains_key(&d.subscription_id) {
                inner.schedule(d.event_id, d.subscription_id, d.next_attempt_unix_ms);
            }
        }
        let max_sub = inner.subs.keys().next_back().copied().unwrap_or(0);
        // The counters are written with every id they hand out; the
        // maxima only guard against a counter lost to damage.
        inner.next_sub = counter(&*store, META_NEXT_SUBSCRIPTION_ID, "webhook id counter")?
            .unwrap_or(1)
            .max(max_sub + 1);
        inner.next_event = counter(&*store, META_NEXT_EVENT_ID, "event id counter")?
            .unwrap_or(1)
            .max(max_event + 1);
        Ok(WebhookStore {
            store,
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The store is the truth and every in-memory change follows a
        // committed batch, so a panic elsewhere leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a subscription under the next id and makes it durable;
    /// `None` when `max` subscriptions exist already.
    pub fn add(&self, new: NewSubscription, max: usize) -> Result<Option<Subscription>, IndexError> {
        let mut inner = self.lock();
        if inner.subs.len() >= max {
            return Ok(None);
        }
        let id = inner.next_sub;
        let mut events = new.events;
        events.sort();
        events.dedup();
        let s = Subscription {
            id,
            url: new.url,
            events,
            secret: new.secret,
            created_unix: new.created_unix,
            description: new.description,
        };
        let mut b = Batch::new();
        b.put(Tree::Meta, META_NEXT_SUBSCRIPTION_ID, (id + 1).to_be_bytes());
        b.put(Tree::Webhooks, subscription_key(id), s.encode());
        self.store.commit(b)?;
        self.store.flush()?;
        inner.next_sub = id + 1;
        inner.subs.insert(id, s.clone());
        Ok(Some(s))
    }

    /// Every subscription, by id.
    pub fn list(&self) -> Vec<Subscription> {
        self.lock().subs.values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Subscription> {
        self.lock().subs.get(&id).cloned()
    }

    /// Whether any subscription listens to `kind` (so an event of it would
    /// be stored).
    pub fn has_listeners(&self, kind: EventKind) -> bool {
        self.lock().subs.values().any(|s| s.listens(kind))
    }

    /// Removes subscription `id` with its delivery rows (pending or not)
    /// and the events no other subscription still has a row for, in one
    /// batch, and makes it durable. `false` when there is no such
    /// subscription.
    pub fn remove(&self, id: u64) -> Result<bool, IndexError> {
        let mut inner = self.lock();
        if !inner.subs.contains_key(&id) {
            return Ok(false);
        }
        let mut b = Batch::new();
        b.remove(Tree::Webhooks, subscription_key(id));
        // Events keep their other subscriptions' rows.
        let mut rows_per_event: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        let mut dropped = Vec::new();
        for e in self.store.scan(Tree::Deliveries) {
            let (k, _) = e?;
            let Some((event, sub)) = parse_delivery_key(&k) else {
                continue;
            };
            let c = rows_per_event.entry(event).or_default();
            c.0 += 1;
            if sub == id {
                c.1 += 1;
                b.remove(Tree::Deliveries, k);
                dropped.push(event);
            }
        }
        for (event, (all, mine)) in rows_per_event {
            if mine > 0 && all == mine {
                b.remove(Tree::Outbox, event_key(event));
            }
        }
        self.store.commit(b)?;
        self.store.flush()?;
        inner.subs.remove(&id);
        for event in dropped {
            inner.unschedule(event, id);
        }
        Ok(true)
    }

    /// Stores an event of `kind` for every subscription listening to it,
    /// with one pending row each, in one batch, durable (flushed) before
    /// the rows are due. `None`, and nothing written, when no one listens.
    pub fn enqueue(&self, kind: EventKind, data: serde_json::Value, now_ms: u64) -> Result<Option<Event>, IndexError> {
        let mut inner = self.lock();
        let to: Vec<u64> = inner.subs.values().filter(|s| s.listens(kind)).map(|s| s.id).collect();
        self.enqueue_locked(&mut inner, kind, data, &to, now_ms)
    }

    /// Stores an event for subscription `sub` only (whatever it listens
    /// to: how `ping` is sent); `None` when there is no such subscription.
    pub fn enqueue_to(
        &self,
        sub: u64,
        kind: EventKind,
        data: serde_json::Value,
        now_ms: u64,
    ) -> Result<Option<Event>, IndexError> {
        let mut inner = self.lock();
        if !inner.subs.contains_key(&sub) {
            return Ok(None);
        }
        self.enqueue_locked(&mut inner, kind, data, &[sub], now_ms)
    }

    fn enqueue_locked(
        &self,
        inner: &mut Inner,
        kind: EventKind,
        data: serde_json::Value,
        to: &[u64],
        now_ms: u64,
    ) -> Result<Option<Event>, IndexError> {
        if to.is_empty() {
            return Ok(None);
        }
        let id = inner.next_event;
        let event = Event {
            id,
            kind,
            created_unix: now_ms / 1000,
            data,
        };
        let mut b = Batch::new();
        b.put(Tree::Meta, META_NEXT_EVENT_ID, (id + 1).to_be_bytes());
        b.put(Tree::Outbox, event_key(id), event.encode());
        for &sub in to {
            b.put(
                Tree::Deliveries,
                delivery_key(id, sub),
                Delivery::new(id, sub, now_ms).encode(),
            );
        }
        self.store.commit(b)?;
        // Durable before any worker can see it: an event sent and then
        // lost to a kill would free its id for another event, which a
        // receiver dropping repeats by id would never see.
        self.store.flush()?;
        inner.next_event = id + 1;
        for &sub in to {
            inner.schedule(id, sub, now_ms);
        }
        Ok(Some(event))
    }

    /// Pending rows due at `now_ms`, earliest first, at most `limit`, each
    /// with its event and subscription. A row whose event cannot be read
    /// is given up with the reason, so it never blocks the queue.
    pub fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<Due>, IndexError> {
        let keys = self.due_where(now_ms, limit, |_, _| true);
        let mut out = Vec::with_capacity(keys.len());
        for (event, sub) in keys {
            out.extend(self.load(event, sub)?);
        }
        Ok(out)
    }

    /// The (event, subscription) keys of pending rows due at `now_ms` that
    /// `keep` accepts, earliest first, at most `limit`: how the delivery
    /// workers pass over rows already being sent, or of a receiver that
    /// has its fill of them. In memory only.
    pub fn due_where(&self, now_ms: u64, limit: usize, mut keep: impl FnMut(u64, u64) -> bool) -> Vec<(u64, u64)> {
        self.lock()
            .queue
            .iter()
            .take_while(|(at, _, _)| *at <= now_ms)
            .filter(|(_, e, s)| keep(*e, *s))
            .take(limit)
            .map(|(_, e, s)| (*e, *s))
            .collect()
    }

    /// A pending row with its event and subscription; `None` when it is no
    /// longer pending (delivered, removed). A row whose event cannot be
    /// read is given up with the reason, and `None` returned.
    pub fn load(&self, event_id: u64, sub_id: u64) -> Result<Option<Due>, IndexError> {
        let mut inner = self.lock();
        if !inner.pending.contains_key(&(event_id, sub_id)) {
            return Ok(None);
        }
        let Some(subscription) = inner.subs.get(&sub_id).cloned() else {
            inner.unschedule(event_id, sub_id);
            return Ok(None);
        };
        let Some(row) = self.store.get(Tree::Deliveries, &delivery_key(event_id, sub_id))? else {
            inner.unschedule(event_id, sub_id);
            return Ok(None);
        };
        let delivery = Delivery::decode(&row)?;
        let event = match self.store.get(Tree::Outbox, &event_key(event_id))? {
            Some(v) => Event::decode(&v),
            None => Err(SchemaError::Corrupt {
                what: "webhook event",
                why: "missing from the outbox".into(),
            }),
        };
        match event {
            Ok(event) => Ok(Some(Due {
                delivery,
                event,
                subscription,
            })),
            Err(e) => {
                let mut d = delivery;
                d.gave_up = true;
                d.last_error = Some(cut(&format!("cannot be sent: {e}"), MAX_ERROR_CHARS));
                let mut b = Batch::new();
                b.put(Tree::Deliveries, d.key(), d.encode());
                self.store.commit(b)?;
                inner.unschedule(event_id, sub_id);
                Ok(None)
            }
        }
    }

    /// When the earliest pending row is due (ms), if any is pending.
    pub fn next_due(&self) -> Option<u64> {
        self.lock().queue.first().map(|(at, _, _)| *at)
    }

    /// Pending rows.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Pending rows of subscription `sub`.
    pub fn pending_for(&self, sub: u64) -> usize {
        self.lock().pending.keys().filter(|(_, s)| *s == sub).count()
    }

    /// Stores one attempt on its row (one write: delivered, due again, or
    /// given up). `None` when the row is gone (its subscription removed
    /// meanwhile) or already final.
    pub fn record_attempt(&self, event_id: u64, sub_id: u64, a: Attempt) -> Result<Option<Delivery>, IndexError> {
        let mut inner = self.lock();
        let key = delivery_key(event_id, sub_id);
        let Some(row) = self.store.get(Tree::Deliveries, &key)? else {
            inner.unschedule(event_id, sub_id);
            return Ok(None);
        };
        let mut d = Delivery::decode(&row)?;
        if !d.is_pending() {
            inner.unschedule(event_id, sub_id);
            return Ok(None);
        }
        d.attempts = d.attempts.saturating_add(1);
        d.last_attempt_unix_ms = Some(a.at_ms);
        d.last_status = a.status;
        d.last_error = a.error.map(|e| cut(&e, MAX_ERROR_CHARS));
        match a.next {
            Next::Delivered => d.delivered_unix = Some(a.at_ms / 1000),
            Next::RetryAt(at) => d.next_attempt_unix_ms = at,
            Next::GiveUp => d.gave_up = true,
        }
        let mut b = Batch::new();
        b.put(Tree::Deliveries, key, d.encode());
        self.store.commit(b)?;
        match a.next {
            Next::RetryAt(at) => inner.schedule(event_id, sub_id, at),
            _ => inner.unschedule(event_id, sub_id),
        }
        Ok(Some(d))
    }

    /// Makes every pending row of subscription `sub` due at `now_ms` at
    /// the latest (its receiver answered again: no need to wait out the
    /// backoff of the rows that failed while it was away). In memory: the
    /// stored due times still hold after a restart.
    pub fn expedite(&self, sub: u64, now_ms: u64) -> usize {
        let mut inner = self.lock();
        let late: Vec<(u64, u64)> = inner
            .pending
            .iter()
            .filter(|((_, s), at)| *s == sub && **at > now_ms)
            .map(|(k, _)| *k)
            .collect();
        for (event, s) in &late {
            inner.schedule(*event, *s, now_ms);
        }
        late.len()
    }

    /// The delivery log of subscription `sub`: its rows for events after
    /// `after` (an event id), oldest first, at most `limit`.
    pub fn deliveries(&self, sub: u64, after: u64, limit: usize) -> Result<Vec<Delivery>, IndexError> {
        let mut out = Vec::new();
        for e in self.store.scan(Tree::Deliveries) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = e?;
            match parse_delivery_key(&k) {
                Some((event, s)) if s == sub && event > after => out.push(Delivery::decode(&v)?),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Removes finished events (every row delivered or given up, or no row
    /// left) beyond the newest `keep` or created before `older_than_unix`,
    /// each with its rows in the same batch. Events with a pending row are
    /// never pruned. Returns how many went.
    pub fn prune(&self, keep: usize, older_than_unix: u64) -> Result<usize, IndexError> {
        let inner = self.lock();
        let mut busy: HashSet<u64> = inner.pending.keys().map(|(e, _)| *e).collect();
        let mut events: Vec<(u64, u64)> = Vec::new(); // (id, created)
        for e in self.store.scan(Tree::Outbox) {
            let (k, v) = e?;
            let Some(id) = parse_id_key(&k) else { continue };
            // An unreadable event cannot be sent; it goes as old.
            let created = Event::decode(&v).map(|e| e.created_unix).unwrap_or(0);
            events.push((id, created));
        }
        let newest_kept: HashSet<u64> = events.iter().rev().take(keep).map(|(id, _)| *id).collect();
        let mut doomed: HashSet<u64> = events
            .iter()
            .filter(|(id, created)| !busy.contains(id) && (!newest_kept.contains(id) || *created < older_than_unix))
            .map(|(id, _)| *id)
            .collect();
        // Rows whose event is gone (a damaged store) go too.
        let known: HashSet<u64> = events.iter().map(|(id, _)| *id).collect();
        let mut rows: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
        for e in self.store.scan(Tree::Deliveries) {
            let (k, _) = e?;
            let Some((event, _)) = parse_delivery_key(&k) else {
                continue;
            };
            if !known.contains(&event) {
                busy.remove(&event);
                doomed.insert(event);
            }
            if doomed.contains(&event) {
                rows.entry(event).or_default().push(k);
            }
        }
        let mut ids: Vec<u64> = doomed.into_iter().collect();
        ids.sort_unstable();
        // Batches of whole events: any prefix of them that a kill leaves
        // is consistent.
        for chunk in ids.chunks(500) {
            let mut b = Batch::new();
            for id in chunk {
                b.remove(Tree::Outbox, event_key(*id));
                for k in rows.remove(id).unwrap_or_default() {
                    b.remove(Tree::Deliveries, k);
                }
            }
            self.store.commit(b)?;
        }
        Ok(ids.len())
    }

    /// A stored event.
    pub fn event(&self, id: u64) -> Result<Option<Event>, IndexError> {
        match self.store.get(Tree::Outbox, &event_key(id))? {
            Some(v) => Ok(Some(Event::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Makes every committed change durable.
    pub fn flush(&self) -> Result<(), IndexError> {
        Ok(self.store.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;
    use serde_json::json;

    fn sub(url: &str, events: &[EventKind]) -> NewSubscription {
        NewSubscription {
            url: url.into(),
            events: events.to_vec(),
            secret: "s3cret-s3cret-s3cret".into(),
            created_unix: 100,
            description: None,
        }
    }

    fn delivered(at: u64) -> Attempt {
        Attempt {
            at_ms: at,
            status: Some(200),
            error: None,
            next: Next::Delivered,
        }
    }

    fn failed(at: u64, next: Next) -> Attempt {
        Attempt {
            at_ms: at,
            status: Some(500),
            error: Some("answered 500".into()),
            next,
        }
    }

    #[test]
    fn subscriptions_survive_a_reopen_and_ids_are_not_reused() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store.clone()).unwrap();
        let a = w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap().unwrap();
        let b = w
            .add(
                sub(
                    "http://b/",
                    &[EventKind::MonitorUp, EventKind::PlayDetected, EventKind::MonitorUp],
                ),
                10,
            )
            .unwrap()
            .unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert_eq!(
            b.events,
            [EventKind::PlayDetected, EventKind::MonitorUp],
            "sorted, no repeats"
        );
        assert!(
            w.add(sub("http://c/", &[EventKind::TrackReady]), 2).unwrap().is_none(),
            "at the cap"
        );
        assert!(w.remove(2).unwrap());
        assert!(!w.remove(2).unwrap());
        let again = WebhookStore::open(store).unwrap();
        assert_eq!(again.list().iter().map(|s| s.id).collect::<Vec<_>>(), [1]);
        assert_eq!(again.get(1).unwrap().url, "http://a/");
        assert_eq!(
            again
                .add(sub("http://d/", &[EventKind::TrackReady]), 10)
                .unwrap()
                .unwrap()
                .id,
            3,
            "the removed id is not handed out again"
        );
    }

    #[test]
    fn an_event_lands_with_one_row_per_listener_or_not_at_all() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store.clone()).unwrap();
        assert!(w.enqueue(EventKind::TrackReady, json!({}), 0).unwrap().is_none());
        assert_eq!(store.len(Tree::Outbox).unwrap(), 0, "no subscriber: nothing stored");
        w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap();
        w.add(sub("http://b/", &[EventKind::TrackReady, EventKind::TrackFailed]), 10)
            .unwrap();
        w.add(sub("http://c/", &[EventKind::MonitorDown]), 10).unwrap();
        assert!(w.has_listeners(EventKind::TrackFailed) && !w.has_listeners(EventKind::PlayDetected));
        let e = w
            .enqueue(EventKind::TrackReady, json!({"track_id": 4}), 1_000)
            .unwrap()
            .unwrap();
        assert_eq!((e.id, e.created_unix), (1, 1));
        assert_eq!(store.len(Tree::Deliveries).unwrap(), 2);
        let f = w.enqueue(EventKind::TrackFailed, json!({}), 1_000).unwrap().unwrap();
        assert_eq!(f.id, 2);
        assert_eq!(w.pending(), 3);
        // Ping goes to one subscription, whatever it listens to.
        let p = w.enqueue_to(3, EventKind::Ping, json!({}), 1_000).unwrap().unwrap();
        assert_eq!(p.id, 3);
        assert!(w.enqueue_to(9, EventKind::Ping, json!({}), 1_000).unwrap().is_none());
        assert!(
            w.enqueue(EventKind::Ping, json!({}), 1_000).unwrap().is_none(),
            "nobody subscribes to ping"
        );

        let due = w.due(1_000, 100).unwrap();
        let got: Vec<(u64, u64)> = due.iter().map(|d| (d.event.id, d.subscription.id)).collect();
        assert_eq!(got, [(1, 1), (1, 2), (2, 2), (3, 3)]);
        assert_eq!(due[0].event.data, json!({"track_id": 4}));
        assert!(w.due(999, 100).unwrap().is_empty(), "not due yet");
        assert_eq!(w.due(1_000, 2).unwrap().len(), 2, "limit");
        assert_eq!(w.due_where(1_000, 10, |_, s| s != 2), [(1, 1), (3, 3)]);
        assert_eq!(w.pending_for(2), 2);
        assert!(w.load(1, 3).unwrap().is_none(), "no such row");

        // Restart: pending rows resume, the event counter goes on.
        let again = WebhookStore::open(store).unwrap();
        assert_eq!(again.pending(), 4);
        assert_eq!(again.next_due(), Some(1_000));
        assert_eq!(
            again
                .enqueue(EventKind::TrackReady, json!({}), 2_000)
                .unwrap()
                .unwrap()
                .id,
            4
        );
    }

    #[test]
    fn attempts_retry_deliver_or_give_up() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store.clone()).unwrap();
        w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap();
        w.add(sub("http://b/", &[EventKind::TrackReady]), 10).unwrap();
        w.enqueue(EventKind::TrackReady, json!({}), 0).unwrap();
        let d = w
            .record_attempt(1, 1, failed(10, Next::RetryAt(5_000)))
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.attempts, d.last_status, d.next_attempt_unix_ms),
            (1, Some(500), 5_000)
        );
        assert_eq!(d.last_error.as_deref(), Some("answered 500"));
        assert_eq!(w.due(4_999, 10).unwrap().len(), 1, "only b's row is due");
        assert_eq!(w.next_due(), Some(0));
        let d = w.record_attempt(1, 1, delivered(5_100)).unwrap().unwrap();
        assert_eq!((d.attempts, d.delivered_unix, d.state()), (2, Some(5), "delivered"));
        assert!(
            w.record_attempt(1, 1, delivered(5_200)).unwrap().is_none(),
            "final rows stay final"
        );
        let long = "x".repeat(5_000);
        let d = w
            .record_attempt(
                1,
                2,
                Attempt {
                    at_ms: 6_000,
                    status: None,
                    error: Some(long),
                    next: Next::GiveUp,
                },
            )
            .unwrap()
            .unwrap();
        assert!(d.gave_up && d.last_error.as_ref().unwrap().chars().count() == MAX_ERROR_CHARS);
        assert_eq!(w.pending(), 0);
        assert!(w.record_attempt(9, 9, delivered(0)).unwrap().is_none(), "unknown row");

        let log = w.deliveries(1, 0, 10).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].state(), "delivered");
        // A restart sees the final states: nothing pending.
        assert_eq!(WebhookStore::open(store).unwrap().pending(), 0);
    }

    #[test]
    fn expedite_pulls_a_subscription_forward_and_removal_drops_its_rows() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store.clone()).unwrap();
        w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap();
        w.add(sub("http://b/", &[EventKind::TrackReady, EventKind::MonitorUp]), 10)
            .unwrap();
        for _ in 0..3 {
            w.enqueue(EventKind::TrackReady, json!({}), 0).unwrap();
        }
        w.enqueue(EventKind::MonitorUp, json!({}), 0).unwrap();
        for e in 1..=3 {
            w.record_attempt(e, 1, failed(0, Next::RetryAt(60_000))).unwrap();
            w.record_attempt(e, 2, failed(0, Next::RetryAt(60_000))).unwrap();
        }
        w.record_attempt(4, 2, delivered(0)).unwrap();
        assert!(w.due(1_000, 10).unwrap().is_empty());
        assert_eq!(w.expedite(1, 1_000), 3);
        let due = w.due(1_000, 10).unwrap();
        assert!(due.len() == 3 && due.iter().all(|d| d.subscription.id == 1));

        // Removing b drops its rows and the event only it had (4).
        assert!(w.remove(2).unwrap());
        assert_eq!(store.len(Tree::Deliveries).unwrap(), 3);
        assert!(store.get(Tree::Outbox, &event_key(4)).unwrap().is_none());
        assert!(store.get(Tree::Outbox, &event_key(1)).unwrap().is_some());
        assert_eq!(w.pending(), 3);
        assert!(w.deliveries(2, 0, 10).unwrap().is_empty());
    }

    #[test]
    fn the_log_pages_by_event_id() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store).unwrap();
        w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap();
        w.add(sub("http://b/", &[EventKind::TrackReady]), 10).unwrap();
        for _ in 0..5 {
            w.enqueue(EventKind::TrackReady, json!({}), 0).unwrap();
        }
        let page = w.deliveries(2, 0, 2).unwrap();
        assert_eq!(page.iter().map(|d| d.event_id).collect::<Vec<_>>(), [1, 2]);
        let page = w.deliveries(2, 2, 2).unwrap();
        assert_eq!(page.iter().map(|d| d.event_id).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(w.deliveries(2, 4, 2).unwrap().len(), 1);
        assert!(w.deliveries(2, 5, 2).unwrap().is_empty());
        assert!(w.deliveries(2, u64::MAX, 2).unwrap().is_empty());
    }

    #[test]
    fn pruning_keeps_pending_events_and_the_newest_finished_ones() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store.clone()).unwrap();
        w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap();
        for i in 0..10u64 {
            w.enqueue(EventKind::TrackReady, json!({}), i * 1_000_000).unwrap();
        }
        // 1..=8 delivered; 9 and 10 pending.
        for e in 1..=8 {
            w.record_attempt(e, 1, delivered(0)).unwrap();
        }
        assert_eq!(w.prune(5, 0).unwrap(), 5, "events 1-5 are beyond the newest 5");
        assert_eq!(store.len(Tree::Outbox).unwrap(), 5);
        assert_eq!(store.len(Tree::Deliveries).unwrap(), 5);
        // Age: events created before second 7000 go (6 and 7), pending ones stay.
        assert_eq!(w.prune(100, 7_000).unwrap(), 2);
        let left: Vec<u64> = w.deliveries(1, 0, 100).unwrap().iter().map(|d| d.event_id).collect();
        assert_eq!(left, [8, 9, 10]);
        assert_eq!(w.prune(0, u64::MAX).unwrap(), 1, "only 8 is final");
        assert_eq!(w.pending(), 2);
        // A pruned id is still never reused.
        let again = WebhookStore::open(store).unwrap();
        assert_eq!(
            again.enqueue(EventKind::TrackReady, json!({}), 0).unwrap().unwrap().id,
            11
        );
    }

    #[test]
    fn damaged_rows_are_refused_at_open_and_a_lost_event_is_given_up() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let mut b = Batch::new();
        b.put(Tree::Webhooks, subscription_key(1), b"{not json".to_vec());
        store.commit(b).unwrap();
        assert!(matches!(WebhookStore::open(store.clone()), Err(IndexError::Corrupt(_))));

        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let mut b = Batch::new();
        b.put(Tree::Meta, META_NEXT_EVENT_ID, b"abc".to_vec());
        store.commit(b).unwrap();
        assert!(matches!(WebhookStore::open(store.clone()), Err(IndexError::Corrupt(_))));

        // An event whose body is damaged: its row is given up, not stuck.
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let w = WebhookStore::open(store.clone()).unwrap();
        w.add(sub("http://a/", &[EventKind::TrackReady]), 10).unwrap();
        w.enqueue(EventKind::TrackReady, json!({}), 0).unwrap();
        w.enqueue(EventKind::TrackReady, json!({}), 0).unwrap();
        let mut b = Batch::new();
        b.put(Tree::Outbox, event_key(1), b"\xff".to_vec());
        store.commit(b).unwrap();
        let due = w.due(0, 10).unwrap();
        assert_eq!(due.iter().map(|d| d.event.id).collect::<Vec<_>>(), [2]);
        let log = w.deliveries(1, 0, 10).unwrap();
        assert!(log[0].gave_up && log[0].last_error.as_ref().unwrap().contains("cannot be sent"));
        // A row without its event is pruned with no harm to the rest.
        let mut b = Batch::new();
        b.remove(Tree::Outbox, event_key(1));
        store.commit(b).unwrap();
        let again = WebhookStore::open(store.clone()).unwrap();
        assert_eq!(again.pending(), 1);
        assert_eq!(again.prune(100, 0).unwrap(), 1);
        assert_eq!(store.len(Tree::Deliveries).unwrap(), 1);
    }
}

//! The service's live monitors: one thread per registered stream, running
//! [`run_live`] on the shared index, storing every play and gap in the
//! monitor's log, keeping each one's state for `GET /monitors`, and
//! telling listeners (the live feed, webhooks) as things happen. Monitors
//! are stored, so a restart starts them all again; the time the server was
//! down becomes a gap in each log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use serde_json::{json, Value};
use sonica_index::{FingerprintIndex, IndexError, MonitorStore};
use sonica_schema::monitor::{LogEntry, LogKind, MonitorRecord};

use crate::monitor::live::{now_ms, run_live, LiveSink};
use crate::monitor::{MonitorParams, Play};
use crate::net::NetPolicy;
use crate::Identifier;

/// How often the time heard is written to a monitor's record (it bounds
/// the gap a restart records too short by).
const HEARD_WRITE_MS: u64 = 30_000;

/// Something that happened on a monitor, for the live feed and webhooks.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub monitor: u64,
    /// `play.started`, `play.ended`, `gap`, `monitor.up` or `monitor.down`.
    pub kind: &'static str,
    pub data: Value,
}

/// Where notices go besides the feed (webhooks).
pub type Notify = Arc<dyn Fn(&Notice) + Send + Sync>;

/// A monitor's state as the API shows it.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct MonitorStatus {
    /// `connecting`, `up` or `down`.
    pub state: &'static str,
    /// Why it is down (or last went down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix ms of the last change of state.
    pub since_ms: u64,
    /// Unix ms up to which audio has been received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard_until_ms: Option<u64>,
    /// How far the audio received trails the clock, in seconds.
    pub lag_s: f64,
    /// The play in progress (its end is provisional).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub now_playing: Option<Value>,
    /// Plays logged since the server started.
    pub plays_logged: u64,
    /// Seconds from a play's start to its confirmation, for the latest play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection_delay_s: Option<f64>,
}

struct Running {
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<MonitorStatus>>,
    thread: Option<JoinHandle<()>>,
}

/// Every running monitor.
pub struct Monitors {
    store: Arc<MonitorStore>,
    index: Arc<FingerprintIndex>,
    policy: NetPolicy,
    max: usize,
    running: Mutex<HashMap<u64, Running>>,
    feed: tokio::sync::broadcast::Sender<Notice>,
    notify: Mutex<Option<Notify>>,
}

/// Why a monitor cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("at most {0} monitors may be registered (max_monitors)")]
    Limit(usize),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl Monitors {
    pub fn new(store: Arc<MonitorStore>, index: Arc<FingerprintIndex>, policy: NetPolicy, max: usize) -> Monitors {
        Monitors {
            store,
            index,
            policy,
            max,
            running: Mutex::new(HashMap::new()),
            feed: tokio::sync::broadcast::channel(1024).0,
            notify: Mutex::new(None),
        }
    }

    /// Sends notices to `notify` too (webhooks).
    pub fn set_notify(&self, notify: Notify) {
        *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
    }

    pub fn policy(&self) -> &NetPolicy {
        &self.policy
    }

    pub fn store(&self) -> &MonitorStore {
        &self.store
    }

    /// Starts every stored monitor.
    pub fn start_all(self: &Arc<Self>) -> Result<usize, IndexError> {
        let all = self.store.list()?;
        for r in &all {
            self.start(r.clone());
        }
        Ok(all.len())
    }

    /// Registers and starts a monitor of an already checked URL.
    pub fn add(self: &Arc<Self>, url: &url::Url, name: Option<String>) -> Result<MonitorRecord, AddError> {
        if self.store.list()?.len() >= self.max {
            return Err(AddError::Limit(self.max));
        }
        let r = self.store.add(url.as_str(), name, now_ms() / 1000)?;
        self.start(r.clone());
        Ok(r)
    }

    /// Stops and removes a monitor and its log; false when there was none.
    pub fn remove(&self, id: u64) -> Result<bool, IndexError> {
        if let Some(r) = self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
            r.stop.store(true, Ordering::SeqCst);
            // Not joined: a read blocked on a silent stream ends by its
            // timeout, and the thread then finds itself stopped.
        }
        self.store.remove(id)
    }

    /// The state of monitor `id`, when it runs.
    pub fn status(&self, id: u64) -> Option<MonitorStatus> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running
            .get(&id)
            .map(|r| r.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// A receiver of every notice from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.feed.subscribe()
    }

    /// Stops every monitor (at shutdown), waiting a little for each.
    pub fn shutdown(&self) {
        let all: Vec<Running> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, r)| r)
            .collect();
        for r in &all {
            r.stop.store(true, Ordering::SeqCst);
        }
        for mut r in all {
            if let Some(t) = r.thread.take() {
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
    }

    fn start(self: &Arc<Self>, r: MonitorRecord) {
        let Ok(url) = url::Url::parse(&r.url) else {
            tracing::error!(monitor = r.id, "stored monitor URL does not parse; not started");
            return;
        };
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(MonitorStatus {
            state: "connecting",
            since_ms: now_ms(),
            ..MonitorStatus::default()
        }));
        let sink = StoreSink {
            id: r.id,
            monitors: self.clone(),
            status: status.clone(),
            heard_written: Mutex::new(0),
            is_up: AtomicBool::new(false),
        };
        let (me, stop2) = (self.clone(), stop.clone());
        let heard = r.heard_until_ms;
        let thread = std::thread::Builder::new()
            .name(format!("monitor-{}", r.id))
            .spawn(move || {
                let ident = Identifier::new(&me.index);
                let params = MonitorParams {
                    jobs: 1,
                    ..MonitorParams::default()
                };
                run_live(&ident, &params, &url, &me.policy, &stop2, heard, &sink);
            });
        match thread {
            Ok(t) => {
                let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
                running.insert(
                    r.id,
                    Running {
                        stop,
                        status,
                        thread: Some(t),
                    },
                );
            }
            Err(e) => tracing::error!(monitor = r.id, error = %e, "cannot start a monitor thread"),
        }
    }

    fn tell(&self, n: Notice) {
        let notify = self.notify.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(f) = notify {
            f(&n);
        }
        let _ = self.feed.send(n);
    }
}

/// A play as logs and notices show it: Unix ms.
pub fn play_entry(p: &Play) -> LogEntry {
    LogEntry {
        kind: LogKind::Play,
        start_ms: (p.start_s * 1000.0).max(0.0) as u64,
        end_ms: (p.end_s * 1000.0).max(0.0) as u64,
        track: Some(p.track),
        title: Some(p.title.clone()),
        artist: p.artist.clone(),
        offset_in_track_s: Some(p.offset_in_track_s),
        confidence: Some(p.confidence),
        speed: Some(p.speed),
        reason: None,
    }
}

/// What one monitor's scan reports, stored and passed on.
struct StoreSink {
    id: u64,
    monitors: Arc<Monitors>,
    status: Arc<Mutex<MonitorStatus>>,
    heard_written: Mutex<u64>,
    is_up: AtomicBool,
}

impl StoreSink {
    fn with_status(&self, f: impl FnOnce(&mut MonitorStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn log(&self, e: &LogEntry) {
        if let Err(err) = self.monitors.store.append(self.id, e) {
            tracing::error!(monitor = self.id, error = %err, "cannot store a play log entry");
        }
    }

    fn tell(&self, kind: &'static str, data: Value) {
        self.monitors.tell(Notice {
            monitor: self.id,
            kind,
            data,
        });
    }
}

impl LiveSink for StoreSink {
    fn up(&self) {
        self.with_status(|s| {
            s.state = "up";
            s.since_ms = now_ms();
        });
        if !self.is_up.swap(true, Ordering::SeqCst) {
            tracing::info!(monitor = self.id, "monitor up");
            self.tell("monitor.up", json!({"monitor": self.id}));
        }
    }

    fn down(&self, reason: &str) {
        self.with_status(|s| {
            s.state = "down";
            s.last_error = Some(reason.to_string());
            s.since_ms = now_ms();
            s.now_playing = None;
        });
        if self.is_up.swap(false, Ordering::SeqCst) {
            tracing::warn!(monitor = self.id, reason, "monitor down");
            self.tell("monitor.down", json!({"monitor": self.id, "reason": reason}));
        }
    }

    fn started(&self, p: &Play) {
        let e = play_entry(p);
        let delay = (now_ms() as f64 - e.start_ms as f64) / 1000.0;
        let data = json!({"monitor": self.id, "play": e});
        self.with_status(|s| {
            s.now_playing = Some(data["play"].clone());
            s.detection_delay_s = Some(delay);
        });
        self.tell("play.started", data);
    }

    fn ended(&self, p: &Play) {
        let e = play_entry(p);
        self.log(&e);
        self.with_status(|s| {
            s.plays_logged += 1;
            if s.now_playing.as_ref().and_then(|v| v["start_ms"].as_u64()) == Some(e.start_ms) {
                s.now_playing = None;
            }
        });
        self.tell("play.ended", json!({"monitor": self.id, "play": e}));
    }

    fn gap(&self, from_ms: u64, to_ms: u64, reason: &str) {
        let e = LogEntry {
            kind: LogKind::Gap,
            start_ms: from_ms,
            end_ms: to_ms,
            track: None,
            title: None,
            artist: None,
            offset_in_track_s: None,
            confidence: None,
            speed: None,
            reason: Some(reason.chars().take(300).collect()),
        };
        self.log(&e);
        self.tell("gap", json!({"monitor": self.id, "gap": e}));
    }

    fn heard(&self, until_ms: u64, lag_s: f64) {
        self.with_status(|s| {
            s.heard_until_ms = Some(until_ms);
            s.lag_s = lag_s;
        });
        let mut written = self.heard_written.lock().unwrap_or_else(|p| p.into_inner());
        if until_ms >= *written + HEARD_WRITE_MS {
            *written = until_ms;
            if let Err(e) = self.monitors.store.heard(self.id, until_ms) {
                tracing::error!(monitor = self.id, error = %e, "cannot store the time heard");
            }
        }
    }
}

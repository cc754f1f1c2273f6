//! `sonica serve`: the HTTP and WebSocket service over the library.
//!
//! One process owns the store (sled locks it). Requests run on actix's
//! workers and push anything slow (decode, fingerprint, store reads) onto
//! the blocking pool; uploads become durable jobs run by a bounded pool of
//! worker threads; the songs folder is watched by a thread of its own.
//! Shutdown (SIGINT/SIGTERM) stops accepting, lets requests and running
//! jobs finish, and leaves unstarted jobs queued in the store.

pub(crate) mod admission;
pub(crate) mod analysis_pass;
pub(crate) mod auth;
pub(crate) mod cluster_queue;
pub mod config;
pub(crate) mod drum_section;
pub(crate) mod error;
pub(crate) mod holdback;
pub(crate) mod jobs;
pub mod keys;
pub(crate) mod metrics;
pub(crate) mod monitors;
pub(crate) mod openapi;
pub(crate) mod policy;
pub mod range;
pub(crate) mod recognition;
pub(crate) mod routes;
pub(crate) mod saver;
pub(crate) mod scheduler;
pub(crate) mod state;
pub mod stream;
pub mod tiers;
pub mod upload;
pub(crate) mod watcher;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};

use crate::library::{Library, OpenOptions};
use crate::SonicaError;
use cluster_queue::ClusterJobs;
use config::Config;
use jobs::JobPool;
use metrics::Metrics;
use saver::VectorSaver;
use scheduler::{RetryPolicy, Scheduler};
use state::{AppState, INCOMING_DIR};
use watcher::FolderWatcher;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the library: {0}")]
    Library(#[from] SonicaError),
    #[error("cannot prepare folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot watch the songs folder: {0}")]
    Watch(String),
    #[error("cannot start the job workers: {0}")]
    Workers(std::io::Error),
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::WebhooksError),
    #[error("server error: {0}")]
    Server(std::io::Error),
}

/// Leftovers in a songs folder shared by cluster nodes are cleared only
/// once this old: a younger one may be another node's upload in progress.
const SHARED_LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

fn prepare_dir(p: &Path, clear_prefix: Option<&str>) -> Result<PathBuf, ServeError> {
    prepare_dir_aged(p, clear_prefix, std::time::Duration::ZERO)
}

/// [`prepare_dir`], clearing only leftovers at least `min_age` old.
fn prepare_dir_aged(p: &Path, clear_prefix: Option<&str>, min_age: std::time::Duration) -> Result<PathBuf, ServeError> {
    let folder = |source| ServeError::Folder {
        path: p.display().to_string(),
        source,
    };
    std::fs::create_dir_all(p).map_err(folder)?;
    if let Some(prefix) = clear_prefix {
        // Leftovers of uploads cut off by a kill: never complete, never kept.
        for e in std::fs::read_dir(p).map_err(folder)?.flatten() {
            let old_enough = min_age.is_zero()
                || e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= min_age);
            if e.file_name().to_string_lossy().starts_with(prefix) && old_enough {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    p.canonicalize().map_err(folder)
}

/// Runs the service until it is told to stop.
pub fn serve(config: Config) -> Result<(), ServeError> {
    let data_dir = prepare_dir(&config.data_dir, None)?;
    let tmp_dir = prepare_dir(&data_dir.join("tmp"), Some("."))?;
    let songs_dir = prepare_dir(&config.songs_dir, None)?;
    let leftover_age = match config.cluster {
        Some(_) => SHARED_LEFTOVER_AGE,
        None => std::time::Duration::ZERO,
    };
    let incoming_dir = prepare_dir_aged(&songs_dir.join(INCOMING_DIR), Some(".upload-"), leftover_age)?;

    // A quarter of the cache budget to sled's pages, the rest to parsed
    // compacted blocks, which are what recognition reads.
    let cache = config.cache_mb * 1024 * 1024;
    let library = Library::open(
        &data_dir,
        &OpenOptions {
            page_cache_bytes: Some(cache / 4),
            block_cache_bytes: (cache - cache / 4) as usize,
            search_indexes: true,
            upgrade: false,
            cluster: config.cluster.clone(),
        },
    )?;
    let index = library.shared_index().clone();
    let scheduler = Arc::new(Scheduler::default());
    let metrics = Arc::new(Metrics::new());
    let retry = RetryPolicy {
        attempts: config.job_attempts,
        backoff: Duration::from_millis(config.job_backoff_ms),
    };
    // On a cluster the other nodes may be running the jobs in the store:
    // the cluster's queue (and its reclaim of a dead node's jobs) stands
    // in for the restart recovery.
    let (cluster_jobs, recovered) = match library.job_queue() {
        Some(queue) => {
            let c = ClusterJobs::new(
                queue.clone(),
                scheduler.clone(),
                index.clone(),
                config.job_workers,
                retry,
            )
            .map_err(SonicaError::from)?;
            (Some(Arc::new(c)), 0)
        }
        None => (
            None,
            jobs::recover(&index, &scheduler, config.job_attempts).map_err(SonicaError::from)?,
        ),
    };
    let music = library.music().expect("opened with the search indexes").clone();
    let stored_keys = Arc::new(sonica_index::KeyStore::open(index.store().clone()).map_err(SonicaError::from)?);
    let monitor_store = Arc::new(sonica_index::MonitorStore::open(index.store().clone()).map_err(SonicaError::from)?);
    let monitors = Arc::new(monitors::Monitors::new(
        monitor_store,
        index.clone(),
        config.net.clone(),
        config.max_monitors,
    ));
    let webhooks = Arc::new(crate::webhooks::Webhooks::start(
        index.store().clone(),
        webhook_options(&config),
    )?);
    {
        // A monitor's notices that are webhook events go out as such.
        let hooks = webhooks.clone();
        monitors.set_notify(Arc::new(move |n: &monitors::Notice| {
            if let Some(kind) = webhook_kind(n.kind) {
                hooks.emit(kind, n.data.clone());
            }
        }));
    }
    let state = Arc::new(AppState {
        guard: auth::Guard::new(&config, stored_keys, index.store().clone()),
        config: config.clone(),
        index: index.clone(),
        music: music.clone(),
        mastering: library.mastering().clone(),
        scheduler: scheduler.clone(),
        cluster_jobs: cluster_jobs.clone(),
        metrics: metrics.clone(),
        songs_dir: songs_dir.clone(),
        incoming_dir,
        tmp_dir,
        claims: Mutex::new(Default::default()),
        recognizers: tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        watch: Default::default(),
        monitors: monitors.clone(),
        webhooks: webhooks.clone(),
    });
    tracing::info!(
        tracks = index.len(),
        recovered_jobs = recovered,
        data_dir = %data_dir.display(),
        songs_dir = %songs_dir.display(),
        "library open"
    );

    let pool = JobPool::start(
        config.job_workers,
        index.clone(),
        jobs::Feed {
            scheduler,
            cluster: cluster_jobs.clone(),
        },
        retry,
        config.on_duplicate,
        metrics.clone(),
        webhooks.clone(),
    )
    .map_err(ServeError::Workers)?;
    let puller = match &cluster_jobs {
        Some(c) => Some(c.start().map_err(ServeError::Workers)?),
        None => None,
    };
    let watcher = if config.watch {
        Some(FolderWatcher::start(state.clone()).map_err(|e| ServeError::Watch(e.to_string()))?)
    } else {
        None
    };

    let saver = VectorSaver::start(music.clone());
    let started_monitors = monitors.start_all().map_err(SonicaError::from)?;
    if started_monitors > 0 {
        tracing::info!(monitors = started_monitors, "monitors started");
    }
    let result = actix_web::rt::System::new().block_on(run_http(state.clone(), metrics));

    tracing::info!("stopping: finishing running jobs");
    if let Some(w) = watcher {
        w.shutdown();
    }
    monitors.shutdown();
    if let Some(p) = &puller {
        p.stop();
    }
    pool.shutdown();
    if let Some(p) = puller {
        p.shutdown();
    }
    webhooks.shutdown();
    saver.shutdown();
    if let Err(e) = index.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
    tracing::info!("stopped");
    result
}

/// The webhook event a monitor's notice is, if any: a play is announced
/// when it is detected (`play.started`; its end is in the play log).
fn webhook_kind(notice: &str) -> Option<sonica_schema::webhook::EventKind> {
    use sonica_schema::webhook::EventKind;
    match notice {
        "play.started" => Some(EventKind::PlayDetected),
        "monitor.up" => Some(EventKind::MonitorUp),
        "monitor.down" => Some(EventKind::MonitorDown),
        _ => None,
    }
}

/// How the service's webhooks deliver, from its settings.
fn webhook_options(c: &Config) -> crate::webhooks::DeliveryOptions {
    crate::webhooks::DeliveryOptions {
        workers: c.webhook_workers,
        retry: crate::webhooks::RetryPolicy {
            attempts: c.webhook_attempts,
            first: Duration::from_millis(c.webhook_backoff_ms),
            ..Default::default()
        },
        policy: c.net.clone(),
        ..Default::default()
    }
}

async fn run_http(state: Arc<AppState>, metrics: Arc<Metrics>) -> Result<(), ServeError> {
    let config = state.config.clone();
    let data = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new()
            .app_data(data.clone())
            // Inner: the one guard (origin, key, tier, rate limit, quotas)
            // of every route.
            .wrap(actix_web::middleware::from_fn(admission::guard))
            // Outer: metrics see every answer, the guard's refusals too.
            .wrap_fn(move |req, srv| {
                let started = Instant::now();
                let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
                let method = req.method().to_string();
                let metrics = metrics.clone();
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    let status = res.status().as_u16();
                    let secs = started.elapsed().as_secs_f64();
                    metrics.observe_request(&route, &method, status, secs);
                    tracing::debug!(%method, %route, status, ms = secs * 1e3, "request");
                    Ok(res)
                }
            })
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .workers(config.http_workers)
    .shutdown_timeout(30)
    // Our own signal handling below: registered before the address is
    // announced (actix's own would be set up lazily, later).
    .disable_signals()
    .bind(config.bind)
    .map_err(|source| ServeError::Bind {
        addr: config.bind.to_string(),
        source,
    })?;
    let addrs = server.addrs();
    let running = server.run();
    // SIGINT/SIGTERM stop the server gracefully. The handlers are registered
    // here, before the address is announced, so a script that stops the
    // server as soon as it reads the line never meets the default (abrupt)
    // action; a failure to register them is a start-up error.
    {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Server)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Server)?;
        let handle = running.handle();
        actix_web::rt::spawn(async move {
            let (t, i) = (Box::pin(term.recv()), Box::pin(int.recv()));
            futures_util::future::select(t, i).await;
            tracing::info!("signal received: stopping gracefully");
            handle.stop(true).await;
        });
    }
    for a in addrs {
        // Tests and scripts read the bound address (port 0 picks a free one).
        println!("listening on http://{a}");
        tracing::info!(addr = %a, "listening");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let guard_state = state.clone();
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(Duration::from_secs(60)).await;
            guard_state.guard.prune();
        }
    });
    running.await.map_err(ServeError::Server)
}

#[cfg(test)]
mod tests {
    use sonica_schema::webhook::EventKind;

    #[test]
    fn monitor_notices_become_webhook_events() {
        assert_eq!(super::webhook_kind("play.started"), Some(EventKind::PlayDetected));
        assert_eq!(super::webhook_kind("monitor.up"), Some(EventKind::MonitorUp));
        assert_eq!(super::webhook_kind("monitor.down"), Some(EventKind::MonitorDown));
        assert_eq!(super::webhook_kind("play.ended"), None);
        assert_eq!(super::webhook_kind("gap"), None);
    }
}

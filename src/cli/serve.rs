//! `sonica serve` (and bare `sonica`): the settings resolved, logging set
//! up, the service run.

use std::process::ExitCode;

use super::args::ServeArgs;

pub fn run(library: &sonica::options::LibraryArgs, a: ServeArgs) -> ExitCode {
    use sonica::service::config::{resolve, FileConfig};
    let file = match library.file() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    let over = FileConfig {
        data_dir: library.data_dir.clone(),
        cluster: library.cluster.clone(),
        bind: a.bind,
        songs_dir: a.songs_dir,
        http_workers: a.http_workers,
        job_workers: a.job_workers,
        job_attempts: a.job_attempts,
        job_backoff_ms: a.job_backoff_ms,
        max_upload_mb: a.max_upload_mb,
        max_clip_s: a.max_clip_s,
        max_stream_s: a.max_stream_s,
        ws_idle_s: a.ws_idle_s,
        api_keys: a.api_keys,
        protect_reads: a.protect_reads,
        open: a.open,
        webhook_workers: a.webhook_workers,
        webhook_attempts: a.webhook_attempts,
        webhook_backoff_ms: a.webhook_backoff_ms,
        tiers: None, // only the file has tier tables
        rate_limit: a.rate_limit,
        rate_burst: a.rate_burst,
        watch: a.watch,
        watch_remove: a.watch_remove,
        settle_ms: a.settle_ms,
        log_json: a.log_json,
        cache_mb: a.cache_mb,
        on_duplicate: a.on_duplicate,
        analyses_keep: a.analyses_keep,
        max_sections: a.max_sections,
        allow_private_urls: a.allow_private_urls,
        allow_hosts: a.allow_hosts,
        max_monitors: a.max_monitors,
    };
    let config = match resolve(file, over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_json);
    sonica::analysis::set_section_bound(config.max_sections);
    match sonica::service::serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "service stopped with an error");
            eprintln!("sonica: {e}");
            ExitCode::from(3)
        }
    }
}

/// Structured logs on stderr; `RUST_LOG` (or `SONICA_LOG`) sets the level.
fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("SONICA_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

//! The `sonica` command line. Exit codes: 0 success, 1 some inputs failed
//! (or an id was unknown), 2 usage error, 3 the store could not be used.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;

use clap::{Parser, Subcommand};

/// mimalloc pools the many short-lived buffers of decoding and querying
/// (glibc's allocator cost ingest about 20% here). Transparent huge pages
/// are off so that pooling does not inflate resident memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sonica::library::open_music;
use sonica::{open_library, Identifier, Match, SonicaError, Verdict};

#[derive(Parser)]
#[command(
    name = "sonica",
    version,
    about = "Self-hosted audio search: recognition, similarity, duplicates, text"
)]
struct Cli {
    /// `--data-dir` and `--config`, resolved alike by every command.
    #[command(flatten)]
    library: sonica::options::LibraryArgs,
    /// With no command, `serve` runs with its defaults.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP/WebSocket service (the default command).
    Serve(Box<ServeArgs>),
    /// Add audio files (and folders, recursively) to the library.
    Ingest {
        /// Worker threads for decoding and fingerprinting (default: all cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// One JSON line per file instead of text.
        #[arg(long)]
        json: bool,
        /// What to do with a file that duplicates a stored track: reject
        /// (do not add), flag (add and mark) or keep (add as usual).
        #[arg(long, default_value = "flag", value_parser = parse_policy)]
        on_duplicate: sonica_schema::OnDuplicate,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// List the library's duplicate groups.
    Duplicates {
        #[arg(long)]
        json: bool,
    },
    /// Recognise clips against the library.
    Identify {
        #[arg(long)]
        json: bool,
        /// Add the strongest evidence (even when rejected) to JSON output,
        /// for threshold calibration.
        #[arg(long)]
        explain: bool,
        #[arg(long, short)]
        jobs: Option<usize>,
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List the tracks in the library.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a track by id.
    Remove { id: u32 },
    /// Tracks, hours of audio, postings and bytes per tier.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Merge the fresh tier into the compacted buckets and purge deletions.
    Compact,
    /// Measure tempo, key, loudness, bands and more of audio files (no library needed).
    Analyze {
        /// One JSON line per file.
        #[arg(long)]
        json: bool,
        /// Include the timbre and rhythm vectors in the JSON.
        #[arg(long)]
        vectors: bool,
        /// Analyse from this second on.
        #[arg(long)]
        start_s: Option<f64>,
        /// Analyse up to this second.
        #[arg(long)]
        end_s: Option<f64>,
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Tracks that sound like a library track (by id) or an audio file.
    Similar {
        #[arg(long)]
        json: bool,
        /// A track id, or an audio file to analyse and compare.
        target: String,
        /// How many results (1–1000).
        #[arg(long, default_value = "10")]
        top_k: String,
        /// timbre, rhythm or mixed.
        #[arg(long, default_value = "mixed")]
        kind: String,
        /// Drop results less similar than this (−1 to 1).
        #[arg(long)]
        min_similarity: Option<String>,
        #[command(flatten)]
        filter: cli::similar::FilterArgs,
    },
    /// Search titles, artists, albums and genres, with filters.
    Search {
        #[arg(long)]
        json: bool,
        /// Words to find (prefix and typo tolerant); "" lists by filters alone.
        text: String,
        #[arg(long)]
        limit: Option<String>,
        #[arg(long)]
        offset: Option<String>,
        #[command(flatten)]
        filter: cli::similar::FilterArgs,
    },
}

/// `sonica serve` settings. Each also reads `SONICA_<NAME>` and the
/// `--config` TOML file (same names, snake_case); flags and environment win.
#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:7700]; port 0 picks a free one.
    #[arg(long, env = "SONICA_BIND")]
    bind: Option<String>,
    /// Watched folder; uploads are stored here too [default: ./songs].
    #[arg(long, env = "SONICA_SONGS_DIR")]
    songs_dir: Option<PathBuf>,
    /// HTTP worker threads [default: cores].
    #[arg(long, env = "SONICA_HTTP_WORKERS")]
    http_workers: Option<usize>,
    /// Fingerprinting workers [default: cores / 2, at least 1]; 0 queues without processing.
    #[arg(long, env = "SONICA_JOB_WORKERS")]
    job_workers: Option<usize>,
    /// Attempts per job before it is marked FAILED [default: 3].
    #[arg(long, env = "SONICA_JOB_ATTEMPTS")]
    job_attempts: Option<u32>,
    /// First retry delay in ms, doubling per attempt [default: 500].
    #[arg(long, env = "SONICA_JOB_BACKOFF_MS")]
    job_backoff_ms: Option<u64>,
    /// Upload size limit in MB [default: 50].
    #[arg(long, env = "SONICA_MAX_UPLOAD_MB")]
    max_upload_mb: Option<f64>,
    /// Longest clip accepted for recognition, in seconds [default: 60].
    #[arg(long, env = "SONICA_MAX_CLIP_S")]
    max_clip_s: Option<f64>,
    /// Longest PCM stream one WebSocket may send, in seconds [default: 14400].
    #[arg(long, env = "SONICA_MAX_STREAM_S")]
    max_stream_s: Option<f64>,
    /// Close a WebSocket that sends nothing for this long, in seconds [default: 30].
    #[arg(long, env = "SONICA_WS_IDLE_S")]
    ws_idle_s: Option<f64>,
    /// API keys (comma-separated); when set, POST and DELETE need one.
    #[arg(long, env = "SONICA_API_KEYS", value_delimiter = ',')]
    api_keys: Option<Vec<String>>,
    /// Require a key for reads and recognition too [default: false].
    #[arg(long, env = "SONICA_PROTECT_READS", value_name = "BOOL")]
    protect_reads: Option<bool>,
    /// Serve a non-loopback --bind without API keys on purpose [default: false].
    #[arg(long, env = "SONICA_OPEN", value_name = "BOOL")]
    open: Option<bool>,
    /// Recognitions/uploads per second per client; 0 = unlimited [default: 50].
    #[arg(long, env = "SONICA_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Burst allowance above the rate [default: 100].
    #[arg(long, env = "SONICA_RATE_BURST")]
    rate_burst: Option<u32>,
    /// Watch the songs folder [default: true].
    #[arg(long, env = "SONICA_WATCH", value_name = "BOOL")]
    watch: Option<bool>,
    /// Remove tracks whose file leaves the songs folder [default: true].
    #[arg(long, env = "SONICA_WATCH_REMOVE", value_name = "BOOL")]
    watch_remove: Option<bool>,
    /// Quiet time before a changed file counts as complete, ms [default: 1000].
    #[arg(long, env = "SONICA_SETTLE_MS")]
    settle_ms: Option<u64>,
    /// Log JSON lines instead of text [default: false].
    #[arg(long, env = "SONICA_LOG_JSON", value_name = "BOOL")]
    log_json: Option<bool>,
    /// Cache memory in MB (store pages and parsed index blocks) [default: 256].
    #[arg(long, env = "SONICA_CACHE_MB")]
    cache_mb: Option<u64>,
    /// Duplicate policy for uploads and watched files: reject, flag or keep [default: flag].
    #[arg(long, env = "SONICA_ON_DUPLICATE", value_parser = parse_policy)]
    on_duplicate: Option<sonica_schema::OnDuplicate>,
}

fn parse_policy(s: &str) -> Result<sonica_schema::OnDuplicate, String> {
    s.parse()
}

fn serve(library: &sonica::options::LibraryArgs, a: ServeArgs) -> ExitCode {
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
        rate_limit: a.rate_limit,
        rate_burst: a.rate_burst,
        watch: a.watch,
        watch_remove: a.watch_remove,
        settle_ms: a.settle_ms,
        log_json: a.log_json,
        cache_mb: a.cache_mb,
        on_duplicate: a.on_duplicate,
    };
    let config = match resolve(file, over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_json);
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

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if cli.command.is_none() {
        // Bare `sonica [--data-dir D]` is `sonica serve`, settings and
        // environment (SONICA_API_KEYS, SONICA_BIND, …) included: parsed
        // again as that, so both read them in the one place.
        let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        args.insert(1.min(args.len()), "serve".into());
        cli = Cli::parse_from(args);
    }
    let command = match cli.command {
        None => return ExitCode::from(2),
        Some(Command::Serve(a)) => return serve(&cli.library, *a),
        Some(Command::Analyze {
            json,
            vectors,
            start_s,
            end_s,
            files,
        }) => return cli::analyze::run(&files, json, vectors, start_s, end_s),
        Some(c) => c,
    };
    let data_dir = match cli.library.data_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Run { data_dir, command };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sonica: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// A non-service command with its data dir resolved.
struct Run {
    data_dir: PathBuf,
    command: Command,
}

fn run(cli: Run) -> anyhow::Result<ExitCode> {
    let index = match open_library(&cli.data_dir) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("sonica: cannot open the library at {}: {e}", cli.data_dir.display());
            return Ok(ExitCode::from(3));
        }
    };
    // The vector and text indexes: opened for the commands that change the
    // library (so they stay in step) or query them.
    let music = match &cli.command {
        Command::Ingest { .. } | Command::Remove { .. } | Command::Similar { .. } | Command::Search { .. } => {
            match open_music(&cli.data_dir, &index) {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!(
                        "sonica: cannot open the search indexes in {}: {e}",
                        cli.data_dir.display()
                    );
                    return Ok(ExitCode::from(3));
                }
            }
        }
        _ => None,
    };
    let code = dispatch(&index, music.as_deref(), cli.command)?;
    if let Some(m) = &music {
        m.sync()?;
    }
    Ok(code)
}

fn dispatch(
    index: &sonica_index::FingerprintIndex,
    music: Option<&sonica_index::MusicIndex>,
    command: Command,
) -> anyhow::Result<ExitCode> {
    let music = || music.ok_or_else(|| anyhow::anyhow!("search indexes not open"));
    match command {
        Command::Similar {
            json,
            target,
            top_k,
            kind,
            min_similarity,
            filter,
        } => {
            let raw = sonica::search::RawSimilar {
                genre: filter.genre,
                key: filter.key,
                tempo_min: filter.tempo_min,
                tempo_max: filter.tempo_max,
                top_k: Some(top_k),
                min_similarity,
                kind: Some(kind),
            };
            Ok(cli::similar::run_similar(index, music()?, &target, raw, json))
        }
        Command::Search {
            json,
            text,
            limit,
            offset,
            filter,
        } => Ok(cli::similar::run_search(
            index,
            music()?,
            &text,
            &filter,
            limit,
            offset,
            json,
        )),
        // Dispatched in `main` before any library is opened (the service
        // opens its own, analysis needs none); kept here only to keep this
        // match exhaustive.
        Command::Serve(_) | Command::Analyze { .. } => Ok(ExitCode::from(2)),
        Command::Ingest {
            jobs,
            json,
            on_duplicate,
            paths,
        } => cli::ingest::run(index, jobs, json, on_duplicate, &paths),
        Command::Duplicates { json } => cli::duplicates::run(index, json),
        Command::Identify {
            json,
            explain,
            jobs,
            files,
        } => cmd_identify(index, json, explain, jobs, &files),
        Command::List { json } => {
            let mut out = std::io::stdout().lock();
            for r in index.list()? {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&r)?)?;
                } else {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{:.1}s\t{}",
                        r.id,
                        r.title,
                        r.artist.as_deref().unwrap_or("-"),
                        r.duration_s,
                        r.path
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { id } => match index.remove(id) {
            Ok(r) => {
                index.flush()?;
                println!("removed {} ({})", r.id, r.path);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                let e = SonicaError::from(e);
                eprintln!("sonica: {id}: {e}");
                Ok(ExitCode::from(if e.code() == sonica::error::ErrorCode::UnknownTrack {
                    1
                } else {
                    3
                }))
            }
        },
        Command::Stats { json } => {
            let s = index.stats()?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                let mb = |b: u64| b as f64 / 1e6;
                println!("tracks          {}", s.tracks);
                println!("audio           {:.2} h", s.audio_hours);
                println!("postings        {}", s.postings);
                println!("peaks           {}", s.peaks);
                println!(
                    "fresh tier      {} tracks, {} postings in memory",
                    s.fresh_tracks, s.fresh_postings
                );
                println!(
                    "compacted tier  {} buckets, {:.2} MB",
                    s.compacted.entries,
                    mb(s.compacted.bytes)
                );
                println!("peaks (canon.)  {:.2} MB", mb(s.canonical_peaks.bytes));
                println!("records         {:.2} MB", mb(s.records.bytes));
                println!("on disk         {:.2} MB", mb(s.disk_bytes));
                if s.audio_hours > 0.0 {
                    println!("disk per hour   {:.2} MB/h", mb(s.disk_bytes) / s.audio_hours);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact => {
            let r = index.compact()?;
            println!(
                "compacted: {} tracks moved ({} postings), {} purged, {} buckets rewritten",
                r.tracks_moved, r.postings_moved, r.tracks_purged, r.buckets_rewritten
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn match_json(query: &str, m: &Option<Match>) -> serde_json::Value {
    match m {
        None => serde_json::json!({"query": query, "match": null}),
        Some(m) => serde_json::json!({
            "query": query,
            "match": {
                "id": m.track.id,
                "title": m.track.title,
                "artist": m.track.artist,
                "path": m.track.path,
                "score": m.score,
                "offset_s": (m.offset_s * 1000.0).round() / 1000.0,
                "duration_s": (m.duration_s * 1000.0).round() / 1000.0,
                "speed": m.speed,
            }
        }),
    }
}

fn cmd_identify(
    index: &sonica_index::FingerprintIndex,
    json: bool,
    explain: bool,
    jobs: Option<usize>,
    files: &[String],
) -> anyhow::Result<ExitCode> {
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .clamp(1, files.len().max(1));
    let identifier = Identifier::new(index);
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Answer = Result<(Option<Match>, Option<Verdict>), SonicaError>;
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Answer)>();
    let mut failed = 0usize;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, identifier) = (&next, &identifier);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let r = sonica::identify::identify_file(identifier, std::path::Path::new(f));
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Print in input order as results arrive.
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0usize;
        let mut out = std::io::stdout().lock();
        for (i, r) in rx.iter() {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                let f = &files[want];
                match r {
                    Ok((m, verdict)) => {
                        if json {
                            let mut v = match_json(f, &m);
                            if explain {
                                v["evidence"] = match verdict {
                                    Some(e) => serde_json::json!({
                                        "id": e.best.track, "hits": e.best.count, "total": e.best.total,
                                        "runner_up": e.runner_up, "speed": e.speed,
                                        "queried": e.queried, "span": e.best.last - e.best.first,
                                    }),
                                    None => serde_json::Value::Null,
                                };
                            }
                            let _ = writeln!(out, "{v}");
                        } else {
                            let _ = match &m {
                                Some(m) => writeln!(
                                    out,
                                    "{f}: {} — {} (id {}, score {}, at {:.1} s)",
                                    m.track.title,
                                    m.track.artist.as_deref().unwrap_or("unknown artist"),
                                    m.track.id,
                                    m.score,
                                    m.offset_s
                                ),
                                None => writeln!(out, "{f}: no match"),
                            };
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("sonica: {f}: {e}");
                        if json {
                            let v = serde_json::json!({"query": f, "match": null, "error": {"code": e.code(), "message": e.to_string()}});
                            let _ = writeln!(out, "{v}");
                        }
                    }
                }
                want += 1;
            }
        }
    });
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

//! The `sonica` command line: parse, open the library, hand the command to
//! its file under `cli/`. Exit codes: 0 success, 1 some inputs failed (or
//! an id was unknown), 2 usage error, 3 the store could not be used.

use std::path::PathBuf;
use std::process::ExitCode;

mod cli;

use clap::Parser;
use cli::args::{Cli, Command};
use sonica::{Library, OpenOptions};

/// mimalloc pools the many short-lived buffers of decoding and querying
/// (glibc's allocator cost ingest about 20% here). Transparent huge pages
/// are off so that pooling does not inflate resident memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in its v3
/// `mimalloc.h`, the version libmimalloc-sys 0.1.49 builds).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Hands freed memory back to the system at once. mimalloc keeps it for a
/// second by default, and every ingested file's decode and analysis
/// buffers are freed by threads that then exit: a 20-file `sonica ingest`
/// held 165 MB that way, 72 MB without the delay (issue 16).
fn purge_freed_memory_promptly() {
    // SAFETY: sets an integer option of the linked allocator; any value is
    // valid for it, and it is called before any other thread exists.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

fn main() -> ExitCode {
    purge_freed_memory_promptly();
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
        Some(Command::Serve(a)) => return cli::serve::run(&cli.library, *a),
        Some(Command::Analyze(a)) => return cli::analyze::run(&a),
        Some(Command::Master(m)) => return cli::master::run(&cli.library, &m),
        Some(Command::Reference(cli::args::ReferenceCommand::BuildTarget {
            genre,
            origin,
            license,
            files,
        })) => return cli::reference::build_target(&genre, &origin, &license, &files),
        Some(c) => c,
    };
    let data_dir = match cli.library.data_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    let cluster = match cli.library.cluster() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Run {
        data_dir,
        cluster,
        command,
    };
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
    cluster: Option<String>,
    command: Command,
}

fn run(cli: Run) -> anyhow::Result<ExitCode> {
    // Commands that only read fingerprints skip the search indexes (they
    // start faster); those that change the library or query the search
    // indexes open them, so they stay in step.
    let options = match &cli.command {
        // A scan looks up the same buckets window after window: parsed
        // blocks are kept.
        Command::Monitor { .. } => OpenOptions {
            block_cache_bytes: 64 << 20,
            ..OpenOptions::recognition_only()
        },
        Command::Identify { .. }
        | Command::Duplicates { .. }
        | Command::List { .. }
        | Command::Stats { .. }
        | Command::Keys(_) => OpenOptions::recognition_only(),
        _ => OpenOptions::default(),
    };
    let options = OpenOptions {
        cluster: cli.cluster.clone(),
        ..options
    };
    let library = match Library::open(&cli.data_dir, &options) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sonica: cannot open the library at {}: {e}", cli.data_dir.display());
            return Ok(ExitCode::from(3));
        }
    };
    let code = dispatch(&library, cli.command)?;
    library.sync()?;
    Ok(code)
}

fn dispatch(library: &Library, command: Command) -> anyhow::Result<ExitCode> {
    let music = || {
        library
            .music()
            .ok_or_else(|| anyhow::anyhow!("search indexes not open"))
    };
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
            Ok(cli::similar::run_similar(library, music()?, &target, raw, json))
        }
        Command::Search {
            json,
            text,
            limit,
            offset,
            filter,
        } => Ok(cli::similar::run_search(
            library,
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
        Command::Serve(_) | Command::Analyze(_) | Command::Master(_) => Ok(ExitCode::from(2)),
        Command::Ingest {
            jobs,
            json,
            on_duplicate,
            fingerprint_only,
            reference_genre,
            paths,
        } => cli::ingest::run(
            library,
            jobs,
            json,
            on_duplicate,
            fingerprint_only,
            reference_genre.as_deref(),
            &paths,
        ),
        Command::Reference(r) => cli::reference::run(library, r),
        Command::Duplicates { json } => cli::duplicates::run(library, json),
        Command::Identify {
            json,
            explain,
            jobs,
            files,
        } => Ok(cli::identify::run(library, json, explain, jobs, &files)),
        Command::Monitor {
            json,
            jobs,
            window,
            hop,
            inputs,
        } => Ok(cli::monitor::run(library, json, jobs, window, hop, &inputs)),
        Command::List { json } => cli::library::list(library, json),
        Command::Remove { id } => cli::library::remove(library, id),
        Command::Stats { json } => cli::library::stats(library, json),
        Command::Compact => cli::library::compact(library),
        Command::Keys(k) => cli::keys::run(library, k),
    }
}

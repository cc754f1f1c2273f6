//! `sonica-reindex`: bulk (re)indexing of a Sonica library, offline.
//!
//! `sonica ingest` adds files; a library that lives for years also needs
//! files that changed fingerprinted again, files that left pruned, old
//! tracks analysed, derived indexes rebuilt after damage, and a way to tell
//! whether all of it agrees. This tool does that over one store, with
//! every core decoding and one writer, resumably (each file commits and
//! flushes on its own). The binary is a thin wrapper over [`run`].
//!
//! Exit codes: 0 done, 1 some files failed (or `--verify` found
//! differences), 2 bad usage, 3 the store cannot be used (locked by a
//! running server, unreadable, or a write failed).

pub mod classify;
pub mod maintain;
pub mod pipeline;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{ArgGroup, Parser};
use sonica::error::ErrorCode;
use sonica::pipeline::walk;
use sonica::SonicaError;
use sonica::{Library, OpenOptions};
use sonica_index::{FingerprintIndex, IndexError, MaintenanceError, MusicError};
use sonica_schema::OnDuplicate;

use crate::report::Failure;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_STORE: u8 = 3;

/// Walk folders and (re)index what changed; or rebuild or verify the
/// derived indexes of a library.
#[derive(Parser, Debug)]
#[command(
    name = "sonica-reindex",
    version,
    group(ArgGroup::new("mode").required(true).args(["rebuild", "verify", "paths"]))
)]
pub struct Cli {
    /// `--data-dir` and `--config`, resolved as every `sonica` command does.
    #[command(flatten)]
    pub library: sonica::options::LibraryArgs,
    /// Decoding threads [default: all cores].
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Remove tracks under the given folders whose file no longer exists.
    #[arg(long)]
    pub prune: bool,
    /// Walk and classify (new, changed, unchanged, would prune); decode and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the final report as one JSON object (no progress bar).
    #[arg(long)]
    pub json: bool,
    /// What to do with a file that duplicates a track already stored.
    #[arg(long, default_value = "flag", value_name = "reject|flag|keep")]
    pub on_duplicate: OnDuplicate,
    /// Where to list the files that failed [default: DATA_DIR/reindex-failures.txt].
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// One line per file acted on (added, updated, pruned, …) on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// Rebuild the hash tiers, vector graphs and text index from the records (no decoding).
    #[arg(long, conflicts_with_all = ["prune", "dry_run", "failures", "jobs", "on_duplicate"])]
    pub rebuild: bool,
    /// Check that every index agrees with the records; exit 1 on any difference.
    #[arg(long, conflicts_with_all = ["prune", "dry_run", "failures", "jobs", "on_duplicate"])]
    pub verify: bool,
    /// Audio files and folders (walked recursively for audio extensions).
    pub paths: Vec<String>,
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ReindexError {
    #[error("the store at {0} is in use by another process (a running `sonica serve`?); stop it first, or ingest through its API")]
    Locked(String),
    #[error("there is no library at {0} (nothing to {1})")]
    NoLibrary(String, &'static str),
    #[error("cannot open the library at {dir}: {source}")]
    Open { dir: String, source: SonicaError },
    #[error(transparent)]
    Sonica(#[from] SonicaError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Music(#[from] MusicError),
    #[error(transparent)]
    Maintenance(#[from] MaintenanceError),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Runs the tool and returns its exit code.
pub fn run(cli: Cli) -> u8 {
    let dir = match cli.library.data_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("sonica-reindex: {e}");
            return 2;
        }
    };
    let result = if cli.rebuild {
        maintain::rebuild(&dir, cli.json)
    } else if cli.verify {
        maintain::verify(&dir, cli.json)
    } else {
        ingest(&dir, &cli)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sonica-reindex: {e}");
            EXIT_STORE
        }
    }
}

/// Opens the library in `dir` (with its search indexes when `search`),
/// telling a locked store apart. Without `create`, a missing library is an
/// error rather than a new empty one.
pub fn open(dir: &Path, create: bool, search: bool, purpose: &'static str) -> Result<Library, ReindexError> {
    let store = dir.join("store");
    if !create && !store.exists() {
        return Err(ReindexError::NoLibrary(dir.display().to_string(), purpose));
    }
    let options = OpenOptions {
        search_indexes: search,
        upgrade: purpose == "rebuild",
        ..OpenOptions::default()
    };
    Library::open(dir, &options).map_err(|e| {
        if e.code() == ErrorCode::StoreLocked {
            ReindexError::Locked(store.display().to_string())
        } else {
            ReindexError::Open {
                dir: dir.display().to_string(),
                source: e,
            }
        }
    })
}

fn ingest(dir: &Path, cli: &Cli) -> Result<u8, ReindexError> {
    let started = Instant::now();
    let jobs = cli
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    // A dry run writes nothing, not even a new empty store.
    let library = if cli.dry_run && !dir.join("store").exists() {
        Library::in_memory()?
    } else {
        open(dir, true, !cli.dry_run, "index")?
    };
    let index: &FingerprintIndex = &library;
    let walked = walk::walk(&cli.paths, jobs);
    let mut early: Vec<Failure> = walked
        .missing
        .iter()
        .map(|p| pipeline::failure(p, &SonicaError::Missing))
        .collect();
    early.extend(walked.unreadable.iter().map(|(p, why)| Failure {
        path: p.clone(),
        code: ErrorCode::IoError.as_str().to_string(),
        message: format!("cannot list the folder: {why}"),
    }));
    let opts = pipeline::IngestOptions {
        jobs,
        policy: cli.on_duplicate,
        dry_run: cli.dry_run,
        prune: cli.prune,
        verbose: cli.verbose,
        json: cli.json,
    };
    let (mut report, failures, audio_s) = pipeline::run(index, walked.files, &walked.folders, early, &opts)?;
    if !cli.dry_run {
        library.sync()?;
    }
    if !cli.dry_run {
        index.flush()?;
        let file = cli.failures.clone().unwrap_or_else(|| dir.join("reindex-failures.txt"));
        report::write_failures(&file, &failures, cli.json).map_err(|source| ReindexError::Write {
            path: file.display().to_string(),
            source,
        })?;
        report.failures_file = Some(file.display().to_string());
    }
    report.data_dir = dir.display().to_string();
    report.finish(started, audio_s);
    if cli.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print!("{}", report.human());
    }
    Ok(if report.failed > 0 { EXIT_FAILED } else { EXIT_OK })
}

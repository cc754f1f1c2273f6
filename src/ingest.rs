//! The ingest pipeline: many decoders, one writer.
//!
//! Paths fan out to worker threads over a crossbeam channel; each worker
//! decodes and fingerprints independently (the CPU-heavy part), and results
//! come back to the single writer on the calling thread, which stores each
//! track in one atomic batch and flushes before reporting it done. A kill
//! at any moment therefore loses at most the tracks not yet reported.
//! The fresh tier is compacted when it grows large and at the end.

use std::path::{Path, PathBuf};
use std::thread;

use crossbeam_channel::{bounded, unbounded};
use sonica_index::{FingerprintIndex, NewTrack};
use sonica_schema::{Duplicate, OnDuplicate, Tier, TrackRecord};

use crate::analyse::{analyse_file, Analysed};
use crate::fingerprint::FingerprintParams;
use crate::SonicaError;

/// File extensions picked up when walking folders. Explicit file arguments
/// are always tried, whatever their name.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "wav", "wave", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "alac", "aif", "aiff", "aifc", "caf",
    "mkv", "mka", "webm", "wma", "asf",
];

/// Compact when the fresh tier holds this many postings.
pub const COMPACT_FRESH_POSTINGS: usize = 4_000_000;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub jobs: usize,
    pub params: FingerprintParams,
    pub compact_at: usize,
    /// What to do with a file that duplicates a stored track.
    pub on_duplicate: OnDuplicate,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            jobs: thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            params: FingerprintParams::index(),
            compact_at: COMPACT_FRESH_POSTINGS,
            on_duplicate: OnDuplicate::default(),
        }
    }
}

/// What happened to one input.
#[derive(Debug)]
pub enum Outcome {
    /// Stored; `duplicates` names what it duplicates (flagged or kept).
    Added {
        /// Boxed: a record is ten times the size of the other variants.
        record: Box<TrackRecord>,
        duplicates: Vec<Duplicate>,
    },
    /// Not stored: it duplicates these tracks and the policy is `reject`.
    Rejected {
        path: String,
        duplicates: Vec<Duplicate>,
    },
    /// The path is already in the library.
    Skipped {
        path: String,
        id: u32,
    },
    Failed {
        path: String,
        error: SonicaError,
    },
}

/// Totals of a run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub added: usize,
    /// Added although they duplicate a stored track (`flag` or `keep`).
    pub duplicates: usize,
    pub rejected: usize,
    pub skipped: usize,
    pub failed: usize,
    pub audio_seconds: f64,
    pub wall_seconds: f64,
}

/// Expands arguments into files: files as given, folders walked recursively
/// for audio extensions. Each path keeps the spelling it was given with.
pub fn collect_inputs(args: &[String]) -> (Vec<String>, Vec<Outcome>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for a in args {
        let p = Path::new(a);
        if p.is_dir() {
            let mut found: Vec<String> = walkdir::WalkDir::new(p)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && is_audio_name(e.path()))
                .map(|e| e.path().to_string_lossy().into_owned())
                .collect();
            if found.is_empty() {
                errors.push(Outcome::Failed {
                    path: a.clone(),
                    error: SonicaError::EmptyFolder,
                });
            }
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(a.clone());
        } else {
            errors.push(Outcome::Failed {
                path: a.clone(),
                error: SonicaError::Missing,
            });
        }
    }
    (files, errors)
}

/// Whether a file name has one of [`AUDIO_EXTENSIONS`].
pub fn is_audio_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A file's size and modification time (Unix ms), the watched folder's test
/// for "replaced".
pub fn file_stamp(path: &Path) -> (Option<u64>, Option<u64>) {
    match std::fs::metadata(path) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            (Some(m.len()), mtime)
        }
        Err(_) => (None, None),
    }
}

/// The duplicate finder's rules for Sonica's fingerprint (its frame rate).
pub fn duplicate_params() -> sonica_index::DuplicateParams {
    sonica_index::DuplicateParams::new(crate::fingerprint::params::FRAMES_PER_SECOND)
}

/// Builds the record for an analysed file (id and tier are set by the index).
pub fn new_track(path: &str, a: Analysed) -> NewTrack {
    let p = PathBuf::from(path);
    let (file_len, file_mtime_ms) = file_stamp(&p);
    let record = TrackRecord {
        id: 0,
        path: path.to_string(),
        title: a.info.tags.title_or_file_name(&p),
        artist: a.info.tags.artist.clone(),
        album: a.info.tags.album.clone(),
        genre: a.info.tags.genre.clone(),
        duration_s: a.info.duration_s,
        sample_rate: a.info.sample_rate,
        channels: a.info.channels,
        codec: a.info.codec.clone(),
        peaks: 0,
        hashes: 0,
        tier: Tier::Fresh,
        created_at: unix_now_s(),
        file_len,
        file_mtime_ms,
        sha256: Some(sonica_schema::duplicate::hex(&a.sha256)),
        duplicate_of: None,
    };
    NewTrack {
        record,
        peaks: a.peaks,
        hashes: a.hashes,
        analysis: a.analysis,
        chromaprint: a.chromaprint,
    }
}

/// Ingests `files` into `index`, calling `report` for each outcome as soon
/// as it is final (durable, for added tracks). Each file is checked for
/// duplicates against the library as it stands, including files added
/// earlier in the same run, by the single writer.
pub fn ingest(
    index: &FingerprintIndex,
    files: Vec<String>,
    opts: &IngestOptions,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Summary, SonicaError> {
    let started = std::time::Instant::now();
    let dup_params = duplicate_params();
    let mut summary = Summary::default();
    let mut todo = Vec::new();
    for f in files {
        match index.id_by_path(&f)? {
            Some(id) => {
                summary.skipped += 1;
                report(&Outcome::Skipped { path: f, id });
            }
            None => todo.push(f),
        }
    }
    let jobs = opts.jobs.max(1).min(todo.len().max(1));
    let (work_tx, work_rx) = unbounded::<String>();
    // Bounded so fast workers cannot pile up fingerprints in memory.
    let (done_tx, done_rx) = bounded::<(String, Result<Analysed, SonicaError>)>(jobs * 2);
    for f in todo {
        let _ = work_tx.send(f);
    }
    drop(work_tx);

    let result = thread::scope(|scope| -> Result<(), SonicaError> {
        for _ in 0..jobs {
            let rx = work_rx.clone();
            let tx = done_tx.clone();
            let params = &opts.params;
            scope.spawn(move || {
                for path in rx.iter() {
                    let r = analyse_file(Path::new(&path), params);
                    if tx.send((path, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        for (path, r) in done_rx.iter() {
            match r {
                Ok(a) => {
                    // A duplicate path in one batch: the first one wins.
                    if let Some(id) = index.id_by_path(&path)? {
                        summary.skipped += 1;
                        report(&Outcome::Skipped { path, id });
                        continue;
                    }
                    let secs = a.info.duration_s;
                    let done = index.admit(new_track(&path, a), opts.on_duplicate, &dup_params, None)?;
                    let Some(record) = done.record else {
                        summary.rejected += 1;
                        report(&Outcome::Rejected {
                            path,
                            duplicates: done.duplicates,
                        });
                        continue;
                    };
                    index.flush()?;
                    summary.added += 1;
                    summary.duplicates += usize::from(!done.duplicates.is_empty());
                    summary.audio_seconds += secs;
                    report(&Outcome::Added {
                        record: Box::new(record),
                        duplicates: done.duplicates,
                    });
                    if index.fresh_postings() >= opts.compact_at {
                        index.compact()?;
                    }
                }
                Err(error) => {
                    summary.failed += 1;
                    report(&Outcome::Failed { path, error });
                }
            }
        }
        Ok(())
    });
    result?;
    if index.fresh_postings() > 0 {
        index.compact()?;
    }
    summary.wall_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

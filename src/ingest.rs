//! Bulk ingest as a library call: files and folders in, tracks stored.
//!
//! `sonica ingest` is this plus a progress bar. Every file is decoded once
//! and fingerprinted and analysed on the workers ([`crate::pipeline`]);
//! the one writer admits each under the duplicate policy and flushes before
//! reporting it, so a kill at any moment loses at most the tracks not yet
//! reported. The fresh tier is compacted when it grows large and at the end.

use std::path::Path;

use sonica_schema::{Duplicate, OnDuplicate, TrackRecord};

use crate::fingerprint::FingerprintParams;
use crate::library::Library;
use crate::pipeline::{
    self, bulk, fingerprint_first, new_track, GivenTags, IngestWriter, MusicPass, Slot, COMPACT_FRESH_POSTINGS,
};
use crate::SonicaError;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub jobs: usize,
    pub params: FingerprintParams,
    pub compact_at: usize,
    /// What to do with a file that duplicates a stored track.
    pub on_duplicate: OnDuplicate,
    /// Store the fingerprint only, the music analysis pending (filled in by
    /// `sonica-reindex` or the next `sonica serve`).
    pub fingerprint_only: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            jobs: bulk::default_jobs(),
            params: FingerprintParams::index(),
            compact_at: COMPACT_FRESH_POSTINGS,
            on_duplicate: OnDuplicate::default(),
            fingerprint_only: false,
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

/// Expands arguments into files with the one walker: files as given,
/// folders walked recursively for audio extensions. Each path keeps the
/// spelling it was given with. Missing arguments and folders without audio
/// come back as failures.
pub fn collect_inputs(args: &[String]) -> (Vec<String>, Vec<Outcome>) {
    let walked = pipeline::walk(args, bulk::default_jobs());
    let mut errors: Vec<Outcome> = walked
        .missing
        .iter()
        .map(|p| Outcome::Failed {
            path: p.clone(),
            error: SonicaError::Missing,
        })
        .collect();
    for folder in &walked.folders {
        if !walked.files.iter().any(|f| pipeline::walk::is_under(f, folder)) {
            errors.push(Outcome::Failed {
                path: folder.clone(),
                error: SonicaError::EmptyFolder,
            });
        }
    }
    (walked.files, errors)
}

/// Ingests `files` into `library`, calling `report` for each outcome as
/// soon as it is final (durable, for added tracks). Each file is checked
/// for duplicates against the library as it stands, including files added
/// earlier in the same run.
pub fn ingest(
    library: &Library,
    files: Vec<String>,
    opts: &IngestOptions,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Summary, SonicaError> {
    let started = std::time::Instant::now();
    let index = library.index();
    let writer = IngestWriter::new(index).compact_at(opts.compact_at);
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
    let pass = if opts.fingerprint_only {
        MusicPass::Skip
    } else {
        MusicPass::Alongside
    };
    let work = |path: &str| -> Result<_, SonicaError> {
        let (print, music) = fingerprint_first(Path::new(path), &opts.params, pass)?;
        // Under `--fingerprint-only` nothing runs: the analysis stays pending.
        let music = music.is_running().then(|| music.finish());
        if let Some(Err(e)) = music.as_ref().map(|m| &m.analysis) {
            tracing::info!(path, error = %e, "stored without music analysis");
        }
        Ok((print, music))
    };
    bulk::run(todo, opts.jobs, work, |path, r| -> Result<(), SonicaError> {
        let (print, music) = match r {
            Ok(r) => r,
            Err(error) => {
                summary.failed += 1;
                report(&Outcome::Failed { path, error });
                return Ok(());
            }
        };
        // A duplicate path in one batch: the first one wins.
        if let Some(id) = index.id_by_path(&path)? {
            summary.skipped += 1;
            report(&Outcome::Skipped { path, id });
            return Ok(());
        }
        let secs = print.info.duration_s;
        let t = new_track(&path, print, music, &GivenTags::default());
        let done = writer.write(t, opts.on_duplicate, Slot::New)?;
        if let Some(e) = done.compaction_failed {
            return Err(e.into());
        }
        let Some(record) = done.record else {
            summary.rejected += 1;
            report(&Outcome::Rejected {
                path,
                duplicates: done.duplicates,
            });
            return Ok(());
        };
        summary.added += 1;
        summary.duplicates += usize::from(!done.duplicates.is_empty());
        summary.audio_seconds += secs;
        report(&Outcome::Added {
            record: Box::new(record),
            duplicates: done.duplicates,
        });
        Ok(())
    })?;
    writer.finish()?;
    summary.wall_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

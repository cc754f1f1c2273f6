//! The reindex run on Sonica's one bulk path ([`sonica::pipeline::bulk`]):
//! every core examines and decodes files, the one ingest writer talks to
//! the store.
//!
//! Workers decide what each file needs ([`crate::classify`]), and decode,
//! fingerprint and analyse only what is new or changed. The writer on the
//! calling thread commits each file in one atomic batch and flushes before
//! counting it: a kill loses at most the files in flight, and a rerun skips
//! everything already committed.

use std::path::Path;

use sonica::pipeline::walk::is_under;
use sonica::pipeline::writer::file_stamp;
use sonica::pipeline::{analyse_file, bulk, music_of_file, new_track, Analysed, GivenTags, IngestWriter, Music, Slot};
use sonica::SonicaError;
use sonica_index::FingerprintIndex;
use sonica_schema::{OnDuplicate, TrackId, TrackRecord};

use crate::classify::{plan, restamped, Known, Plan};
use crate::report::{DuplicateCounts, Failure, Progress, Report};

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub jobs: usize,
    pub policy: OnDuplicate,
    pub dry_run: bool,
    pub prune: bool,
    /// One line per file acted on, on stderr.
    pub verbose: bool,
    /// The report will be JSON: no progress bar, no failure lines.
    pub json: bool,
}

/// What a worker found out about one file.
enum Done {
    Add(String, Box<Analysed>),
    Replace(String, TrackId, Box<Analysed>),
    Restamp(Box<TrackRecord>, Option<Box<Music>>),
    Analyse(Box<TrackRecord>, Box<Music>),
    Unchanged,
    Queued,
    /// Dry run: what would happen.
    Would(Would, String),
    Failed(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Would {
    Add,
    Update,
    Restamp,
    Analyse,
}

pub fn failure(path: &str, e: &SonicaError) -> Failure {
    Failure {
        path: path.to_string(),
        code: e.code().as_str().to_string(),
        message: e.to_string(),
    }
}

/// What the store knows about `path`.
fn known(index: &FingerprintIndex, path: &str) -> Result<Known, SonicaError> {
    let Some(id) = index.id_by_path(path)? else {
        return Ok(Known::Nothing);
    };
    if let Some(record) = index.get(id)? {
        // An unreadable analysis is derived data: treat it as missing.
        let analysed = index.analysis(id).ok().flatten().is_some_and(|a| a.is_current());
        return Ok(Known::Track {
            record: Box::new(record),
            analysed,
        });
    }
    if index.job(id)?.is_some() {
        return Ok(Known::Job(id));
    }
    Ok(Known::Nothing)
}

/// The worker's part for one file.
fn examine(index: &FingerprintIndex, path: &str, dry: bool) -> Result<Done, SonicaError> {
    let p = Path::new(path);
    let now = file_stamp(p);
    if now.0.is_none() {
        return Err(SonicaError::Missing);
    }
    let known = known(index, path)?;
    let (record, analysed) = match &known {
        Known::Track { record, analysed } => (Some(record.as_ref()), *analysed),
        _ => (None, true),
    };
    // A file too short for a tempo stays without analysis, as at ingest;
    // one left pending by a fingerprint-first ingest gets it now.
    let reanalyse = || -> Option<Box<Music>> {
        (!analysed)
            .then(|| music_of_file(p, &|| false).ok().flatten())
            .flatten()
            .map(Box::new)
    };
    Ok(match (plan(&known, now), record) {
        (Plan::New, _) if dry => Done::Would(Would::Add, path.into()),
        (Plan::New, _) => Done::Add(path.into(), Box::new(analyse_file(p, &params())?)),
        (Plan::Queued { .. }, _) => Done::Queued,
        (
            Plan::Unchanged {
                needs_analysis: false, ..
            },
            _,
        ) => Done::Unchanged,
        (Plan::Unchanged { .. }, _) if dry => Done::Would(Would::Analyse, path.into()),
        (Plan::Unchanged { .. }, Some(r)) => match reanalyse() {
            Some(a) => Done::Analyse(Box::new(r.clone()), a),
            None => Done::Unchanged,
        },
        (Plan::CompareBytes { id, sha256 }, Some(r)) => {
            let sha = sonica::digest::file_sha256(p).map_err(sonica::decode::DecodeError::Io)?;
            match (sha == sha256, dry) {
                (true, true) => Done::Would(Would::Restamp, path.into()),
                (true, false) => Done::Restamp(Box::new(restamped(r, now, &sha)), reanalyse()),
                (false, true) => Done::Would(Would::Update, path.into()),
                (false, false) => Done::Replace(path.into(), id, Box::new(analyse_file(p, &params())?)),
            }
        }
        (Plan::CompareFingerprint { .. }, _) if dry => Done::Would(Would::Update, path.into()),
        (Plan::CompareFingerprint { id }, Some(r)) => {
            let a = analyse_file(p, &params())?;
            let mut peaks = a.print.peaks.clone();
            peaks.sort_unstable();
            if index.peaks(id).ok() == Some(peaks) {
                let restamp = Box::new(restamped(r, now, &a.print.sha256));
                Done::Restamp(restamp, (!analysed).then(|| Box::new(a.music)))
            } else {
                Done::Replace(path.into(), id, Box::new(a))
            }
        }
        // A plan naming a track always comes with its record.
        (_, None) => Done::Unchanged,
    })
}

fn params() -> sonica::fingerprint::FingerprintParams {
    sonica::fingerprint::FingerprintParams::index()
}

/// The writer's state through a run.
struct Writer<'a> {
    index: &'a FingerprintIndex,
    opts: &'a IngestOptions,
    writer: IngestWriter<'a>,
    report: Report,
    failures: Vec<Failure>,
    progress: Progress,
    audio_s: f64,
}

impl Writer<'_> {
    fn say(&self, line: impl FnOnce() -> String) {
        if self.opts.verbose {
            self.progress.line(&line());
        }
    }

    /// Counts a failure and, unless the output is JSON, says it on stderr
    /// (the failures file gets the list either way).
    fn fail(&mut self, f: Failure) {
        if !self.opts.json {
            self.progress
                .line(&format!("sonica-reindex: {}: {}", f.path, f.message));
        }
        self.report.failed += 1;
        self.failures.push(f);
    }

    /// Commits one result; a store failure ends the run.
    fn apply(&mut self, done: Done) -> Result<(), SonicaError> {
        let mut audio = 0.0;
        match done {
            Done::Add(path, a) => audio = self.admit(path, None, *a)?,
            Done::Replace(path, old, a) => audio = self.admit(path, Some(old), *a)?,
            Done::Restamp(r, music) => {
                self.index.update_record(&r)?;
                if let Some(m) = &music {
                    self.store_music(r.id, m)?;
                    self.report.analysed += 1;
                    audio = r.duration_s;
                }
                self.index.flush()?;
                self.report.unchanged += 1;
                self.report.restamped += 1;
                self.say(|| format!("restamped {}: {}", r.id, r.path));
            }
            Done::Analyse(r, m) => {
                self.store_music(r.id, &m)?;
                self.report.unchanged += 1;
                self.report.analysed += 1;
                audio = r.duration_s;
                self.say(|| format!("analysed {}: {}", r.id, r.path));
            }
            Done::Unchanged => self.report.unchanged += 1,
            Done::Queued => self.report.queued += 1,
            Done::Would(w, path) => {
                match w {
                    Would::Add => self.report.added += 1,
                    Would::Update => self.report.updated += 1,
                    Would::Restamp => {
                        self.report.unchanged += 1;
                        self.report.restamped += 1;
                    }
                    Would::Analyse => {
                        self.report.unchanged += 1;
                        self.report.analysed += 1;
                    }
                }
                self.say(|| format!("would {}: {path}", format!("{w:?}").to_lowercase()));
            }
            Done::Failed(f) => self.fail(f),
        }
        self.audio_s += audio;
        self.progress.done(audio);
        Ok(())
    }

    /// Stores a track's music analysis and Chromaprint (clearing a pending
    /// analysis), flushed.
    fn store_music(&self, id: TrackId, m: &Music) -> Result<(), SonicaError> {
        self.writer.store_music(id, m)?;
        Ok(())
    }

    /// Adds a new or changed file under the duplicate policy; returns the
    /// seconds of audio it holds.
    fn admit(&mut self, path: String, old: Option<TrackId>, a: Analysed) -> Result<f64, SonicaError> {
        let secs = a.print.info.duration_s;

        let t = new_track(&path, a.print, Some(a.music), &GivenTags::default());
        let slot = old.map_or(Slot::New, Slot::Replaces);
        // A changed file that now duplicates another track under `reject`
        // loses its old track too (the writer removes it): its old content
        // is gone from disk.
        let admitted = self.writer.write(t, self.opts.policy, slot)?;
        if let Some(e) = admitted.compaction_failed {
            return Err(e.into());
        }
        let dups: &mut DuplicateCounts = &mut self.report.duplicates;
        match (&admitted.record, admitted.duplicates.first()) {
            (None, d) => {
                dups.rejected += 1;
                let d = d.map(|d| format!("{} of track {} ({})", d.kind, d.of, d.of_path));
                self.say(|| format!("rejected {path}: {}", d.unwrap_or_default()));
                return Ok(0.0);
            }
            (Some(_), Some(_)) if self.opts.policy == OnDuplicate::Flag => dups.flagged += 1,
            (Some(_), Some(_)) => dups.kept += 1,
            (Some(_), None) => {}
        }
        let id = admitted.record.as_ref().map_or(0, |r| r.id);
        match old {
            Some(old) => {
                self.report.updated += 1;
                self.say(|| format!("updated {id} (was {old}): {path}"));
            }
            None => {
                self.report.added += 1;
                self.say(|| format!("added {id}: {path}"));
            }
        }
        Ok(secs)
    }

    /// Removes (or counts, in a dry run) the tracks under `folders` whose
    /// file is gone.
    fn prune(&mut self, folders: &[String]) -> Result<(), SonicaError> {
        for r in self.index.list()? {
            let gone = matches!(Path::new(&r.path).try_exists(), Ok(false));
            if !gone || !folders.iter().any(|f| is_under(&r.path, f)) {
                continue;
            }
            if !self.opts.dry_run {
                self.index.remove(r.id)?;
                self.index.flush()?;
            }
            self.report.pruned += 1;
            let verb = if self.opts.dry_run { "would prune" } else { "pruned" };
            self.say(|| format!("{verb} {}: {}", r.id, r.path));
        }
        Ok(())
    }
}

/// Runs prune (first, so a file moved within the tree is not mistaken for
/// a duplicate of its old self) and then the ingest of `files`. Returns the
/// report and the failures; `early` failures (missing arguments) come first.
pub fn run(
    index: &FingerprintIndex,
    files: Vec<String>,
    folders: &[String],
    early: Vec<Failure>,
    opts: &IngestOptions,
) -> Result<(Report, Vec<Failure>, f64), SonicaError> {
    let mut w = Writer {
        index,
        opts,
        writer: IngestWriter::new(index),
        report: Report {
            dry_run: opts.dry_run,
            files_seen: files.len(),
            ..Report::default()
        },
        failures: Vec::new(),
        progress: Progress::new(files.len(), !opts.json),
        audio_s: 0.0,
    };
    for f in early {
        w.fail(f);
    }
    if opts.prune {
        w.prune(folders)?;
    }
    let dry = opts.dry_run;
    let result = bulk::run(
        files,
        opts.jobs,
        |path| examine(index, path, dry).unwrap_or_else(|e| Done::Failed(failure(path, &e))),
        |_, done| w.apply(done),
    );
    w.progress.finish();
    result?;
    if !dry {
        w.writer.finish()?;
    }
    w.report.compactions = w.writer.compactions();
    Ok((w.report, w.failures, w.audio_s))
}

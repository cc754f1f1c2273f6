//! `sonica ingest`: add files and folders, with the duplicate policy, one
//! line (or JSON object) per file, and a progress bar on a terminal.

use std::io::IsTerminal;
use std::process::ExitCode;

use sonica::ingest::{self, IngestOptions, Outcome};
use sonica::Library;
use sonica_schema::{Duplicate, OnDuplicate};

/// The JSON line for one file: `{"path", "id" (null when rejected or
/// failed), "duplicate": null or the best duplicate}`, plus `"rejected":
/// true`, `"skipped"` or `"error"` where they apply.
pub fn outcome_json(o: &Outcome) -> serde_json::Value {
    match o {
        Outcome::Added { record, duplicates } => serde_json::json!({
            "path": record.path,
            "id": record.id,
            "duplicate": duplicate_json(duplicates),
        }),
        Outcome::Rejected { path, duplicates } => serde_json::json!({
            "path": path,
            "id": null,
            "duplicate": duplicate_json(duplicates),
            "rejected": true,
        }),
        Outcome::Skipped { path, id } => serde_json::json!({
            "path": path,
            "id": id,
            "duplicate": null,
            "skipped": "already in library",
        }),
        Outcome::Failed { path, error } => serde_json::json!({
            "path": path,
            "id": null,
            "duplicate": null,
            "error": {"code": error.code(), "message": error.to_string()},
        }),
    }
}

fn duplicate_json(d: &[Duplicate]) -> serde_json::Value {
    d.first().map_or(serde_json::Value::Null, |d| {
        serde_json::json!({
            "of": d.of,
            "of_path": d.of_path,
            "kind": d.kind,
            "overlap_s": d.overlap_s,
            "score": d.score,
        })
    })
}

fn describe(d: &Duplicate) -> String {
    format!(
        "{} of {} ({}), {:.1} s shared, score {:.2}",
        d.kind, d.of, d.of_path, d.overlap_s, d.score
    )
}

/// Runs the command; exit 1 when any file failed (rejections are the policy
/// working, not failures).
pub fn run(
    library: &Library,
    jobs: Option<usize>,
    json: bool,
    on_duplicate: OnDuplicate,
    fingerprint_only: bool,
    reference_genre: Option<&str>,
    paths: &[String],
) -> anyhow::Result<ExitCode> {
    let genre = match reference_genre.map(sonica::mastering::assistant::genre).transpose() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("sonica: --reference-genre: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut to_mark: Vec<u32> = Vec::new();
    let (files, early) = ingest::collect_inputs(paths);
    let mut opts = IngestOptions {
        on_duplicate,
        fingerprint_only,
        ..IngestOptions::default()
    };
    if let Some(j) = jobs {
        opts.jobs = j.max(1);
    }
    let bar = if std::io::stderr().is_terminal() && !files.is_empty() {
        let b = indicatif::ProgressBar::new(files.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  eta {eta}  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut failed = 0usize;
    let mut print = |o: &Outcome| {
        if let Some(b) = &bar {
            b.inc(1);
        }
        match o {
            Outcome::Added { record, .. } => to_mark.push(record.id),
            Outcome::Skipped { id, .. } => to_mark.push(*id),
            _ => {}
        }
        if let Outcome::Failed { path, error } = o {
            failed += 1;
            let msg = format!("sonica: {path}: {error}");
            match &bar {
                Some(b) => b.suspend(|| eprintln!("{msg}")),
                None => eprintln!("{msg}"),
            }
            if !json {
                return;
            }
        }
        let line = if json {
            outcome_json(o).to_string()
        } else {
            match o {
                Outcome::Added { record: r, duplicates } => match duplicates.first() {
                    None => format!(
                        "added {}: {} ({:.1} s, {} hashes)",
                        r.id, r.path, r.duration_s, r.hashes
                    ),
                    Some(d) => format!("added {}: {} — duplicate: {}", r.id, r.path, describe(d)),
                },
                Outcome::Rejected { path, duplicates } => match duplicates.first() {
                    Some(d) => format!("rejected {path}: {}", describe(d)),
                    None => format!("rejected {path}"),
                },
                Outcome::Skipped { path, id } => format!("skipped {path}: already in library as {id}"),
                Outcome::Failed { .. } => return,
            }
        };
        match &bar {
            Some(b) => b.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    };
    for o in &early {
        print(o);
    }
    let summary = ingest::ingest(library, files, &opts, &mut print)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(g) = &genre {
        for id in to_mark {
            match sonica::mastering::assistant::mark_reference(library.index(), library.mastering(), id, g) {
                Ok(_) => eprintln!("sonica: track {id} is a {g} reference"),
                Err(e) => {
                    failed += 1;
                    eprintln!("sonica: track {id}: cannot mark it as a reference: {e}");
                }
            }
        }
    }
    let rt = if summary.wall_seconds > 0.0 {
        summary.audio_seconds / summary.wall_seconds
    } else {
        0.0
    };
    eprintln!(
        "ingested {} tracks ({:.2} h of audio) in {:.1} s ({:.0}x realtime); {} duplicates added, {} rejected, {} skipped, {} failed",
        summary.added,
        summary.audio_seconds / 3600.0,
        summary.wall_seconds,
        rt,
        summary.duplicates,
        summary.rejected,
        summary.skipped,
        failed
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

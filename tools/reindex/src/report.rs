//! What a run tells its user: a progress bar while it works, one report at
//! the end (text, or a JSON object for scripts), and the failures in a
//! file, so a run over 50 000 files does not bury them in a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Duplicates met on the way, by what the policy did with them.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DuplicateCounts {
    pub rejected: usize,
    pub flagged: usize,
    pub kept: usize,
}

/// The totals of an ingest run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub data_dir: String,
    pub files_seen: usize,
    /// New tracks (with `--dry-run`: files that would be added).
    pub added: usize,
    /// Changed files fingerprinted again, replacing their old track.
    pub updated: usize,
    /// Files whose audio did not change (restamped ones included).
    pub unchanged: usize,
    /// Unchanged files whose bytes were read because size or mtime moved;
    /// only their stamp was refreshed.
    pub restamped: usize,
    /// Unchanged tracks whose missing analysis was filled in.
    pub analysed: usize,
    /// Files a queued job of the service already claims.
    pub queued: usize,
    pub duplicates: DuplicateCounts,
    pub pruned: usize,
    pub failed: usize,
    pub audio_hours: f64,
    pub wall_seconds: f64,
    pub x_realtime: f64,
    /// Where the failures were written (absent in a dry run).
    pub failures_file: Option<String>,
    pub compactions: usize,
}

impl Report {
    /// Fills in the figures derived from the others.
    pub fn finish(&mut self, started: Instant, audio_seconds: f64) {
        self.wall_seconds = round(started.elapsed().as_secs_f64(), 3);
        self.audio_hours = round(audio_seconds / 3600.0, 4);
        self.x_realtime = if self.wall_seconds > 0.0 {
            round(audio_seconds / self.wall_seconds, 1)
        } else {
            0.0
        };
    }

    /// The report as lines of text.
    pub fn human(&self) -> String {
        let would = if self.dry_run { "would be " } else { "" };
        let mut s = String::new();
        if self.dry_run {
            s.push_str("dry run: nothing was decoded or written\n");
        }
        let failed = match &self.failures_file {
            Some(f) if self.failed > 0 => format!("{} (listed in {f})", self.failed),
            _ => self.failed.to_string(),
        };
        let rows = [
            ("files seen".to_string(), self.files_seen.to_string()),
            (format!("{would}added"), self.added.to_string()),
            (format!("{would}updated"), self.updated.to_string()),
            (
                "unchanged".to_string(),
                format!("{} ({} restamped)", self.unchanged, self.restamped),
            ),
            (format!("{would}analysed"), self.analysed.to_string()),
            (
                "queued".to_string(),
                format!("{} (claimed by service jobs, left alone)", self.queued),
            ),
            (
                "duplicates".to_string(),
                format!(
                    "{} rejected, {} flagged, {} kept",
                    self.duplicates.rejected, self.duplicates.flagged, self.duplicates.kept
                ),
            ),
            (format!("{would}pruned"), self.pruned.to_string()),
            ("failed".to_string(), failed),
            (
                "audio".to_string(),
                format!(
                    "{:.2} h in {:.1} s ({:.0}x realtime)",
                    self.audio_hours, self.wall_seconds, self.x_realtime
                ),
            ),
        ];
        for (k, v) in rows {
            if k == "queued" && self.queued == 0 {
                continue; // only a library shared with a service has these
            }
            s.push_str(&format!("{k:<20}{v}\n"));
        }
        s
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// One file that could not be indexed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub path: String,
    pub code: String,
    pub message: String,
}

/// Writes the failures, one per line (`PATH<TAB>code: message`, or JSON
/// lines), replacing the file of an earlier run.
pub fn write_failures(file: &Path, failures: &[Failure], json: bool) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    for f in failures {
        if json {
            writeln!(out, "{}", serde_json::to_string(f).unwrap_or_default())?;
        } else {
            writeln!(out, "{}\t{}: {}", f.path, f.code, f.message)?;
        }
    }
    out.flush()
}

/// The progress bar on stderr: files, files/s, hours of audio and their
/// rate, ETA. Hidden unless stderr is a terminal (and not with `--json`).
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    audio_s: f64,
}

impl Progress {
    pub fn new(total: usize, show: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(
            Some(total as u64),
            if show && std::io::stderr().is_terminal() {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} files {per_sec:>12}  {msg}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            started: Instant::now(),
            audio_s: 0.0,
        }
    }

    /// One more file done, with `audio_s` seconds of audio decoded for it.
    pub fn done(&mut self, audio_s: f64) {
        self.audio_s += audio_s;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let hours = self.audio_s / 3600.0;
        self.bar
            .set_message(format!("{hours:.2} h audio, {:.2} h/s", hours / secs));
        self.bar.inc(1);
    }

    /// Prints a line without tearing the bar.
    pub fn line(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

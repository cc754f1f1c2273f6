//! `sonica master MIX`: the mastering assistant from the command line.
//!
//! With reference files only (`--reference a.wav --reference b.flac`) it
//! works on files, no library needed, and stores nothing. With `--genre G`
//! or a reference given as a library track id (`--reference 12`) it works
//! like `POST /api/analyze`: the target comes from the library (or a
//! built-in genre target) and the analysis is stored, its id printed.
//! Either way it prints the comparison (text or JSON) and the EQ curve as
//! a preset, and `--apply OUT.wav` renders the mix with the suggestion.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use sonica::mastering::assistant::{self, TargetChoice};
use sonica::mastering::compare::{compare, target_of, Comparison, Level, Target, PLATFORM_TRUE_PEAK_DBTP};
use sonica::mastering::{load, measure_file, render::render_to_loudness, write_wav, MAX_MASTER_S};
use sonica::{Library, OpenOptions};
use sonica_schema::mastering::MasteringProfile;

use super::args::MasterArgs;

/// A library track id, when `r` is a whole number and no such file exists.
fn as_track_id(r: &str) -> Option<u32> {
    r.parse::<u32>().ok().filter(|_| !Path::new(r).exists())
}

fn fail(what: &str, e: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("sonica: {what}: {e}");
    ExitCode::from(code)
}

/// Exit 0 on an answer, 1 when a file cannot be measured or written or a
/// reference or genre is unknown, 2 on a bad flag, 3 when the library
/// cannot be opened.
pub fn run(library: &sonica::options::LibraryArgs, a: &MasterArgs) -> ExitCode {
    let Some(level) = Level::parse(&a.level) else {
        eprintln!(
            "sonica: --level must be informative, suggestive or prescriptive, not {:?}",
            a.level
        );
        return ExitCode::from(2);
    };
    if !(a.apply_s.is_finite() && a.apply_s >= 0.0) {
        eprintln!(
            "sonica: --apply-s must be 0 (all) or a positive number of seconds, not {}",
            a.apply_s
        );
        return ExitCode::from(2);
    }
    let ids: Vec<Option<u32>> = a.references.iter().map(|r| as_track_id(r)).collect();
    let from_library = a.genre.is_some() || ids.iter().any(Option::is_some);
    let (profile, target, c, stored) = if from_library {
        let choice = match (&a.genre, a.references.is_empty()) {
            (Some(_), false) => {
                eprintln!("sonica: give --reference or --genre, not both");
                return ExitCode::from(2);
            }
            (Some(g), true) => TargetChoice::Genre(g.clone()),
            (None, _) => match ids.iter().copied().collect::<Option<Vec<u32>>>() {
                Some(ids) => TargetChoice::References(ids),
                None => {
                    eprintln!("sonica: references are either all files or all library track ids");
                    return ExitCode::from(2);
                }
            },
        };
        let dir = match library.data_dir() {
            Ok(d) => d,
            Err(e) => return fail("--data-dir", &e, 2),
        };
        let lib = match Library::open(&dir, &OpenOptions::recognition_only()) {
            Ok(l) => l,
            Err(e) => return fail("cannot open the library", &e, 3),
        };
        let keep = assistant::DEFAULT_KEEP;
        match assistant::analyze(
            lib.mastering(),
            Path::new(&a.mix),
            Some(a.mix.clone()),
            &choice,
            level,
            keep,
        ) {
            Ok(an) => (an.record.profile, an.record.target, an.comparison, Some(an.record.id)),
            Err(e) => {
                let usage = e.code() == sonica::error::ErrorCode::InvalidParameter;
                return fail(&a.mix, &e, if usage { 2 } else { 1 });
            }
        }
    } else {
        if a.references.is_empty() {
            eprintln!("sonica: give --reference (files or library track ids) or --genre");
            return ExitCode::from(2);
        }
        let profile = match measure_file(Path::new(&a.mix)) {
            Ok(p) => p,
            Err(e) => return fail(&a.mix, &e, 1),
        };
        let mut refs = Vec::with_capacity(a.references.len());
        for r in &a.references {
            match measure_file(Path::new(r)) {
                Ok(p) => refs.push(p),
                Err(e) => return fail(r, &e, 1),
            }
        }
        let target = target_of(&refs.iter().collect::<Vec<_>>());
        let c = compare(&profile, &target, level);
        (profile, target, c, None)
    };
    let mut out = std::io::stdout().lock();
    let written = if a.json {
        let v = serde_json::json!({
            "analysis_id": stored,
            "mix": profile,
            "comparison": c,
            "preset": c.preset(),
        });
        writeln!(out, "{v}")
    } else {
        writeln!(out, "{}", text(&a.mix, &c, stored))
    };
    if written.is_err() {
        return ExitCode::from(3);
    }
    match &a.apply {
        Some(path) => apply(a, &profile, &target, &c, path),
        None => ExitCode::SUCCESS,
    }
}

/// Renders the mix with the suggested curve to `path`.
fn apply(a: &MasterArgs, profile: &MasteringProfile, target: &Target, c: &Comparison, path: &str) -> ExitCode {
    let secs = if a.apply_s > 0.0 { a.apply_s } else { MAX_MASTER_S };
    let audio = match load(Path::new(&a.mix), secs) {
        Ok(x) => x,
        Err(e) => return fail(&a.mix, &e, 1),
    };
    let curve = if c.eq.is_empty() {
        compare(profile, target, Level::Prescriptive).eq
    } else {
        c.eq.clone()
    };
    let y = match render_to_loudness(
        &audio.samples,
        audio.channels,
        audio.rate,
        &curve,
        target.lufs.median,
        PLATFORM_TRUE_PEAK_DBTP,
    ) {
        Ok((y, _)) => y,
        Err(e) => return fail(&a.mix, &e, 1),
    };
    if let Err(e) = write_wav(Path::new(path), &y, audio.rate, audio.channels) {
        return fail(path, &e, 1);
    }
    ExitCode::SUCCESS
}

fn text(mix: &str, c: &Comparison, stored: Option<u64>) -> String {
    let mut s = format!("{mix}: against {} reference(s)\n", c.references);
    if let Some(id) = stored {
        s += &format!("  stored as analysis {id}\n");
    }
    if c.recommendations.is_empty() {
        s += "  nothing to change: every measure is within the references' range\n";
    }
    for r in &c.recommendations {
        s += &format!("  {}", r.message);
        if let Some(conf) = r.confidence {
            s += &format!(" (confidence {conf:.2})");
        }
        s += "\n";
    }
    if let Some(g) = c.gain_db {
        s += &format!("  gain {g:+.1} dB\n");
    }
    let p = c.preset();
    if !p.is_empty() {
        s += "  EQ preset (third-octave peaks):\n";
        for line in p.lines() {
            s += &format!("    {line}\n");
        }
    }
    s.trim_end().to_string()
}

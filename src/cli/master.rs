//! `sonica master MIX --reference REF…`: the mastering assistant from the
//! command line, on files (no library needed). Prints the comparison (text
//! or JSON), the EQ curve as a preset a user can type into an EQ, and with
//! `--apply OUT.wav` renders the mix with the suggestion.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use sonica::mastering::compare::{compare, target_of, Comparison, Level, PLATFORM_TRUE_PEAK_DBTP};
use sonica::mastering::{load, measure_file, render::render_to_loudness, write_wav, MAX_MASTER_S};

/// Exit 0 on an answer, 1 when a file cannot be measured or written, 2 on a
/// bad flag.
pub fn run(mix: &str, references: &[String], level: &str, json: bool, apply: Option<&str>, apply_s: f64) -> ExitCode {
    let Some(level) = Level::parse(level) else {
        eprintln!("sonica: --level must be informative, suggestive or prescriptive, not {level:?}");
        return ExitCode::from(2);
    };
    if !(apply_s.is_finite() && apply_s >= 0.0) {
        eprintln!("sonica: --apply-s must be 0 (all) or a positive number of seconds, not {apply_s}");
        return ExitCode::from(2);
    }
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("sonica: {what}: {e}");
        ExitCode::from(1)
    };
    let mix_profile = match measure_file(Path::new(mix)) {
        Ok(p) => p,
        Err(e) => return fail(mix, &e),
    };
    let mut refs = Vec::with_capacity(references.len());
    for r in references {
        match measure_file(Path::new(r)) {
            Ok(p) => refs.push(p),
            Err(e) => return fail(r, &e),
        }
    }
    let target = target_of(&refs.iter().collect::<Vec<_>>());
    let c = compare(&mix_profile, &target, level);
    let mut out = std::io::stdout().lock();
    let written = if json {
        let v = serde_json::json!({"mix": mix_profile, "comparison": c, "preset": preset(&c)});
        writeln!(out, "{v}")
    } else {
        writeln!(out, "{}", text(mix, &c))
    };
    if written.is_err() {
        return ExitCode::from(3);
    }
    if let Some(path) = apply {
        let secs = if apply_s > 0.0 { apply_s } else { MAX_MASTER_S };
        let audio = match load(Path::new(mix), secs) {
            Ok(a) => a,
            Err(e) => return fail(mix, &e),
        };
        let curve = if c.eq.is_empty() {
            compare(&mix_profile, &target, Level::Prescriptive).eq
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
            Err(e) => return fail(mix, &e),
        };
        if let Err(e) = write_wav(Path::new(path), &y, audio.rate, audio.channels) {
            return fail(path, &e);
        }
    }
    ExitCode::SUCCESS
}

/// The curve as text an EQ takes by hand: one band per line.
fn preset(c: &Comparison) -> String {
    c.eq.iter()
        .filter(|p| p.gain_db.abs() >= 0.1)
        .map(|p| format!("{:.0} Hz {:+.1} dB Q 4.3", p.hz, p.gain_db))
        .collect::<Vec<_>>()
        .join("\n")
}

fn text(mix: &str, c: &Comparison) -> String {
    let mut s = format!("{mix}: against {} reference(s)\n", c.references);
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
    let p = preset(c);
    if !p.is_empty() {
        s += "  EQ preset (third-octave peaks):\n";
        for line in p.lines() {
            s += &format!("    {line}\n");
        }
    }
    s.trim_end().to_string()
}

//! `sonica monitor`: recordings or live streams in, a play log out, one
//! line per play as each ends (one JSON object a line with `--json`).
//! A recording of any length is streamed, never held whole.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use sonica::monitor::source::Source;
use sonica::monitor::{scan, MonitorParams, Play, Report};
use sonica::net::NetPolicy;
use sonica::{Identifier, SonicaError};
use sonica_index::FingerprintIndex;

/// One `--json` line.
#[derive(Serialize)]
struct Line<'a> {
    source: &'a str,
    #[serde(flatten)]
    play: &'a Play,
}

pub fn run(
    index: &FingerprintIndex,
    json: bool,
    jobs: Option<usize>,
    window: f64,
    hop: f64,
    inputs: &[String],
) -> ExitCode {
    let params = MonitorParams {
        window_s: window,
        hop_s: hop,
        jobs: jobs.unwrap_or_else(sonica::pipeline::bulk::default_jobs).clamp(1, 64),
        ..MonitorParams::default()
    };
    if let Err(why) = params.check() {
        eprintln!("sonica: {why}");
        return ExitCode::from(2);
    }
    // The command line reaches what its user can: no address is off limits.
    let policy = NetPolicy {
        allow_private: true,
        ..NetPolicy::default()
    };
    let identifier = Identifier::new(index);
    let mut failed = false;
    for input in inputs {
        let result = Source::parse(input, &policy).and_then(|source| {
            let mut report = |r: Report| {
                if let Report::Ended(p) = r {
                    print_play(input, &p, json);
                }
            };
            scan(
                &identifier,
                &params,
                0.0,
                |push: &mut sonica::monitor::scan::Push<'_>| source.pull(&policy, push).map(|_| ()),
                &mut report,
            )
        });
        if let Err(e) = result {
            failed = true;
            report_error(input, &e, json);
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_play(source: &str, p: &Play, json: bool) {
    let mut out = std::io::stdout().lock();
    let _ = if json {
        let line = serde_json::to_string(&Line { source, play: p }).unwrap_or_default();
        writeln!(out, "{line}")
    } else {
        writeln!(
            out,
            "{}–{}  {} — {} (id {}, from {:.1} s in the track, confidence {:.2}, speed {:.3})",
            clock(p.start_s),
            clock(p.end_s),
            p.title,
            p.artist.as_deref().unwrap_or("unknown artist"),
            p.track,
            p.offset_in_track_s,
            p.confidence,
            p.speed
        )
    };
}

fn report_error(source: &str, e: &SonicaError, json: bool) {
    eprintln!("sonica: {source}: {e}");
    if json {
        let line = serde_json::json!({"source": source, "error": {"code": e.code(), "message": e.to_string()}});
        println!("{line}");
    }
}

/// Seconds as H:MM:SS.s.
fn clock(s: f64) -> String {
    let s = s.max(0.0);
    let h = (s / 3600.0).floor();
    let m = ((s - h * 3600.0) / 60.0).floor();
    format!("{}:{:02}:{:04.1}", h as u64, m as u64, s - h * 3600.0 - m * 60.0)
}

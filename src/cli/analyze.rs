//! `sonica analyze`: tempo, key, loudness, bands and vectors of files, with
//! no library involved (it opens no store, so it runs beside a service).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use sonica::analysis::{hits_json, summary_json, AnalysisOptions};
use sonica::decode::MAX_DURATION_S;
use sonica::pipeline::analyse_music;

/// Analyses each file; one JSON line (or a text block) per file. Exit 0 when
/// every file was analysed, 1 when any failed (each failure is reported on
/// its own line and the others still run).
pub fn run(args: &super::args::AnalyzeArgs) -> ExitCode {
    let json = args.json;
    let options = AnalysisOptions {
        hpss: args.hpss && !args.no_hpss,
        max_sections: args.max_sections,
    };
    let mut failed = 0usize;
    let mut out = std::io::stdout().lock();
    for f in &args.files {
        match analyse_music(Path::new(f), args.start_s, args.end_s, MAX_DURATION_S, options) {
            Ok(a) => {
                let mut v = summary_json(f, &a, args.vectors);
                if args.hits {
                    v["hits"] = hits_json(&a);
                }
                let line = if json {
                    serde_json::to_string(&v).unwrap_or_default()
                } else {
                    text_block(f, &v)
                };
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::from(3);
                }
            }
            Err(e) => {
                failed += 1;
                if json {
                    let v = serde_json::json!({"file": f, "error": {"code": e.code(), "message": e.to_string()}});
                    let _ = writeln!(out, "{v}");
                } else {
                    eprintln!("sonica: {f}: {e}");
                }
            }
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The human-readable form: the headline figures, one per line.
fn text_block(file: &str, v: &serde_json::Value) -> String {
    let num = |k: &str| v[k].as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    let mut s = format!("{file}\n");
    s += &format!("  tempo      {} BPM\n", num("tempo_bpm"));
    s += &format!(
        "  key        {} (strength {})\n",
        v["key"].as_str().unwrap_or("-"),
        num("key_strength")
    );
    s += &format!(
        "  loudness   {} LUFS, range {} LU, true peak {} dBTP\n",
        num("loudness_lufs"),
        num("loudness_range_lu"),
        num("true_peak_dbtp")
    );
    s += &format!("  duration   {} s", num("duration_s"));
    for sec in v["sections"].as_array().into_iter().flatten() {
        s += &format!(
            "\n  section    {:>7.1}–{:<7.1} s  {} {}",
            sec["start_s"].as_f64().unwrap_or(0.0),
            sec["end_s"].as_f64().unwrap_or(0.0),
            sec["label"].as_str().unwrap_or("-"),
            sec["function"].as_str().unwrap_or("-")
        );
    }
    s
}

//! `sonica analyze`, `similar` and `search` from the command line: a click
//! track at a known tempo, a sine at a known level, and a small library of
//! two styles queried with and without filters.

use std::path::Path;

use serde_json::Value;

use crate::audio::{self, write_wav, Fmt};
use crate::common::{sonica, stderr, stdout};
use crate::styles::{track, Style};

const RATE: u32 = 44_100;

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Clicks (2 ms bursts of a 2 kHz tone) every beat at `bpm`.
fn click_track(bpm: f32, secs: f32) -> Vec<f32> {
    let mut x = vec![0.0f32; (secs * RATE as f32) as usize];
    let period = 60.0 / bpm;
    let mut t = 0.0;
    while t < secs {
        let start = (t * RATE as f32) as usize;
        for i in 0..(0.002 * RATE as f32) as usize {
            if let Some(s) = x.get_mut(start + i) {
                *s = 0.9 * (std::f32::consts::TAU * 2000.0 * i as f32 / RATE as f32).sin();
            }
        }
        t += period;
    }
    x
}

#[test]
fn analyze_click_track_and_sine_level() {
    let dir = tempfile::tempdir().unwrap();
    let click = dir.path().join("click.wav");
    audio::wav(&click, &click_track(100.0, 30.0), RATE);
    let sine = dir.path().join("sine.wav");
    let s: Vec<f32> = (0..RATE as usize * 20)
        .map(|i| 0.1 * (std::f32::consts::TAU * 997.0 * i as f32 / RATE as f32).sin())
        .collect();
    write_wav(&sine, &s, RATE, 1, Fmt::F32);
    let out = sonica(
        &dir.path().join("unused"),
        &["analyze", "--json", click.to_str().unwrap(), sine.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), 2);
    let tempo = lines[0]["tempo_bpm"].as_f64().unwrap();
    assert!((tempo - 100.0).abs() <= 2.0, "click track at 100 BPM read as {tempo}");
    for field in [
        "file",
        "key",
        "key_strength",
        "loudness_range_lu",
        "duration_s",
        "bands",
    ] {
        assert!(!lines[0][field].is_null(), "{field} missing");
    }
    // A −20 dBFS 997 Hz sine in one channel reads −23.0 LUFS (EBU R128:
    // mean square −23.01 dB, K-weighting ≈ +0.69 dB at 1 kHz, −0.691 offset).
    let lufs = lines[1]["loudness_lufs"].as_f64().unwrap();
    assert!((lufs + 23.0).abs() < 0.2, "sine read as {lufs} LUFS");
    let tp = lines[1]["true_peak_dbtp"].as_f64().unwrap();
    assert!((tp + 20.0).abs() < 0.3, "true peak {tp}");
    // No library was created: analysis needs none.
    assert!(!dir.path().join("unused").exists());

    // Bad input: a missing file and a bad range, each one line, exit 1 / 2.
    let out = sonica(dir.path(), &["analyze", "--json", "/nonexistent.wav"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&stdout(&out))[0]["error"]["code"], "not_found");
    let out = sonica(
        dir.path(),
        &["analyze", "--start-s", "10", "--end-s", "5", click.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad time range"), "{}", stderr(&out));
}

fn write_track(dir: &Path, name: &str, style: Style, seed: u32) -> String {
    let p = dir.join(name);
    audio::wav(&p, &track(style, seed, 20.0, 22_050), 22_050);
    p.to_string_lossy().into_owned()
}

#[test]
fn similar_and_search_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("lib");
    let files = [
        write_track(dir.path(), "Neon Harbor.wav", Style::Beat, 31),
        write_track(dir.path(), "Neon Garden.wav", Style::Beat, 32),
        write_track(dir.path(), "Quiet Meadow.wav", Style::Calm, 41),
        write_track(dir.path(), "Quiet River.wav", Style::Calm, 42),
    ];
    // One worker, so ids follow the order of the files (with more, the
    // first to finish gets the first id).
    let mut args = vec!["ingest", "--jobs", "1"];
    args.extend(files.iter().map(String::as_str));
    let out = sonica(&data, &args);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = sonica(&data, &["similar", "--json", "1", "--top-k", "1", "--kind", "timbre"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = &json_lines(&stdout(&out))[0];
    assert_eq!(v["query"]["id"], 1);
    assert_eq!(v["results"][0]["id"], 2, "the other beat track: {v}");
    for field in ["id", "path", "title", "artist", "similarity"] {
        assert!(v["results"][0].get(field).is_some(), "{field} missing in {v}");
    }
    // By file: a new recording of the calm style finds the calm tracks.
    let probe = write_track(dir.path(), "probe.wav", Style::Calm, 49);
    let out = sonica(
        &data,
        &["similar", "--json", &probe, "--top-k", "2", "--kind", "timbre"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = &json_lines(&stdout(&out))[0];
    let got: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|id| [3, 4].contains(id)), "{v}");

    let out = sonica(&data, &["search", "--json", "neon"]);
    let v = &json_lines(&stdout(&out))[0];
    assert_eq!(v["total"], 2, "{v}");
    let out = sonica(&data, &["search", "--json", "quiett"]);
    assert_eq!(json_lines(&stdout(&out))[0]["total"], 2, "one typo");

    // Bad parameters exit 2 with the reason; an unknown id exits 1.
    let out = sonica(&data, &["similar", "1", "--tempo-min", "150", "--tempo-max", "90"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("greater than tempo_max"), "{}", stderr(&out));
    let out = sonica(&data, &["similar", "1", "--key", "Q major"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sonica(&data, &["similar", "1", "--top-k", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sonica(&data, &["similar", "--json", "77"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&stdout(&out))[0]["error"]["code"], "unknown_track");

    // Removing a track drops it from both indexes.
    assert!(sonica(&data, &["remove", "2"]).status.success());
    let out = sonica(&data, &["similar", "--json", "1", "--top-k", "10"]);
    let v = &json_lines(&stdout(&out))[0];
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["id"] != 2), "{v}");
    let out = sonica(&data, &["search", "--json", "neon"]);
    assert_eq!(json_lines(&stdout(&out))[0]["total"], 1);
}

//! Duplicate detection end to end, on generated audio: every kind, the
//! near miss (the same tune re-arranged), each policy through the CLI and
//! through HTTP, and the duplicate groups.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::audio::{self, write_wav, Fmt, Rng};
use crate::common::{sonica, stderr, stdout};
use crate::server::{wav_bytes, Part, Server};

const RATE: u32 = 44_100;

/// A tune: (start beat, beats, MIDI note) for melody and bass.
fn tune(seed: u32, beats: usize) -> Vec<(f32, f32, i32)> {
    let mut rng = Rng::new(seed);
    let scale = [0, 2, 4, 5, 7, 9, 11, 12];
    let mut notes = Vec::new();
    let mut b = 0.0;
    while (b as usize) < beats {
        let len = if rng.next_u32() % 3 == 0 { 1.0 } else { 0.5 };
        notes.push((b, len, 60 + scale[(rng.next_u32() % 8) as usize]));
        b += len;
    }
    for k in (0..beats).step_by(2) {
        notes.push((k as f32, 2.0, 43 + scale[(rng.next_u32() % 5) as usize]));
    }
    notes
}

/// Renders a tune: `bpm`, transposed by `shift` semitones, with
/// `harmonics` per note and hats on every `hat` beats.
fn render(notes: &[(f32, f32, i32)], bpm: f32, shift: i32, harmonics: usize, hat: f32) -> Vec<f32> {
    let beat = 60.0 / bpm;
    let end = notes.iter().map(|n| n.0 + n.1).fold(0.0, f32::max) * beat + 0.5;
    let mut out = vec![0.0f32; (end * RATE as f32) as usize];
    for &(start, len, note) in notes {
        let f = 440.0 * 2f32.powf((note + shift - 69) as f32 / 12.0);
        let s0 = (start * beat * RATE as f32) as usize;
        for i in 0..(len * beat * RATE as f32) as usize {
            let Some(o) = out.get_mut(s0 + i) else { break };
            let t = i as f32 / RATE as f32;
            let env = (t / 0.01).min(1.0) * (-t * 2.5).exp();
            let v: f32 = (1..=harmonics)
                .map(|h| (std::f32::consts::TAU * f * h as f32 * t).sin() / h as f32)
                .sum();
            *o += 0.2 * env * v;
        }
    }
    let mut rng = Rng::new(harmonics as u32 * 7 + 1);
    let mut t = 0.0;
    while t < end {
        let s0 = (t * RATE as f32) as usize;
        for i in 0..(0.03 * RATE as f32) as usize {
            if let Some(o) = out.get_mut(s0 + i) {
                *o += rng.unit() * 0.1 * (-(i as f32) / 300.0).exp();
            }
        }
        t += hat * beat;
    }
    audio::normalise(&mut out, 0.5);
    out
}

/// The original recording of tune `seed` (about 64 s at 120 bpm).
fn original(seed: u32) -> Vec<f32> {
    render(&tune(seed, 128), 120.0, 0, 4, 1.0)
}

fn write(dir: &Path, name: &str, x: &[f32], rate: u32, channels: u16) -> PathBuf {
    let p = dir.join(name);
    write_wav(&p, x, rate, channels, Fmt::I16);
    p
}

/// The variants of `x`, by the kind each should be found as.
fn variants(dir: &Path, x: &[f32], other: &[f32]) -> Vec<(PathBuf, &'static str)> {
    let mut louder: Vec<f32> = vec![0.0; 2 * RATE as usize];
    louder.extend(x.iter().map(|v| v * 1.41));
    let mut medley = other[..20 * RATE as usize].to_vec();
    medley.extend_from_slice(x);
    medley.extend_from_slice(&other[20 * RATE as usize..40 * RATE as usize]);
    vec![
        (
            write(dir, "resampled-stereo.wav", &audio::to_rate(x, RATE, 22_050), 22_050, 2),
            "same_recording",
        ),
        (write(dir, "louder-silence.wav", &louder, RATE, 1), "same_recording"),
        (
            write(dir, "lofi.wav", &audio::degrade(x, RATE), RATE, 1),
            "same_recording",
        ),
        (
            write(dir, "section.wav", &audio::slice(x, RATE, 20.0, 25.0), RATE, 1),
            "section_of",
        ),
        (write(dir, "medley.wav", &medley, RATE, 1), "contains"),
    ]
}

/// The same tune re-arranged: another timbre, a tone higher, 6 % slower,
/// hats on the off-beat pairs. A cover, not a copy.
fn arrangement(seed: u32) -> Vec<f32> {
    render(&tune(seed, 128), 113.0, 2, 2, 0.5)
}

fn lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ingest(data: &Path, policy: &str, files: &[&Path]) -> Vec<Value> {
    let mut args = vec!["ingest", "--json", "--on-duplicate", policy];
    let names: Vec<String> = files.iter().map(|p| p.to_str().unwrap().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let o = sonica(data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    lines(&stdout(&o))
}

#[test]
fn cli_finds_every_kind_and_leaves_the_arrangement_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let x = original(11);
    let other = original(12);
    let a = write(dir.path(), "a.wav", &x, RATE, 1);
    let b = write(dir.path(), "b.wav", &other, RATE, 1);
    let added = ingest(&data, "flag", &[&a, &b]);
    assert!(added.iter().all(|r| r["duplicate"].is_null()), "{added:?}");
    // Ids are given in the order files finish, not the order given.
    let a_id = added
        .iter()
        .find(|r| r["path"] == a.to_str().unwrap())
        .and_then(|r| r["id"].as_u64())
        .unwrap();

    let copy = dir.path().join("copy.wav");
    std::fs::copy(&a, &copy).unwrap();
    let mut cases = vec![(copy, "exact")];
    cases.extend(variants(dir.path(), &x, &other));
    for (file, kind) in &cases {
        let r = &ingest(&data, "reject", &[file])[0];
        assert!(r["id"].is_null(), "{} should be rejected: {r}", file.display());
        let d = &r["duplicate"];
        assert_eq!(d["kind"], *kind, "{}: {r}", file.display());
        assert_eq!(d["of"].as_u64(), Some(a_id), "{}: {r}", file.display());
        assert_eq!(d["of_path"], a.to_str().unwrap());
        assert!(d["score"].as_f64().unwrap() > 0.0 && d["score"].as_f64().unwrap() <= 1.0);
    }
    let section = &ingest(&data, "reject", &[&cases[4].0])[0];
    let overlap = section["duplicate"]["overlap_s"].as_f64().unwrap();
    assert!((overlap - 25.0).abs() < 2.0, "a 25 s section shares {overlap} s");

    let cover = write(dir.path(), "cover.wav", &arrangement(11), RATE, 1);
    let r = &ingest(&data, "reject", &[&cover])[0];
    assert!(r["duplicate"].is_null(), "an arrangement is not a duplicate: {r}");
    assert!(r["id"].as_u64().is_some());
    let listed = stdout(&sonica(&data, &["list", "--json"]));
    assert_eq!(listed.lines().count(), 3, "rejected files are not stored");
}

#[test]
fn cli_policies_mark_keep_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let x = original(21);
    let a = write(dir.path(), "a.wav", &x, RATE, 1);
    ingest(&data, "flag", &[&a]);
    let o = sonica(&data, &["duplicates", "--json"]);
    let none: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(none["groups"].as_array().unwrap().len(), 0);

    let v = variants(dir.path(), &x, &original(22));
    let flagged = &ingest(&data, "flag", &[&v[0].0])[0];
    let kept = &ingest(&data, "keep", &[&v[1].0])[0];
    let (f, k) = (flagged["id"].as_u64().unwrap(), kept["id"].as_u64().unwrap());
    assert_eq!(flagged["duplicate"]["kind"], "same_recording");
    assert_eq!(kept["duplicate"]["kind"], "same_recording", "keep still reports it");

    let records: Vec<Value> = lines(&stdout(&sonica(&data, &["list", "--json"])));
    let rec = |id: u64| records.iter().find(|r| r["id"].as_u64() == Some(id)).unwrap().clone();
    assert_eq!(rec(f)["duplicate_of"]["of"].as_u64(), Some(1), "flag marks the record");
    assert!(rec(k).get("duplicate_of").is_none(), "keep does not: {}", rec(k));
    assert_eq!(rec(1)["sha256"].as_str().unwrap().len(), 64);

    let o = sonica(&data, &["duplicates", "--json"]);
    let g: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{g}");
    assert_eq!(groups[0]["tracks"], serde_json::json!([1, f, k]));
    let text = stdout(&sonica(&data, &["duplicates"]));
    assert!(text.contains("same_recording"), "{text}");

    let bad = sonica(&data, &["ingest", "--on-duplicate", "drop", a.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("reject, flag or keep"), "{}", stderr(&bad));

    // The two copies still duplicate each other without the original;
    // removing one of them too leaves no group.
    assert!(sonica(&data, &["remove", "1"]).status.success());
    let g: Value = serde_json::from_str(&stdout(&sonica(&data, &["duplicates", "--json"]))).unwrap();
    assert_eq!(g["groups"][0]["tracks"], serde_json::json!([f, k]), "{g}");
    assert!(sonica(&data, &["remove", &f.to_string()]).status.success());
    let g: Value = serde_json::from_str(&stdout(&sonica(&data, &["duplicates", "--json"]))).unwrap();
    assert_eq!(g["groups"].as_array().unwrap().len(), 0, "{g}");
}

#[test]
fn http_policies_and_duplicate_groups() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let x = original(31);
    let bytes = wav_bytes(dir.path(), "a.wav", &x, RATE);
    let a = s.upload("a.wav", &bytes);
    let ready = s.wait_final(a);
    assert_eq!(ready["status"], "READY", "{ready}");
    assert_eq!(ready["sha256"].as_str().unwrap().len(), 64);
    let print = ready["chromaprint"].as_str().expect("a chromaprint");
    assert!(print.len() > 100 && print.starts_with("AQ"), "{print}");

    // Exact copy, rejected at once.
    let r = s.post_form(
        "/tracks?on_duplicate=reject",
        &[Part::file("file", "copy.wav", &bytes)],
        &[],
    );
    assert_eq!(r.status, 409, "{}", r.json);
    assert_eq!(r.json["error"]["code"], "duplicate");
    assert_eq!(r.json["error"]["duplicates"][0]["kind"], "exact");
    assert_eq!(r.json["error"]["duplicates"][0]["of"].as_u64(), Some(u64::from(a)));

    // Another encoding, rejected by the job; its file does not stay.
    let resampled = wav_bytes(dir.path(), "r.wav", &audio::to_rate(&x, RATE, 22_050), 22_050);
    let r = s.post_form(
        "/tracks",
        &[
            Part::file("file", "resampled.wav", &resampled),
            Part::text("on_duplicate", "reject"),
        ],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let rejected = s.wait_final(r.json["id"].as_u64().unwrap() as u32);
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["duplicates"][0]["kind"], "same_recording");
    assert_eq!(rejected["error"]["code"], "duplicate");
    let path = rejected["path"].as_str().unwrap();
    assert!(!Path::new(path).exists(), "a rejected upload leaves no file");
    // A REJECTED job once made every scrape panic (and drop the connection).
    for _ in 0..2 {
        let (status, body) = s.get_bytes("/metrics");
        assert_eq!(status, 200);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("sonica_jobs_stored{status=\"rejected\"} 1"), "{text}");
    }

    // Default policy (flag) marks; keep does not.
    let section = wav_bytes(dir.path(), "s.wav", &audio::slice(&x, RATE, 10.0, 30.0), RATE);
    let f = s.upload("section.wav", &section);
    let flagged = s.wait_final(f);
    assert_eq!(flagged["status"], "READY");
    assert_eq!(flagged["duplicate_of"]["kind"], "section_of", "{flagged}");
    let louder: Vec<f32> = x.iter().map(|v| v * 1.41).collect();
    let louder = wav_bytes(dir.path(), "l.wav", &louder, RATE);
    let r = s.post_form(
        "/tracks?on_duplicate=keep",
        &[Part::file("file", "louder.wav", &louder)],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let k = r.json["id"].as_u64().unwrap() as u32;
    let kept = s.wait_final(k);
    assert_eq!(kept["status"], "READY");
    assert!(kept.get("duplicate_of").is_none(), "{kept}");

    let g = s.get("/duplicates");
    assert_eq!(g.status, 200);
    let groups = g.json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{}", g.json);
    assert_eq!(groups[0]["tracks"], serde_json::json!([a, f, k]));

    let bad = s.post_form(
        "/tracks?on_duplicate=sometimes",
        &[Part::file("file", "x.wav", &bytes)],
        &[],
    );
    assert_eq!(bad.status, 400, "{}", bad.json);
    assert_eq!(bad.json["error"]["code"], "invalid_parameter");
}

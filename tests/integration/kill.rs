//! A kill -9 in the middle of an ingest leaves a consistent store: every
//! track reported done is identifiable, nothing half-written is visible,
//! and a rerun completes the job.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::audio;
use crate::common::{bin, identify_path};

#[test]
fn killed_ingest_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let music = d.join("music");
    std::fs::create_dir_all(&music).unwrap();
    let rate = 22_050;
    let n = 12;
    for s in 0..n {
        audio::wav(
            &music.join(format!("k{s:02}.wav")),
            &audio::song(500 + s, 30.0, rate),
            rate,
        );
    }
    let data = d.join("db");
    let mut child = Command::new(bin())
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "ingest",
            "--json",
            "--jobs",
            "1",
            music.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reported = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(l)) = lines.next() {
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        reported.push(v["path"].as_str().unwrap().to_string());
        if reported.len() == 3 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(reported.len(), 3, "ingest reported too few tracks before the kill");

    {
        let index = sonica::Library::open(&data, &sonica::OpenOptions::default()).unwrap();
        let records = index.list().unwrap();
        assert!(
            records.len() >= 3 && records.len() < n as usize,
            "{} records",
            records.len()
        );
        for r in &records {
            // Every visible track is whole: its peaks are stored too.
            assert!(!index.peaks(r.id).unwrap().is_empty());
        }
        for p in &reported {
            assert!(records.iter().any(|r| &r.path == p), "{p} reported but missing");
            let s: u32 = p[p.len() - 6..p.len() - 4].parse().unwrap();
            let clip = d.join(format!("clip{s}.wav"));
            audio::wav(
                &clip,
                &audio::slice(&audio::song(500 + s, 30.0, rate), rate, 10.0, 5.0),
                rate,
            );
            assert_eq!(identify_path(&index, &clip).as_deref(), Some(p.as_str()));
        }
    }

    // The rerun skips what is there and adds the rest.
    let out = Command::new(bin())
        .args(["--data-dir", data.to_str().unwrap(), "ingest", music.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let index = sonica::Library::open(&data, &sonica::OpenOptions::default()).unwrap();
    assert_eq!(index.list().unwrap().len(), n as usize);
    let s = 11;
    let clip = d.join("clip-last.wav");
    audio::wav(
        &clip,
        &audio::slice(&audio::song(500 + s, 30.0, rate), rate, 10.0, 5.0),
        rate,
    );
    assert!(identify_path(&index, &clip).unwrap().ends_with("k11.wav"));
}

//! Ingest generated songs, then identify degraded clips of them — and refuse
//! clips of songs that were never ingested.

use std::path::Path;

use sonica::ingest::{collect_inputs, ingest, IngestOptions, Outcome};
use sonica::{Library, OpenOptions};

use crate::audio::{self, Fmt};
use crate::common::identify_path;

const RATE: u32 = 44_100;
const SONGS: u32 = 5;
const SECS: f32 = 24.0;

fn build_library(dir: &Path) -> (Library, Vec<String>) {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for s in 0..SONGS {
        let x = audio::song(100 + s, SECS, RATE);
        audio::write_wav(&music.join(format!("song{s}.wav")), &x, RATE, 2, Fmt::I16);
    }
    let index = Library::open(&dir.join("db"), &OpenOptions::default()).unwrap();
    let (files, errors) = collect_inputs(&[music.to_string_lossy().into_owned()]);
    assert!(errors.is_empty());
    let mut added = Vec::new();
    let summary = ingest(&index, files, &IngestOptions::default(), &mut |o| {
        if let Outcome::Added { record: r, .. } = o {
            added.push(r.path.clone());
        }
    })
    .unwrap();
    assert_eq!(summary.added, SONGS as usize);
    assert_eq!(summary.failed, 0);
    added.sort();
    (index, added)
}

#[test]
fn degraded_clips_are_identified_and_unknown_audio_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (index, paths) = build_library(dir.path());
    let clips = dir.path().join("clips");
    std::fs::create_dir_all(&clips).unwrap();
    let expect = |s: u32| {
        paths
            .iter()
            .find(|p| p.ends_with(&format!("song{s}.wav")))
            .unwrap()
            .clone()
    };

    for s in 0..SONGS {
        let x = audio::song(100 + s, SECS, RATE);
        let start = 3.0 + s as f32 * 2.5;
        let clean = audio::slice(&x, RATE, start, 5.0);
        let cases: Vec<(&str, Vec<f32>, u32)> = vec![
            ("clean-16k", audio::to_rate(&clean, RATE, 16_000), 16_000),
            ("noise-5db", audio::add_noise(&clean, 5.0, s), RATE),
            (
                "noise-0db-10s",
                audio::add_noise(&audio::slice(&x, RATE, start, 10.0), 0.0, s + 7),
                RATE,
            ),
            ("lowpass-8bit", audio::degrade(&clean, RATE), RATE),
            (
                "speed+3%",
                audio::change_speed(&audio::slice(&x, RATE, start, 10.0), 1.03),
                RATE,
            ),
            (
                "speed-3%",
                audio::change_speed(&audio::slice(&x, RATE, start, 10.0), 0.97),
                RATE,
            ),
        ];
        for (name, pcm, rate) in cases {
            let p = clips.join(format!("s{s}-{name}.wav"));
            audio::wav(&p, &pcm, rate);
            assert_eq!(identify_path(&index, &p), Some(expect(s)), "song {s}, {name}");
        }
    }

    // Songs never ingested, clean and noisy: no answer rather than a wrong one.
    for s in 0..8 {
        let x = audio::song(900 + s, 12.0, RATE);
        let p = clips.join(format!("unknown{s}.wav"));
        let clip = if s % 2 == 0 { x } else { audio::add_noise(&x, 0.0, s) };
        audio::wav(&p, &clip, RATE);
        let (pcm, _) = sonica::decode::load_clip(&p).unwrap();
        let ev = sonica::Identifier::new(&index).explain_pcm(&pcm).unwrap().1;
        assert_eq!(identify_path(&index, &p), None, "unknown song {s} matched: {ev:?}");
    }
    // Pure noise neither.
    let p = clips.join("noise.wav");
    audio::wav(&p, &audio::add_noise(&vec![0.0; RATE as usize * 8], 0.0, 3), RATE);
    assert_eq!(identify_path(&index, &p), None);
}

#[test]
fn removed_tracks_are_no_longer_identified() {
    let dir = tempfile::tempdir().unwrap();
    let (index, paths) = build_library(dir.path());
    let x = audio::song(100, SECS, RATE);
    let p = dir.path().join("clip.wav");
    audio::wav(&p, &audio::slice(&x, RATE, 4.0, 6.0), RATE);
    assert_eq!(identify_path(&index, &p), Some(paths[0].clone()));
    let id = index.id_by_path(&paths[0]).unwrap().unwrap();
    index.remove(id).unwrap();
    assert_eq!(identify_path(&index, &p), None);
    index.compact().unwrap();
    assert_eq!(identify_path(&index, &p), None);
    // The others still answer after the purge.
    let y = audio::song(101, SECS, RATE);
    let q = dir.path().join("clip1.wav");
    audio::wav(&q, &audio::slice(&y, RATE, 4.0, 6.0), RATE);
    assert_eq!(identify_path(&index, &q), Some(paths[1].clone()));
}

#[test]
fn offset_is_reported_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = build_library(dir.path());
    let x = audio::song(102, SECS, RATE);
    let p = dir.path().join("clip.wav");
    audio::wav(&p, &audio::slice(&x, RATE, 11.0, 5.0), RATE);
    let (pcm, _) = sonica::decode::load_clip(&p).unwrap();
    let m = sonica::Identifier::new(&index).identify_pcm(&pcm).unwrap().unwrap();
    assert!((m.offset_s - 11.0).abs() < 0.1, "offset {}", m.offset_s);
    assert!(m.duration_s > 2.0 && m.duration_s <= 5.1, "duration {}", m.duration_s);
    assert!((m.speed - 1.0).abs() < 1e-6);
}

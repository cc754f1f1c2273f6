//! The bad-input list: every case gets one precise error, nothing panics,
//! the batch carries on, and the store is left as it was.

use std::path::Path;

use crate::audio::{self, Fmt};
use crate::common::{fixture, sonica, stderr, stdout};

fn truncate_copy(src: &Path, dst: &Path, keep: f64) {
    let b = std::fs::read(src).unwrap();
    let n = (b.len() as f64 * keep) as usize;
    std::fs::write(dst, &b[..n]).unwrap();
}

/// Ingests each bad file in one batch beside a good one, and checks the
/// error code each gets.
#[test]
fn every_bad_input_gets_a_clear_error_and_the_batch_continues() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("db");
    let bad = d.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::create_dir_all(d.join("no-audio")).unwrap();
    std::fs::write(d.join("no-audio/readme.txt"), "hello").unwrap();

    std::fs::write(bad.join("empty.mp3"), b"").unwrap();
    let mut rng = audio::Rng::new(9);
    let random: Vec<u8> = (0..4096).map(|_| rng.next_u32() as u8).collect();
    std::fs::write(bad.join("random.flac"), &random).unwrap();
    std::fs::write(bad.join("text.mp3"), "This is not an MP3 file at all.\n".repeat(40)).unwrap();
    truncate_copy(&fixture("melody_clip_32k.mp3"), &bad.join("trunc.mp3"), 0.02);
    truncate_copy(&fixture("melody_5s.flac"), &bad.join("trunc.flac"), 0.5);
    truncate_copy(&fixture("melody.ogg"), &bad.join("trunc.ogg"), 0.01);
    truncate_copy(&fixture("melody.ogg"), &bad.join("half.ogg"), 0.5);
    truncate_copy(&fixture("melody_clip_32k.mp3"), &bad.join("half.mp3"), 0.5);
    audio::wav(&bad.join("zero.wav"), &[], 44_100);
    audio::wav(&bad.join("one.wav"), &[0.5], 44_100);
    audio::wav(&bad.join("silence.wav"), &vec![0.0; 44_100 * 5], 44_100);
    let good = d.join("good.wav");
    audio::wav(&good, &audio::song(5, 8.0, 22_050), 22_050);

    let cases: &[(&str, &str)] = &[
        ("empty.mp3", "file is empty"),
        ("random.flac", "not a recognised audio format"),
        ("text.mp3", "text, not audio"),
        ("trunc.mp3", "MP3"),
        ("trunc.flac", "truncated FLAC"),
        ("trunc.ogg", "OGG"),
        ("half.ogg", "truncated OGG Vorbis file"),
        ("half.mp3", "truncated MP3 file"),
        ("zero.wav", "no audio"),
        ("one.wav", "too short"),
        ("silence.wav", "silent"),
    ];
    let mut args: Vec<String> = vec!["ingest".into(), "--json".into()];
    for (f, _) in cases {
        args.push(bad.join(f).to_string_lossy().into_owned());
    }
    args.push(d.join("missing.wav").to_string_lossy().into_owned());
    args.push(d.join("no-audio").to_string_lossy().into_owned());
    args.push(good.to_string_lossy().into_owned());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sonica(&data, &argv);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "some failed → exit 1\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for (f, needle) in cases {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("/{f}:")))
            .unwrap_or_else(|| panic!("no error line for {f}:\n{err}"));
        assert!(line.contains(needle), "{f}: expected '{needle}' in '{line}'");
    }
    assert!(err.contains("missing.wav: no such file"), "{err}");
    assert!(err.contains("no-audio: folder contains no audio"), "{err}");

    // JSON lines: one per input, the good file added, the rest with codes.
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), cases.len() + 3, "{}", stdout(&out));
    let added: Vec<_> = lines.iter().filter(|v| v["id"].is_u64()).collect();
    assert_eq!(added.len(), 1);
    assert!(added[0]["path"].as_str().unwrap().ends_with("good.wav"));
    assert!(lines
        .iter()
        .filter(|v| v["id"].is_null())
        .all(|v| v["error"]["code"].is_string()));

    // The store holds exactly the good track.
    let list = sonica(&data, &["list", "--json"]);
    assert_eq!(stdout(&list).lines().count(), 1, "{}", stdout(&list));
}

#[test]
fn unusual_but_valid_formats_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x48 = audio::song(21, 6.0, 48_000);
    audio::write_wav(&d.join("six-channel.wav"), &x48, 48_000, 6, Fmt::I16);
    audio::write_wav(&d.join("rate8k.wav"), &audio::song(22, 6.0, 8_000), 8_000, 1, Fmt::I16);
    audio::write_wav(
        &d.join("rate192k.wav"),
        &audio::song(23, 6.0, 192_000),
        192_000,
        2,
        Fmt::I24,
    );
    audio::write_wav(&d.join("u8.wav"), &audio::song(24, 6.0, 22_050), 22_050, 1, Fmt::U8);
    audio::write_wav(&d.join("i32.wav"), &audio::song(25, 6.0, 44_100), 44_100, 2, Fmt::I32);
    audio::write_wav(&d.join("f32.wav"), &audio::song(26, 6.0, 44_100), 44_100, 2, Fmt::F32);
    let out = sonica(&d.join("db"), &["ingest", d.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&sonica(&d.join("db"), &["list", "--json"]));
    let recs: Vec<serde_json::Value> = list.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 6);
    let six = recs
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("six-channel.wav"))
        .unwrap();
    assert_eq!(six["channels"], 6);
    assert_eq!(six["sample_rate"], 48_000);
    for r in &recs {
        let d = r["duration_s"].as_f64().unwrap();
        assert!((d - 6.0).abs() < 0.05, "{r}");
    }
}

/// A 3-hour file streams through without holding the whole signal.
#[test]
fn three_hour_file_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 8_000;
    // 3 h made of 90 s of music repeated, written in streaming fashion.
    let unit = audio::song(31, 90.0, rate);
    let secs = 3 * 3600;
    let total = secs as usize * rate as usize;
    let path = dir.path().join("long.wav");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let data_len = (total * 2) as u32;
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data_len).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * 2).to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        f.write_all(&h).unwrap();
        let block: Vec<u8> = unit.iter().flat_map(|v| ((v * 32767.0) as i16).to_le_bytes()).collect();
        let mut written = 0;
        while written < total * 2 {
            let n = block.len().min(total * 2 - written);
            f.write_all(&block[..n]).unwrap();
            written += n;
        }
    }
    let out = sonica(&dir.path().join("db"), &["ingest", "--json", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&sonica(&dir.path().join("db"), &["list", "--json"]));
    let r: serde_json::Value = serde_json::from_str(list.lines().next().unwrap()).unwrap();
    assert!((r["duration_s"].as_f64().unwrap() - secs as f64).abs() < 1.0);
}

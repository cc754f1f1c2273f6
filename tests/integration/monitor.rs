//! `sonica monitor` on a generated "broadcast": songs from the library,
//! unknown music and noise between them, one song played twice. The play
//! log must name each play once, in order, with its times, and nothing
//! else; hostile inputs get one precise error each.

use crate::audio;
use crate::common::{sonica, stderr, stdout};

const RATE: u32 = 8000;

fn seconds(x: &[f32]) -> f64 {
    x.len() as f64 / f64::from(RATE)
}

/// Quiet hiss: no music, so no plays.
fn noise(secs: f32, seed: u32) -> Vec<f32> {
    let mut rng = audio::Rng::new(seed);
    (0..(secs * RATE as f32) as usize).map(|_| 0.05 * rng.unit()).collect()
}

#[test]
fn a_recording_becomes_a_play_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let songs: Vec<Vec<f32>> = (0..3).map(|i| audio::song(4100 + i, 60.0, RATE)).collect();
    let mut paths = Vec::new();
    for (i, s) in songs.iter().enumerate() {
        let p = dir.path().join(format!("song{i}.wav"));
        audio::wav(&p, s, RATE);
        paths.push(p.to_str().unwrap().to_string());
    }
    let mut args = vec!["ingest", "--fingerprint-only"];
    args.extend(paths.iter().map(String::as_str));
    let o = sonica(&data, &args);
    assert!(o.status.success(), "{}", stderr(&o));

    // noise 8 s | song0 from 5 s, 30 s | unknown 15 s | song1 from 0, 35 s |
    // noise 10 s | song0 again from 20 s, 25 s | noise 6 s
    let unknown = audio::song(9999, 15.0, RATE);
    let mut show: Vec<f32> = noise(8.0, 1);
    let mut truth = Vec::new();
    let mut play = |show: &mut Vec<f32>, which: usize, from: f32, len: f32| {
        let start = seconds(show);
        show.extend(audio::slice(&songs[which], RATE, from, len));
        truth.push((which, start, seconds(show), f64::from(from)));
    };
    play(&mut show, 0, 5.0, 30.0);
    show.extend(&unknown);
    play(&mut show, 1, 0.0, 35.0);
    show.extend(noise(10.0, 3));
    play(&mut show, 0, 20.0, 25.0);
    show.extend(noise(6.0, 5));
    let show = audio::add_noise(&show, 25.0, 7);
    let rec = dir.path().join("show.wav");
    audio::wav(&rec, &show, RATE);

    let o = sonica(&data, &["monitor", "--json", rec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plays: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(plays.len(), truth.len(), "{}", stdout(&o));
    for (p, (which, start, end, offset)) in plays.iter().zip(&truth) {
        assert!(
            p["path"].as_str().unwrap().ends_with(&format!("song{which}.wav")),
            "{p}"
        );
        let (s, e, off) = (
            p["start_s"].as_f64().unwrap(),
            p["end_s"].as_f64().unwrap(),
            p["offset_in_track_s"].as_f64().unwrap(),
        );
        assert!((s - start).abs() <= 2.0, "start {s} vs {start}: {p}");
        assert!((e - end).abs() <= 2.0, "end {e} vs {end}: {p}");
        assert!((off - offset).abs() <= 2.0, "offset {off} vs {offset}: {p}");
        assert!((p["speed"].as_f64().unwrap() - 1.0).abs() < 0.02, "{p}");
        assert!(p["confidence"].as_f64().unwrap() > 0.5, "{p}");
        assert_eq!(p["source"], rec.to_str().unwrap());
    }
    // Text output: one line a play.
    let o = sonica(&data, &["monitor", rec.to_str().unwrap()]);
    assert_eq!(stdout(&o).lines().count(), truth.len(), "{}", stdout(&o));
}

#[test]
fn hostile_monitor_inputs_get_one_precise_error_each() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let song = dir.path().join("s.wav");
    audio::wav(&song, &audio::song(4200, 12.0, RATE), RATE);
    assert!(sonica(&data, &["ingest", "--fingerprint-only", song.to_str().unwrap()])
        .status
        .success());

    let code_of = |input: &str| -> (i32, String) {
        let o = sonica(&data, &["monitor", "--json", input]);
        let line: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap_or("null")).unwrap();
        (
            o.status.code().unwrap_or(-1),
            line["error"]["code"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(code_of("/no/such/recording.mp3"), (1, "not_found".into()));
    assert_eq!(code_of("file:///etc/passwd"), (1, "invalid_url".into()));
    assert_eq!(code_of("gopher://example.com/x"), (1, "invalid_url".into()));
    assert_eq!(code_of("http://user:pw@127.0.0.1:9/"), (1, "invalid_url".into()));
    // Nothing listens there: the stream is unavailable, said so.
    assert_eq!(code_of("http://127.0.0.1:9/live"), (1, "source_unavailable".into()));
    let garbage = dir.path().join("garbage.mp3");
    std::fs::write(&garbage, vec![0x5au8; 8192]).unwrap();
    assert_eq!(code_of(garbage.to_str().unwrap()).0, 1);
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(code_of(empty.to_str().unwrap()), (1, "empty_file".into()));
    // A header claiming an absurd length is refused before decoding.
    let mut absurd = std::fs::read(&song).unwrap();
    absurd[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    absurd[24..28].copy_from_slice(&4_000u32.to_le_bytes());
    absurd[28..32].copy_from_slice(&8_000u32.to_le_bytes());
    let absurd_path = dir.path().join("absurd.wav");
    std::fs::write(&absurd_path, &absurd).unwrap();
    let (code, _) = code_of(absurd_path.to_str().unwrap());
    assert!(
        code == 0 || code == 1,
        "an absurd header is an error or a short scan, never a crash"
    );
    // Bad parameters are a usage error.
    let o = sonica(&data, &["monitor", "--window", "0", song.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = sonica(&data, &["monitor", "--hop", "99", song.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // One bad input does not stop the others.
    let o = sonica(&data, &["monitor", "--json", "/nope.wav", song.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).lines().any(|l| l.contains("\"start_s\"")), "{}", stdout(&o));
}

//! The WebSocket stream: PCM fed in small chunks in time order is named
//! within a few seconds of audio; a whole file in one frame is answered
//! once; a bad header gets an error frame.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use tungstenite::{Message, WebSocket};

use crate::audio;
use crate::server::{wav_bytes, Server};

const RATE: u32 = 16_000;

fn connect(srv: &Server) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let url = format!("ws://127.0.0.1:{}/ws/stream", srv.port);
    let (ws, resp) = tungstenite::client(url.as_str(), stream).expect("WebSocket handshake");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

fn read_json(ws: &mut WebSocket<TcpStream>) -> Option<Value> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Reads answers that are already waiting, without blocking long.
fn drain(ws: &mut WebSocket<TcpStream>, into: &mut Vec<Value>) {
    ws.get_mut().set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    while let Ok(m) = ws.read() {
        if let Message::Text(t) = m {
            into.push(serde_json::from_str(t.as_str()).unwrap());
        }
    }
    ws.get_mut().set_read_timeout(Some(Duration::from_secs(30))).unwrap();
}

#[test]
fn pcm_stream_in_small_chunks_is_named_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let song = audio::song(7900, 40.0, RATE);
    let id = srv.upload("s.wav", &wav_bytes(dir.path(), "s.wav", &song, RATE));
    assert_eq!(srv.wait_final(id)["status"], "READY");

    let mut ws = connect(&srv);
    ws.send(Message::text(
        r#"{"format": "pcm_s16le", "sample_rate": 16000, "channels": 2}"#,
    ))
    .unwrap();
    // 8 s from 10 s in, stereo s16le, 100 ms chunks, in order.
    let part = audio::slice(&song, RATE, 10.0, 8.0);
    let mut answers = Vec::new();
    let mut first_match_at = None;
    for (i, chunk) in part.chunks(RATE as usize / 10).enumerate() {
        let mut bytes = Vec::with_capacity(chunk.len() * 4);
        for &x in chunk {
            let v = (x.clamp(-1.0, 1.0) * 32767.0) as i16;
            bytes.extend_from_slice(&v.to_le_bytes());
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        ws.send(Message::binary(bytes)).unwrap();
        drain(&mut ws, &mut answers);
        if first_match_at.is_none() && answers.iter().any(|a| a["match"]["id"] == id) {
            first_match_at = Some((i + 1) as f64 / 10.0);
        }
        // A little pacing so the server's answers interleave with the audio.
        std::thread::sleep(Duration::from_millis(5));
    }
    ws.send(Message::text(r#"{"event": "end"}"#)).unwrap();
    let mut last = None;
    while let Some(v) = read_json(&mut ws) {
        let done = v["final"] == true;
        answers.push(v.clone());
        if done {
            last = Some(v);
            break;
        }
    }
    let first = answers
        .iter()
        .find(|a| !a["match"].is_null())
        .expect("a match while streaming");
    assert_eq!(first["match"]["id"], id, "{first}");
    assert!(first["confidence"].as_f64().unwrap() > 0.0);
    // The stream's start lies 10 s into the track.
    assert!(
        (first["match"]["offset_s"].as_f64().unwrap() - 10.0).abs() < 0.3,
        "{first}"
    );
    let sent_at = first["stream_s"].as_f64().unwrap();
    assert!(sent_at <= 5.0, "named after {sent_at} s of audio (goal: 3–5 s)");
    let _ = first_match_at;
    let last = last.expect("a final answer");
    assert_eq!(last["match"]["id"], id, "{last}");
    // Answers are sent on change, not on every window.
    let matches = answers.iter().filter(|a| a["final"] == false).count();
    assert!(matches <= 2, "too chatty: {answers:?}");
}

#[test]
fn whole_file_frame_and_bad_header() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let song = audio::song(7950, 30.0, RATE);
    let id = srv.upload("s.wav", &wav_bytes(dir.path(), "s.wav", &song, RATE));
    assert_eq!(srv.wait_final(id)["status"], "READY");

    let mut ws = connect(&srv);
    let clip = wav_bytes(dir.path(), "c.wav", &audio::slice(&song, RATE, 4.0, 6.0), RATE);
    ws.send(Message::binary(clip)).unwrap();
    let v = read_json(&mut ws).expect("an answer");
    assert_eq!(v["match"]["id"], id, "{v}");
    assert_eq!(v["final"], true);

    let mut ws = connect(&srv);
    ws.send(Message::text(
        r#"{"format": "pcm_u8", "sample_rate": 8000, "channels": 1}"#,
    ))
    .unwrap();
    let e = read_json(&mut ws).expect("an error frame");
    assert_eq!(e["error"]["code"], "bad_request", "{e}");

    let mut ws = connect(&srv);
    ws.send(Message::text("{not json")).unwrap();
    let e = read_json(&mut ws).expect("an error frame");
    assert_eq!(e["error"]["code"], "bad_request", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("malformed"));

    let mut ws = connect(&srv);
    ws.send(Message::binary(b"definitely not audio".to_vec())).unwrap();
    let e = read_json(&mut ws).expect("an error frame");
    assert_eq!(e["error"]["code"], "unsupported_media", "{e}");
}

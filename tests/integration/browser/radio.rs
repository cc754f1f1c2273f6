//! A live radio on loopback for the Monitors page: each connection gets
//! the next queued programme as `audio/wav`, paced in real time like a
//! broadcast (a stream's times are the clock's), and is closed at its end.
//! A programme may ask for a pause after the previous one ended; a
//! connection before then, or with nothing queued, is answered 503, as a
//! station that is off the air.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sent at once on connecting, before the pacing starts.
const PREROLL_S: f64 = 0.5;
/// Written per step of the pacing.
const STEP_S: f64 = 0.1;

struct Programme {
    samples: Vec<i16>,
    rate: u32,
    pause: Duration,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Programme>>,
    stop: AtomicBool,
    /// Connections that got a programme, and that got to its end.
    served: AtomicUsize,
    finished: AtomicUsize,
    refused: AtomicUsize,
    ended_at: Mutex<Option<Instant>>,
}

pub struct Radio {
    pub url: String,
    shared: Arc<Shared>,
}

impl Radio {
    pub fn start() -> Radio {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/live.wav", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || answer(conn, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Radio { url, shared }
    }

    /// Queues mono `x` at `rate`, on air `pause` after the previous
    /// programme ended.
    pub fn queue(&self, x: &[f32], rate: u32, pause: Duration) {
        let samples = x.iter().map(|v| (v.clamp(-1.0, 1.0) * 32_767.0) as i16).collect();
        self.shared
            .queue
            .lock()
            .unwrap()
            .push_back(Programme { samples, rate, pause });
    }

    /// (served, finished, refused) connections so far.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.shared.served.load(Ordering::SeqCst),
            self.shared.finished.load(Ordering::SeqCst),
            self.shared.refused.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Radio {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

fn answer(conn: TcpStream, s: &Shared) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let mut conn = conn;
    let next = {
        let mut q = s.queue.lock().unwrap();
        let ended = *s.ended_at.lock().unwrap();
        let due = q.front().is_some_and(|p| ended.is_none_or(|t| t.elapsed() >= p.pause));
        if due {
            q.pop_front()
        } else {
            None
        }
    };
    let Some(p) = next else {
        s.refused.fetch_add(1, Ordering::SeqCst);
        let _ = conn.write_all(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\noff the air\n");
        return;
    };
    s.served.fetch_add(1, Ordering::SeqCst);
    let data: Vec<u8> = p.samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut head = b"HTTP/1.0 200 OK\r\nContent-Type: audio/wav\r\nCache-Control: no-cache\r\n\r\n".to_vec();
    head.extend(wav_header(p.rate, data.len() as u32));
    if conn.write_all(&head).is_err() {
        return;
    }
    let bps = f64::from(p.rate) * 2.0;
    let start = Instant::now();
    let mut sent = 0usize;
    let mut complete = true;
    while sent < data.len() {
        if s.stop.load(Ordering::SeqCst) {
            complete = false;
            break;
        }
        // On air up to now plus the pre-roll, in whole samples.
        let due_s = start.elapsed().as_secs_f64() + PREROLL_S;
        let due = (((due_s * bps) as usize) & !1).min(data.len());
        if due > sent {
            if conn.write_all(&data[sent..due]).is_err() {
                complete = false;
                break;
            }
            sent = due;
        }
        std::thread::sleep(Duration::from_secs_f64(STEP_S));
    }
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Both);
    if complete {
        *s.ended_at.lock().unwrap() = Some(Instant::now());
        s.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// A 16-bit mono PCM WAV header for `data_len` bytes of samples.
fn wav_header(rate: u32, data_len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend(b"RIFF");
    h.extend((36 + data_len).to_le_bytes());
    h.extend(b"WAVEfmt ");
    h.extend(16u32.to_le_bytes());
    h.extend(1u16.to_le_bytes());
    h.extend(1u16.to_le_bytes());
    h.extend(rate.to_le_bytes());
    h.extend((rate * 2).to_le_bytes());
    h.extend(2u16.to_le_bytes());
    h.extend(16u16.to_le_bytes());
    h.extend(b"data");
    h.extend(data_len.to_le_bytes());
    h
}

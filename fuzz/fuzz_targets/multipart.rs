//! Every upload route (ingest, recognize, analyze, similar-by-file) reads
//! its body with `sonica::service::upload::read_form`, which drives
//! actix-multipart over bytes straight from the network and streams the
//! audio part to a temporary file under a size limit. This target calls
//! `read_form` itself, as the routes do: an `HttpRequest` built by
//! `actix_web::test::TestRequest` with a chosen Content-Type, and a
//! `web::Payload` made (through its `FromRequest` impl, its only public
//! constructor) from a stream that delivers the body in arbitrary chunks.
//! Errors are the right answer to a malformed body; a panic, a hang or an
//! upload that slips past the size limit is a finding.
//!
//! Input layout: `selector` `chunk sizes ×4` `body…`. The selector picks
//! the Content-Type (the fixed boundary `XbOuNdArY`, a quoted one, a
//! missing or foreign type, or one taken from the body's first line) and
//! the size limit. Temporary files go to a per-process folder under
//! /dev/shm and delete themselves when the form is dropped.
//!
//! `read_form` runs on an actix runtime (one per thread, reused): it
//! times out a parser that stays stuck after the body's end (actix-multipart
//! 0.7 can wait forever there; this target found it). A form that is not
//! answered within 5 s is a hang, and panics here as a finding.
//!
//! Checked on the way: an accepted audio part is within the limit; text
//! fields are only names some route reads, at most `MAX_TEXT_FIELD` bytes,
//! trimmed and non-empty.

#![no_main]

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::OnceLock;
use std::cell::Cell;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::test::TestRequest;
use actix_web::{web, FromRequest};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use futures_util::StreamExt;
use sonica::service::upload::{read_form, MAX_PARTS, MAX_TEXT_FIELD, TEXT_FIELDS};

/// The per-process folder for `read_form`'s temporary files, made for each
/// input and removed after it, so runs leave nothing behind.
fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let d = DIR.get_or_init(|| PathBuf::from(format!("/dev/shm/sonica-fuzz-multipart-{}", std::process::id())));
    std::fs::create_dir_all(d).expect("create the scratch folder under /dev/shm");
    d
}

thread_local! {
    /// The runtime `read_form` needs for its timers, made once per thread.
    static RUNTIME: actix_web::rt::SystemRunner = actix_web::rt::System::new();
}

/// Polls `f` to the end with a no-op waker. `progress` counts the chunks
/// the payload stream has handed out: many `Pending`s in a row while it
/// stands still mean the future waits for a wake-up nothing will send.
fn block_on<F: Future>(f: F, progress: &Cell<usize>) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    let mut still = 0;
    let mut seen = progress.get();
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        if progress.get() == seen {
            still += 1;
            assert!(still < 1000, "read_form stays Pending after chunk {seen} with the whole body in memory");
        } else {
            seen = progress.get();
            still = 0;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (hdr, body) = data.split_at(5);
    let sel = hdr[0];
    let sizes = [hdr[1], hdr[2], hdr[3], hdr[4]];

    let first_line = body.split(|&c| c == b'\n').next().unwrap_or(&[]);
    let content_type: Option<Vec<u8>> = match sel % 8 {
        0..=3 => Some(b"multipart/form-data; boundary=XbOuNdArY".to_vec()),
        4 => Some(b"multipart/form-data; boundary=\"Xb OuNd;ArY\"".to_vec()),
        5 => Some(first_line.to_vec()),
        6 => Some(b"application/octet-stream".to_vec()),
        _ => None,
    };
    let limit: u64 = match (sel >> 3) % 4 {
        0 => 1 << 20,
        1 => 0,
        2 => 16,
        _ => 300,
    };

    let mut req = TestRequest::post().uri("/api/v1/tracks");
    if let Some(ct) = content_type {
        match actix_web::http::header::HeaderValue::from_bytes(&ct) {
            Ok(v) => req = req.insert_header((actix_web::http::header::CONTENT_TYPE, v)),
            Err(_) => return,
        }
    }
    let req = req.to_http_request();

    // The body in chunks of the chosen sizes (0 means one byte).
    let mut chunks: Vec<Result<Bytes, PayloadError>> = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < body.len() {
        let n = usize::from(sizes[k % 4]).max(1);
        let end = (at + n).min(body.len());
        chunks.push(Ok(Bytes::copy_from_slice(&body[at..end])));
        at = end;
        k += 1;
    }
    let progress = Rc::new(Cell::new(0usize));
    // actix-http's `BoxedPayloadStream`, which actix-web does not re-export.
    let stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter(chunks).inspect({
            let p = progress.clone();
            move |_| p.set(p.get() + 1)
        }));
    let mut dev_payload = Payload::from(stream);
    let payload =
        block_on(web::Payload::from_request(&req, &mut dev_payload), &progress).expect("Payload extractor is infallible");

    let dir = scratch_dir();
    let answered = RUNTIME.with(|rt| {
        rt.block_on(async {
            actix_web::rt::time::timeout(std::time::Duration::from_secs(5), read_form(&req, payload, dir, limit)).await
        })
    });
    let Ok(answer) = answered else {
        panic!("read_form gave no answer within 5 s with the whole body in memory");
    };
    if let Ok(form) = answer {
        if let Some(audio) = &form.audio {
            let len = std::fs::metadata(audio.file.path()).map(|m| m.len()).unwrap_or(0);
            assert!(len <= limit, "an audio part of {len} bytes passed the {limit}-byte limit");
        }
        assert!(form.text.len() < MAX_PARTS);
        for (k, v) in &form.text {
            assert!(TEXT_FIELDS.contains(&k.as_str()), "kept a field no route reads: {k:?}");
            assert!(v.len() <= MAX_TEXT_FIELD, "text field {k} of {} bytes", v.len());
            assert!(!v.is_empty() && v.trim() == v, "text field {k} kept as {v:?}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
});

//! A body stream that never ends a chunk just after a `\r` that may start
//! a multipart boundary.
//!
//! actix-multipart 0.7 misreads a body whose bytes arrive so that its
//! buffer holds exactly `\r\n--`, the first four bytes of a boundary: it
//! hands them out as part data, then never finds the boundary and waits
//! for good. Which split a client's body gets is up to the network, so a
//! valid upload failed now and then (seen in CI, and reproduced by
//! splitting a request at every byte). Holding back the bytes from the
//! first `\r` among the last [`WINDOW`] of each chunk, until more arrive
//! or the body ends, means the parser's buffer can only end at a `\r`
//! with more than [`WINDOW`] bytes after it, or at the body's end. The
//! delay is at most [`WINDOW`] bytes, and nothing is ever dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::{Bytes, BytesMut};
use futures_util::Stream;

/// Bytes held back at most: longer than any boundary (RFC 2046 allows 70
/// characters) with its `\r\n--` and `--`.
pub const WINDOW: usize = 256;

/// Wraps a body stream; see the module docs.
pub struct HoldBack<S> {
    inner: S,
    held: BytesMut,
    ended: bool,
}

impl<S> HoldBack<S> {
    pub fn new(inner: S) -> Self {
        HoldBack {
            inner,
            held: BytesMut::new(),
            ended: false,
        }
    }
}

/// Where to cut `buf` so that no `\r` lies in the last [`WINDOW`] bytes of
/// what goes out.
fn cut(buf: &[u8]) -> usize {
    let tail = buf.len().saturating_sub(WINDOW);
    match buf[tail..].iter().position(|&b| b == b'\r') {
        Some(i) => tail + i,
        None => buf.len(),
    }
}

impl<S, E> Stream for HoldBack<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.ended {
                if this.held.is_empty() {
                    return Poll::Ready(None);
                }
                return Poll::Ready(Some(Ok(this.held.split().freeze())));
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.held.extend_from_slice(&chunk);
                    let at = cut(&this.held);
                    if at > 0 {
                        return Poll::Ready(Some(Ok(this.held.split_to(at).freeze())));
                    }
                    // Everything is within the window: read on.
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_multipart::Multipart;
    use actix_web::http::header::{self, HeaderMap, HeaderValue};
    use futures_util::StreamExt;

    /// Yields `parts` one at a time, with a few `Pending`s (and wake-ups)
    /// between them, as bytes arriving in separate reads do: the parser
    /// gets to work on each part alone.
    struct Arriving {
        parts: Vec<Bytes>,
        next: usize,
        paused: u8,
    }

    impl Stream for Arriving {
        type Item = Result<Bytes, actix_web::error::PayloadError>;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.next >= self.parts.len() {
                return Poll::Ready(None);
            }
            if self.paused < 4 {
                self.paused += 1;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.paused = 0;
            self.next += 1;
            Poll::Ready(Some(Ok(self.parts[self.next - 1].clone())))
        }
    }

    /// The audio part's bytes as the parser reads them from `body` split
    /// at `at`, or the parser's complaint. A parser that stalls (the bug)
    /// reads as an error too.
    fn parse_split(body: &[u8], at: usize, boundary: &str) -> Result<Vec<u8>, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}")).unwrap(),
        );
        let parts = vec![Bytes::copy_from_slice(&body[..at]), Bytes::copy_from_slice(&body[at..])];
        let stream = HoldBack::new(Arriving {
            parts,
            next: 0,
            paused: 0,
        });
        actix_web::rt::System::new().block_on(async move {
            let mut mp = Multipart::new(&headers, stream);
            let mut data = Vec::new();
            let read = async {
                while let Some(field) = mp.next().await {
                    let mut field = field.map_err(|e| e.to_string())?;
                    while let Some(chunk) = field.next().await {
                        data.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
                    }
                }
                Ok::<(), String>(())
            };
            match actix_web::rt::time::timeout(std::time::Duration::from_secs(2), read).await {
                Ok(r) => r.map(|()| data),
                Err(_) => Err("the parser stalled".into()),
            }
        })
    }

    #[test]
    fn a_body_split_anywhere_parses_to_the_same_part() {
        let boundary = "sonica-test-boundary-7d1c";
        // Audio bytes with carriage returns and dashes of their own.
        let audio: Vec<u8> = (0..600u32)
            .map(|i| [b'\r', b'\n', b'-', b'a', (i % 251) as u8][i as usize % 5])
            .collect();
        let mut body =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n")
                .into_bytes();
        body.extend_from_slice(&audio);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        for at in 1..body.len() {
            assert_eq!(
                parse_split(&body, at, boundary).as_deref(),
                Ok(&audio[..]),
                "split at {at}"
            );
        }
    }

    #[test]
    fn nothing_is_lost_or_reordered() {
        let data: Vec<u8> = (0..5000u32).map(|i| if i % 7 == 0 { b'\r' } else { i as u8 }).collect();
        for step in [1usize, 3, 100, 255, 256, 257, 4999] {
            let parts: Vec<Bytes> = data.chunks(step).map(Bytes::copy_from_slice).collect();
            let s = HoldBack::new(Arriving {
                parts,
                next: 0,
                paused: 0,
            });
            let out: Vec<u8> = actix_web::rt::System::new().block_on(async move {
                let mut s = s;
                let mut v = Vec::new();
                while let Some(c) = s.next().await {
                    v.extend_from_slice(&c.unwrap());
                }
                v
            });
            assert_eq!(out, data, "step {step}");
        }
    }
}

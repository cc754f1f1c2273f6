//! The one gate every decode of user audio passes: what a file declares is
//! checked before anything is sized from it, and a panic inside a
//! third-party demuxer or decoder stays inside that one file.
//!
//! Why: an 8 KB WAV declaring 2,147,483,647 Hz made the resampler allocate
//! gigabytes, and a truncated Matroska file panicked inside symphonia and
//! took the whole batch (or a job worker) with it. Every path that decodes
//! (upload probe, jobs, watcher, CLI, reindex, WebSocket, recognize,
//! analyze, search) goes through [`super::decode_frames`], which calls
//! [`check_format`] on what the container declares and on what the decoder
//! reports, and runs the decoder under [`contain_panics`].

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use super::DecodeError;

/// Lowest sample rate accepted: below this there is no music to hear (and
/// a 1 Hz header would make the resampler's ratio absurd).
pub const MIN_SAMPLE_RATE: u32 = 4_000;
/// Highest sample rate accepted: twice the highest rate studios record at.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Most channels accepted (22.2 surround has 24).
pub const MAX_CHANNELS: u32 = 32;
/// Most frames one packet may declare: 8× the largest real codec frame
/// (FLAC's 65,535), so a decoder's buffers stay in megabytes.
pub const MAX_FRAMES_PER_PACKET: u64 = 1 << 19;

/// Largest sample magnitude passed on: +24 dBFS. Float formats may go past
/// full scale a little; a value like 3.4e38 is garbage that would overflow
/// every FFT after it (the resampler's inverse FFT then failed an internal
/// check and panicked: a fuzzer found it).
pub const SAMPLE_LIMIT: f32 = 16.0;

/// A decoded sample made safe for the DSP: NaN and infinities become 0,
/// and magnitudes are held to [`SAMPLE_LIMIT`]. Every decoder's output and
/// every streamed PCM sample passes through here.
#[inline]
pub fn sample(s: f32) -> f32 {
    if s.is_finite() {
        s.clamp(-SAMPLE_LIMIT, SAMPLE_LIMIT)
    } else {
        0.0
    }
}

/// Refuses a declared sample rate or channel count outside what Sonica
/// decodes, naming the cap.
pub fn check_format(sample_rate: u32, channels: u32) -> Result<(), DecodeError> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(DecodeError::SampleRate { rate: sample_rate });
    }
    if !(1..=MAX_CHANNELS).contains(&channels) {
        return Err(DecodeError::Channels { channels });
    }
    Ok(())
}

/// Refuses a file whose header already claims more audio than `max_s`, so
/// nothing is decoded, let alone sized, for it.
pub fn check_declared_length(frames: Option<u64>, sample_rate: u32, max_s: f64) -> Result<(), DecodeError> {
    match frames {
        Some(n) if sample_rate > 0 && n as f64 / f64::from(sample_rate) > max_s => Err(DecodeError::TooLong { max_s }),
        _ => Ok(()),
    }
}

thread_local! {
    /// Set while this thread runs a third-party decoder: a panic there is
    /// that file's fault, reported as its error, not a crash to print.
    static IN_DECODER: Cell<bool> = const { Cell::new(false) };
    /// The message of the last contained panic on this thread.
    static LAST_PANIC: Cell<Option<String>> = const { Cell::new(None) };
}

/// Installs (once) a panic hook that keeps quiet about panics inside
/// [`contain_panics`] (their message becomes the file's error) and hands
/// every other panic to the hook that was there before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_DECODER.with(Cell::get) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| p.set(Some(format!("{msg}{at}"))));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` (a decoder over one file); a panic inside it becomes that
/// file's `Corrupt` error instead of unwinding into the caller.
pub fn contain_panics<T>(format: &str, f: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    install_hook();
    let was = IN_DECODER.with(|c| c.replace(true));
    let out = catch_unwind(AssertUnwindSafe(f));
    IN_DECODER.with(|c| c.set(was));
    match out {
        Ok(r) => r,
        Err(_) => {
            let why = LAST_PANIC.with(Cell::take).unwrap_or_else(|| "unknown panic".into());
            Err(DecodeError::Corrupt {
                format: format.to_string(),
                why: format!("the decoder gave up on malformed data ({why})"),
            })
        }
    }
}

/// A future polled under the same containment as [`contain_panics`]: a
/// panic inside it (a third-party parser driven by a request: actix-
/// multipart 0.7 panics on some malformed forms) ends it with the panic's
/// message instead of unwinding through the HTTP worker.
pub struct Contained<F>(pub F);

impl<F: std::future::Future + Unpin> std::future::Future for Contained<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        install_hook();
        let was = IN_DECODER.with(|c| c.replace(true));
        let polled = catch_unwind(AssertUnwindSafe(|| std::pin::Pin::new(&mut self.0).poll(cx)));
        IN_DECODER.with(|c| c.set(was));
        match polled {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(LAST_PANIC
                .with(Cell::take)
                .unwrap_or_else(|| "unknown panic".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_channels_outside_the_caps_are_named() {
        assert!(check_format(44_100, 2).is_ok());
        assert!(check_format(4_000, 1).is_ok());
        assert!(check_format(384_000, 32).is_ok());
        for rate in [0, 1, 3_999, 384_001, 2_147_483_647, u32::MAX] {
            let e = check_format(rate, 2).unwrap_err();
            assert!(matches!(e, DecodeError::SampleRate { .. }), "{rate}: {e}");
            assert!(e.to_string().contains("4000–384000"), "{e}");
        }
        for ch in [0, 33, 65_535] {
            assert!(matches!(check_format(44_100, ch), Err(DecodeError::Channels { .. })));
        }
    }

    #[test]
    fn a_panicking_future_ends_with_its_message() {
        use std::future::Future;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = Contained(std::future::poll_fn(|_| -> std::task::Poll<()> {
            panic!("slice index starts at 2")
        }));
        match std::pin::Pin::new(&mut f).poll(&mut cx) {
            std::task::Poll::Ready(Err(m)) => assert!(m.contains("slice index"), "{m}"),
            _ => panic!("expected the panic as an error"),
        }
        let mut ok = Contained(std::future::ready(5));
        assert!(matches!(
            std::pin::Pin::new(&mut ok).poll(&mut cx),
            std::task::Poll::Ready(Ok(5))
        ));
    }

    #[test]
    fn samples_are_finite_and_bounded() {
        assert_eq!(sample(f32::NAN), 0.0);
        assert_eq!(sample(f32::INFINITY), 0.0);
        assert_eq!(sample(3.4e38), SAMPLE_LIMIT);
        assert_eq!(sample(-3.4e38), -SAMPLE_LIMIT);
        assert_eq!(sample(0.25), 0.25);
        assert_eq!(sample(1.5), 1.5, "a little over full scale is real audio");
    }

    #[test]
    fn a_header_claiming_a_week_is_refused_before_decoding() {
        let week = 7 * 24 * 3600 * 44_100u64;
        assert!(matches!(
            check_declared_length(Some(week), 44_100, 6.0 * 3600.0),
            Err(DecodeError::TooLong { .. })
        ));
        assert!(check_declared_length(Some(44_100 * 60), 44_100, 6.0 * 3600.0).is_ok());
        assert!(check_declared_length(None, 44_100, 1.0).is_ok());
    }

    #[test]
    fn a_panic_becomes_the_files_error_and_others_still_panic() {
        let r: Result<(), _> = contain_panics("Matroska/WebM", || panic!("EBML header must be read first"));
        let e = r.unwrap_err();
        assert!(matches!(e, DecodeError::Corrupt { .. }));
        assert!(e.to_string().contains("EBML header must be read first"), "{e}");
        // Nested use restores the flag; a panic outside still unwinds.
        assert_eq!(contain_panics("WAV", || Ok(3)).unwrap(), 3);
        assert!(std::panic::catch_unwind(|| panic!("outside")).is_err());
    }
}

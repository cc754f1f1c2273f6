//! The live-recognition WebSocket takes a JSON header and then raw PCM bytes
//! from the client, cut into frames however the network and the client's
//! code happen to cut them. This target feeds `parse_header` arbitrary
//! text, and a `PcmStream` arbitrary bytes in arbitrary chunkings (frames
//! split across chunks, empty chunks, NaN and infinite floats), with
//! windows taken as the route takes them and `finish()` at the end.
//!
//! Input layout: `header text` `\n` `chunking byte count` `chunk sizes…`
//! `PCM bytes…`. When the header does not parse, a valid format is made
//! from the first PCM bytes instead (the route never builds a stream from a
//! refused header), so the stream is fuzzed whatever the header.
//!
//! Checked on the way: a parsed header is within the decode guard's caps
//! (the same as a file's: 4000–384000 Hz, 1–32 channels);
//! the received time never goes back; a window is at most `WINDOW_S` long,
//! starts at or after 0, holds only finite samples, and right after a
//! window is taken no try is due.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica::decode::guard::{MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use sonica::fingerprint::FINGERPRINT_RATE as ANALYSIS_RATE;
use sonica::service::stream::{parse_header, Encoding, PcmFormat, PcmStream, WINDOW_S};

/// PCM bytes used per input: at 4 kHz mono s16 this is 8 s of audio.
const MAX_PCM: usize = 64 << 10;

fn format_from(bytes: &[u8]) -> PcmFormat {
    let b = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let rates = [8000u32, 11_025, 16_000, 22_050, 44_100, 48_000, 96_000, 384_000, 4000];
    let sel = b(0);
    let sample_rate = if sel < 200 {
        rates[usize::from(sel) % rates.len()]
    } else {
        4000 + u32::from_le_bytes([b(1), b(2), b(3), 0]) % (384_000 - 4000 + 1)
    };
    PcmFormat {
        encoding: if b(4) & 1 == 0 { Encoding::S16le } else { Encoding::F32le },
        sample_rate,
        channels: 1 + (u16::from(b(5)) % MAX_CHANNELS as u16),
    }
}

fuzz_target!(|data: &[u8]| {
    let (head, rest) = match data.iter().position(|&c| c == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(head);
    let fmt = match parse_header(&text) {
        Ok(f) => {
            assert!(
                (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&f.sample_rate),
                "header let through rate {}",
                f.sample_rate
            );
            assert!((1..=MAX_CHANNELS).contains(&u32::from(f.channels)), "header let through {} channels", f.channels);
            f
        }
        Err(e) => {
            assert!(!e.is_empty());
            format_from(rest)
        }
    };
    let Some((&nsizes, rest)) = rest.split_first() else { return };
    let nsizes = usize::from(nsizes % 16) + 1;
    let (sizes, pcm) = rest.split_at(nsizes.min(rest.len()));
    let pcm = &pcm[..pcm.len().min(MAX_PCM)];

    let mut s = PcmStream::new(fmt).expect("a stream on a valid format");
    let keep = (WINDOW_S * f64::from(ANALYSIS_RATE)) as usize;
    let mut last_received = 0.0f64;
    let mut at = 0usize;
    let mut k = 0usize;
    let mut check = |s: &mut PcmStream| {
        let r = s.received_s();
        assert!(r >= last_received, "received time went back: {last_received} -> {r}");
        last_received = r;
        if s.due() {
            let (w, start) = s.take_window();
            assert!(w.len() <= keep, "window of {} samples", w.len());
            assert!(start >= 0.0 && start.is_finite(), "window start {start}");
            assert!(w.iter().all(|x| x.is_finite()), "non-finite sample in a window");
            assert!(!s.due(), "due right after a try");
        }
    };
    while at < pcm.len() {
        // Sizes 0..=(4 * 255): empty chunks, single bytes, split frames.
        let size = sizes.get(k % sizes.len().max(1)).map_or(pcm.len(), |&z| usize::from(z) * 4 + k % 4);
        k += 1;
        let end = (at + size).min(pcm.len());
        s.push(&pcm[at..end]).expect("push");
        at = end;
        check(&mut s);
        if k > 100_000 {
            break;
        }
    }
    s.finish().expect("finish");
    check(&mut s);
    if s.has_untried() {
        let (w, _) = s.take_window();
        assert!(w.len() <= keep);
    }
});

//! Every upload, watched file and CLI argument reaches `sonica::decode`
//! with bytes a stranger chose: this target hands arbitrary bytes to the
//! format sniffer, to `decode_limited` (the fingerprinting path) and to
//! `decode_frames` with stereo and a 20 s declared-length cap (the
//! music-analysis path). An error is the
//! right answer to junk; a panic, an abort, a hang or a memory blow-up is a
//! finding.
//!
//! The bytes are written to one file per process under /dev/shm (decoding
//! takes a path) with no extension, so symphonia's probe decides by content
//! alone. `PATH` is emptied at start so the ffmpeg fallback is never taken:
//! this target fuzzes Sonica and symphonia, not an external program.
//!
//! Checked on the way: the documented `Frames` contract (mono samples are
//! finite, and the stereo chunk, when given, holds exactly two samples per
//! mono sample).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sonica::decode::{decode_frames, decode_limited, sniff_format, DecodeError};

/// Longest audio either decode is allowed to produce, in seconds.
const LIMIT_S: f64 = 20.0;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| PathBuf::from(format!("/dev/shm/sonica-fuzz-decode-{}", std::process::id())))
}

fuzz_target!(
    init: {
        // No ffmpeg: the fallback would spawn a process per input.
        std::env::set_var("PATH", "/nonexistent");
    },
    |data: &[u8]| {
        let path = scratch();
        std::fs::write(path, data).expect("write the scratch file under /dev/shm");

        let _ = sniff_format(path);

        let mut produced = 0usize;
        let _ = decode_limited(path, LIMIT_S, &mut |s| produced += s.len());

        // The analysis path: source rate, two channels, stopped by the sink.
        let rate = std::cell::Cell::new(0u32);
        let mut frames = 0u64;
        let _ = decode_frames(
            path,
            true,
            LIMIT_S,
            &mut |r, _channels| {
                rate.set(r);
                Ok(())
            },
            &mut |f| {
                assert!(f.mono.iter().all(|x| x.is_finite()), "non-finite mono sample in a decoded chunk");
                if let Some(st) = f.stereo {
                    assert_eq!(st.len(), f.mono.len() * 2, "stereo chunk is not two samples per mono sample");
                    assert!(st.iter().all(|x| x.is_finite()), "non-finite stereo sample in a decoded chunk");
                }
                frames += f.mono.len() as u64;
                let rate = rate.get();
                if rate > 0 && frames as f64 / f64::from(rate) > LIMIT_S {
                    return Err(DecodeError::TooLong { max_s: LIMIT_S });
                }
                Ok(())
            },
        );
        // Gone after each input, so runs leave nothing behind (a crash
        // leaves its one file).
        let _ = std::fs::remove_file(path);
    }
);

//! Fingerprint parameters, with the reasons for their values.
//!
//! The fingerprint rate is 8 kHz ([`FINGERPRINT_RATE`]), so the spectrum
//! spans 0–4 kHz: the band that survives telephone lines, low-bitrate
//! codecs and small speakers. (The music analysis reads its own rate,
//! `analysis::ANALYSIS_RATE`.)
//!
//! * `FFT_SIZE` 1024 (128 ms) gives 7.8 Hz bins: fine enough that a pitch
//!   shift of 1% moves upper peaks by whole bins (so speed hypotheses can be
//!   told apart), long enough that tonal peaks stand well clear of white
//!   noise spread over 512 bins.
//! * `HOP` 128 (16 ms, 62.5 frames/s) is the time resolution of offsets.
//! * Peaks are searched between 150 Hz and 3.75 kHz: below, rumble and hum;
//!   above, the resampler's transition band.
//! * The index stores fewer, stronger peaks than a query extracts
//!   (`index` vs `query`), so the index's peaks are very likely among a noisy
//!   query's peaks; the query pairs each anchor with more targets to match.
//!
//! The values were chosen on the real corpus with `benches/corpus-eval.sh`;
//! the README records the runs.

/// The one sample rate every fingerprint is taken at, so that hashes from
/// a 44.1 kHz FLAC and an 8 kHz phone recording of the same song agree.
/// 8 kHz keeps 0–4 kHz and makes decoding-to-peaks cheap.
pub const FINGERPRINT_RATE: u32 = 8000;
/// rubato's input chunk for the fingerprint's resampler.
pub const RESAMPLER_CHUNK: usize = 4096;
/// FFT length in samples at the fingerprint rate.
pub const FFT_SIZE: usize = 1024;
/// Hop between frames in samples.
pub const HOP: usize = 128;
/// Frames per second at the fingerprint rate.
pub const FRAMES_PER_SECOND: f64 = FINGERPRINT_RATE as f64 / HOP as f64;
/// Lowest and highest FFT bins where peaks are picked.
pub const MIN_BIN: usize = 19;
pub const MAX_BIN: usize = 480;

/// How peaks are picked.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakParams {
    /// A peak is the maximum within ±`freq_radius` bins…
    pub freq_radius: usize,
    /// …and ±`time_radius` frames.
    pub time_radius: usize,
    /// At most this many peaks (the strongest) per second of audio.
    pub per_second: usize,
    /// Peaks quieter than this (dB relative to a full-scale sine) are noise
    /// floor or dither, never music.
    pub floor_db: f32,
}

/// How peaks are paired into hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct PairParams {
    /// Targets per anchor, nearest in time first.
    pub fanout: usize,
    /// Target zone: 1..=max_dt frames after the anchor…
    pub max_dt: u32,
    /// …within ±max_df bins.
    pub max_df: i32,
}

/// Parameters for one side (index or query).
#[derive(Debug, Clone, PartialEq)]
pub struct FingerprintParams {
    pub peaks: PeakParams,
    pub pairs: PairParams,
}

impl FingerprintParams {
    /// What is stored for each track.
    pub fn index() -> Self {
        FingerprintParams {
            peaks: PeakParams {
                freq_radius: 9,
                time_radius: 7,
                per_second: 32,
                floor_db: -70.0,
            },
            pairs: PairParams {
                fanout: 6,
                max_dt: 63,
                max_df: 100,
            },
        }
    }

    /// What is extracted from a query clip: denser peaks, wider fan-out.
    pub fn query() -> Self {
        FingerprintParams {
            peaks: PeakParams {
                freq_radius: 7,
                time_radius: 5,
                per_second: 56,
                floor_db: -70.0,
            },
            pairs: PairParams {
                fanout: 14,
                max_dt: 63,
                max_df: 100,
            },
        }
    }
}

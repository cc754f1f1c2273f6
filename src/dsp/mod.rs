//! The one signal-processing layer every consumer of samples draws from:
//! the fingerprint, the music analysis and the pitch-tolerant and
//! mastering features still to come.
//!
//! - [`resample`]: one streaming resampler (`from` → `to`, rubato
//!   underneath), with an optional cap on the output;
//! - [`framer`]: cuts a stream into hop-spaced frames;
//! - [`spectrum`]: the power spectrum of one real frame (packed half-length
//!   FFT), all bins or only the low ones;
//! - [`hpss`]: harmonic/percussive separation by median filtering, streaming;
//! - [`window`] and [`db`]: the Hann window and decibel helpers.
//!
//! Nothing here knows what the samples are for; the rates and frame sizes
//! live with their consumers (`fingerprint::params::FINGERPRINT_RATE`,
//! `analysis::ANALYSIS_RATE`).

pub mod db;
pub mod framer;
pub mod hpss;
pub mod resample;
pub mod spectrum;
pub mod window;

pub use db::power_db;
pub use framer::Framer;
pub use hpss::Hpss;
pub use resample::{resample, ResampleError, Resampler};
pub use spectrum::PowerSpectrum;
pub use window::hann;

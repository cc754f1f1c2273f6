//! Why a range of audio could not be analysed: one precise line each.
//!
//! The analyser never panics on odd input (NaN, DC, one sample, clipping);
//! what it cannot measure it reports here, and the caller maps the variant to
//! a stable code.

/// Errors of the music analysis.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    #[error("unsupported sample rate {rate} Hz: music analysis needs {min}–{max} Hz")]
    UnsupportedRate { rate: u32, min: u32, max: u32 },
    #[error("unsupported channel count {channels}: music analysis takes 1 or 2 channels (downmix first)")]
    UnsupportedChannels { channels: u16 },
    #[error("audio too short to analyse: {secs:.2} s, at least {min:.1} s is needed for tempo and loudness")]
    TooShort { secs: f64, min: f64 },
    #[error("audio is silent: peak level {peak_dbfs:.1} dBFS, nothing to analyse")]
    Silent { peak_dbfs: f64 },
    #[error("analysis section {start:.2}–{end:.2} s is outside the analysed range {from:.2}–{to:.2} s")]
    BadSection { start: f64, end: f64, from: f64, to: f64 },
    #[error("no drum hits in section {start:.2}–{end:.2} s: nothing to export as MIDI")]
    NoHits { start: f64, end: f64 },
    #[error("internal analysis error in {stage}: {why}")]
    Internal { stage: &'static str, why: String },
}

impl AnalysisError {
    pub(crate) fn internal(stage: &'static str, why: impl std::fmt::Display) -> Self {
        AnalysisError::Internal {
            stage,
            why: why.to_string(),
        }
    }
}

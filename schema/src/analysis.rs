//! The analysis record: what Sonica measured about a track's music.
//!
//! One record per track, stored as JSON packed with zstd ([`crate::packed`],
//! since format version 2; plain JSON before) in the `analysis` tree under
//! the track id, written in the same batch as the track itself. It carries its
//! own [`ANALYSIS_VERSION`] so that a better tempo or key estimator can
//! re-analyse old tracks (`sonica-reindex`) without bumping the store's
//! [`FORMAT_VERSION`](crate::FORMAT_VERSION). The two vectors inside it are
//! the canonical copy: the HNSW graphs and the text index are derived from
//! these records and can always be rebuilt from them.

use serde::{Deserialize, Serialize};

use crate::SchemaError;

pub use crate::notation::{Drum, DrumPattern, Key, Mode, TimeSignature, PITCH_CLASSES};

/// Bumped when the analysis algorithms or the vector layout change, so
/// stored vectors from an older analyser are never compared with new ones.
pub const ANALYSIS_VERSION: u32 = 1;

/// Length of the timbre vector (MFCC and spectral statistics).
pub const TIMBRE_DIM: usize = 40;
/// Length of the rhythm-pattern vector.
pub const RHYTHM_DIM: usize = 32;

/// Tempo, beats and metre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tempo {
    pub bpm: f64,
    /// 0–1: how clearly one periodicity dominates the onset envelope.
    pub confidence: f64,
    /// Beat times in seconds from the start of the analysed range.
    pub beats: Vec<f32>,
    /// Beats per bar (3 or 4) when the accent pattern shows it.
    #[serde(default)]
    pub time_signature: Option<TimeSignature>,
}

/// Key with its strength (0–1: correlation of the pitch profile with the key's template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEstimate {
    pub key: Key,
    pub strength: f64,
}

/// EBU R128 loudness, as measured by the ebur128 crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Integrated loudness, LUFS.
    pub integrated_lufs: f64,
    /// Loudness range, LU.
    pub range_lu: f64,
    /// True peak, dBTP (4× oversampled).
    pub true_peak_dbtp: f64,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: f64,
}

/// Level statistics beyond loudness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dynamics {
    /// RMS level over the analysed range, dBFS.
    pub rms_dbfs: f64,
    /// Peak-to-RMS ratio, dB.
    pub crest_factor_db: f64,
    /// Spread of short-term (3 s) loudness: 95th minus 10th percentile, dB.
    pub dynamic_range_db: f64,
}

/// Stereo image. A mono source has width 0 and correlation 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stereo {
    /// Side energy over mid+side energy, 0 (mono) to 1 (all side).
    pub width: f64,
    /// Pearson correlation of left and right, −1 to 1.
    pub phase_correlation: f64,
}

/// Figures for one frequency band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub low_hz: f64,
    pub high_hz: f64,
    /// Mean power in the band, dB relative to full scale.
    pub energy_db: f64,
    /// Share of the total energy of the five bands, 0–1.
    pub energy_share: f64,
    pub centroid_hz: f64,
    /// Spectral flatness (geometric over arithmetic mean power), 0–1.
    pub flatness: f64,
    /// Frequency below which 85% of the band's energy lies.
    pub rolloff_hz: f64,
}

/// The five bands the mastering tool reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    pub low: Band,
    pub low_mid: Band,
    pub mid: Band,
    pub high_mid: Band,
    pub high: Band,
}

/// One detected drum hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrumHit {
    /// Seconds from the start of the analysed range.
    pub t: f32,
    pub drum: Drum,
    /// 0–1.
    pub strength: f32,
}

/// Onsets and the drum pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rhythm {
    /// All onsets, seconds.
    pub onset_count: u32,
    pub onset_rate_per_s: f64,
    /// Every detected drum hit, in time order.
    pub hits: Vec<DrumHit>,
    /// The typical bar: 16 steps per bar, strength 0–1 of each voice per step.
    pub pattern: DrumPattern,
}

/// Everything measured about one range of one track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackAnalysis {
    pub version: u32,
    /// The analysed range, seconds from the start of the file.
    pub start_s: f64,
    pub end_s: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub tempo: Tempo,
    pub key: KeyEstimate,
    pub loudness: Loudness,
    pub dynamics: Dynamics,
    pub stereo: Stereo,
    pub bands: Bands,
    pub rhythm: Rhythm,
    /// L2-normalised, [`TIMBRE_DIM`] long: a small distance means "sounds alike".
    pub timbre: Vec<f32>,
    /// L2-normalised, [`RHYTHM_DIM`] long.
    pub rhythm_vector: Vec<f32>,
    /// The sections, in time order, covering the range (empty in records
    /// written before sections existed, until `sonica-reindex` re-analyses).
    #[serde(default)]
    pub sections: Vec<crate::section::Section>,
}

impl TrackAnalysis {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }

    /// Stored bytes: the JSON, packed ([`crate::packed`]).
    pub fn encode(&self) -> Vec<u8> {
        crate::packed::pack(&self.to_json())
    }

    /// The record as plain JSON (what the API shows; `encode` packs it).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("analysis serialises")
    }

    /// Decodes a stored record, packed or plain JSON (format version 1). A
    /// record of another analysis version still decodes (the caller checks
    /// `version` before comparing vectors).
    pub fn decode(bytes: &[u8]) -> Result<TrackAnalysis, SchemaError> {
        let json = crate::packed::unpack(bytes, "analysis record")?;
        serde_json::from_slice(&json).map_err(|e| SchemaError::corrupt("analysis record", e.to_string()))
    }

    /// Whether the vectors can be compared with those of this build.
    pub fn is_current(&self) -> bool {
        self.version == ANALYSIS_VERSION && self.timbre.len() == TIMBRE_DIM && self.rhythm_vector.len() == RHYTHM_DIM
    }
}

//! The analysis record: what Sonica measured about a track's music.
//!
//! One record per track, stored as JSON in the `analysis` tree under the
//! track id, written in the same batch as the track itself. It carries its
//! own [`ANALYSIS_VERSION`] so that a better tempo or key estimator can
//! re-analyse old tracks (`sonica-reindex`) without bumping the store's
//! [`FORMAT_VERSION`](crate::FORMAT_VERSION). The two vectors inside it are
//! the canonical copy: the HNSW graphs and the text index are derived from
//! these records and can always be rebuilt from them.

use serde::{Deserialize, Serialize};

use crate::SchemaError;

/// Bumped when the analysis algorithms or the vector layout change, so
/// stored vectors from an older analyser are never compared with new ones.
pub const ANALYSIS_VERSION: u32 = 1;

/// Length of the timbre vector (MFCC and spectral statistics).
pub const TIMBRE_DIM: usize = 40;
/// Length of the rhythm-pattern vector.
pub const RHYTHM_DIM: usize = 32;

/// Pitch-class names, as keys are written: "A minor", "Eb major".
pub const PITCH_CLASSES: [&str; 12] = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Major,
    Minor,
}

/// A musical key: tonic pitch class (0 = C) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

impl Key {
    /// "A minor", "Eb major".
    pub fn name(&self) -> String {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        format!("{} {mode}", PITCH_CLASSES[usize::from(self.tonic % 12)])
    }

    /// Parses a key name as users write it: tonic with `#`/`b` (or ♯/♭),
    /// any spelling of the same pitch class ("D#" = "Eb"), then "major",
    /// "minor", "maj", "min" or "m"; case-insensitive. `None` if it is not a key.
    pub fn parse(s: &str) -> Option<Key> {
        let s = s.trim();
        let mut chars = s.chars();
        let letter = chars.next()?.to_ascii_uppercase();
        let base: i32 = match letter {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return None,
        };
        let rest: String = chars.collect();
        let (shift, rest) = match rest.chars().next() {
            Some('#') | Some('♯') => (1, &rest[rest.chars().next().map_or(0, char::len_utf8)..]),
            Some('b') | Some('♭') => (-1, &rest[rest.chars().next().map_or(0, char::len_utf8)..]),
            _ => (0, rest.as_str()),
        };
        let mode = match rest.trim().to_ascii_lowercase().as_str() {
            "major" | "maj" | "" => Mode::Major,
            "minor" | "min" | "m" => Mode::Minor,
            _ => return None,
        };
        Some(Key {
            tonic: (base + shift).rem_euclid(12) as u8,
            mode,
        })
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub numerator: u8,
    pub denominator: u8,
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

/// A drum voice, told apart by band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drum {
    Kick,
    Snare,
    Hihat,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrumPattern {
    pub steps_per_bar: u8,
    pub kick: Vec<f32>,
    pub snare: Vec<f32>,
    pub hihat: Vec<f32>,
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

    /// Stored bytes (JSON).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("analysis serialises")
    }

    /// Decodes a stored record. A record of another analysis version still
    /// decodes (the caller checks `version` before comparing vectors).
    pub fn decode(bytes: &[u8]) -> Result<TrackAnalysis, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::corrupt("analysis record", e.to_string()))
    }

    /// Whether the vectors can be compared with those of this build.
    pub fn is_current(&self) -> bool {
        self.version == ANALYSIS_VERSION && self.timbre.len() == TIMBRE_DIM && self.rhythm_vector.len() == RHYTHM_DIM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_round_trip() {
        for tonic in 0..12u8 {
            for mode in [Mode::Major, Mode::Minor] {
                let k = Key { tonic, mode };
                assert_eq!(Key::parse(&k.name()), Some(k));
            }
        }
    }

    #[test]
    fn key_parse_spellings() {
        let a_min = Key {
            tonic: 9,
            mode: Mode::Minor,
        };
        assert_eq!(Key::parse("a minor"), Some(a_min));
        assert_eq!(Key::parse("Am"), Some(a_min));
        assert_eq!(Key::parse("A min"), Some(a_min));
        assert_eq!(Key::parse("D# major"), Key::parse("Eb major"));
        assert_eq!(
            Key::parse("C"),
            Some(Key {
                tonic: 0,
                mode: Mode::Major
            })
        );
        assert_eq!(Key::parse("H minor"), None);
        assert_eq!(Key::parse("A dorian"), None);
        assert_eq!(Key::parse(""), None);
    }
}

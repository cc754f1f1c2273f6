//! The mastering profile of a mix: what the mastering assistant measures
//! and compares, and its fixed-length feature vector.
//!
//! Bands are the 31 ISO 266 third octaves from 20 Hz to 20 kHz
//! ([`THIRD_OCTAVE_HZ`], nominal centres; edges at centre·2^(±1/6)). Band
//! levels are mean power in dB relative to a full-scale sine (a sine at
//! 0 dBFS reads 0 dB in its band), measured on the mid (L+R)/2 and side
//! (L−R)/2 signals over the loudest passages only, so a quiet intro does
//! not pull the balance down (as Matchering does). A frame belongs to the
//! loudest passages when its mean mid band level (in dB) is at or above
//! the average: a fixed EQ or gain shifts that score equally in every
//! frame, so it picks the same passages before and after one.
//!
//! The feature vector ([`MasteringProfile::vector`], [`MASTERING_DIM`]
//! values) is, in order:
//!
//! | index | what | scale |
//! |---|---|---|
//! | 0–30 | mid band level minus the mid level over all bands (the tonal balance, loudness removed) | dB / 12 |
//! | 31–61 | side band level minus mid band level | dB / 24 |
//! | 62 | integrated loudness | (LUFS + 14) / 10 |
//! | 63 | loudness range | LU / 10 |
//! | 64 | crest factor | dB / 20 |
//! | 65 | DR | DR / 20 |
//! | 66 | overall stereo width | side/mid power |
//! | 67 | transients per second | / 10 |
//!
//! Scales keep each part near ±1 so cosine similarity weighs the balance,
//! the stereo image and the dynamics alike.

use serde::{Deserialize, Serialize};

/// Nominal centres of the 31 third-octave bands, Hz.
pub const THIRD_OCTAVE_HZ: [f64; 31] = [
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0, 500.0, 630.0, 800.0,
    1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0, 8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
];

/// Number of bands.
pub const BANDS: usize = THIRD_OCTAVE_HZ.len();

/// Length of [`MasteringProfile::vector`].
pub const MASTERING_DIM: usize = 2 * BANDS + 6;

/// Version of the profile's measurements; a change bumps it.
pub const MASTERING_VERSION: u32 = 1;

/// One third-octave band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandProfile {
    pub centre_hz: f64,
    /// Mean power of the mid signal over the loudest passages, dB.
    pub mid_db: f64,
    /// The same for the side signal, dB.
    pub side_db: f64,
    /// Loudest frame against the mean, dB (per-band crest).
    pub crest_db: f64,
    /// Spread of the band's short-term level, dB (95th minus 10th percentile).
    pub dynamics_db: f64,
    /// Side power over mid power (0 = mono, 1 = as much side as mid).
    pub width: f64,
    /// Correlation of left and right in the band, −1…1 (1 = mono).
    pub correlation: f64,
}

/// What the assistant measures of one mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasteringProfile {
    pub version: u32,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_s: f64,
    /// Integrated loudness (BS.1770), LUFS.
    pub lufs: f64,
    /// Loudness range (EBU Tech 3342), LU.
    pub lra_lu: f64,
    pub true_peak_dbtp: f64,
    /// Peak over RMS of the whole mix, dB.
    pub crest_db: f64,
    /// The DR figure (the "DR meter" rule: 3 s blocks, second-highest peak
    /// over the RMS of the loudest fifth).
    pub dr: f64,
    /// Side over mid power across all bands.
    pub width: f64,
    /// Share of frames counted as the loudest passages.
    pub loud_share: f64,
    /// Transients (sharp rises of the 5 ms envelope) per second.
    pub transients_per_s: f64,
    /// Median rise of those transients over 10 ms, dB.
    pub attack_db: f64,
    /// Estimated harmonic distortion (THD) of the steadiest tonal
    /// passages, percent; `None` where no passage holds a tone steady
    /// enough to tell its harmonics from the music's own.
    #[serde(default)]
    pub harmonic_distortion_pct: Option<f64>,
    pub bands: Vec<BandProfile>,
}

impl MasteringProfile {
    /// Mean mid level over all bands (power mean), dB: the reference the
    /// tonal balance is measured from.
    pub fn mid_level_db(&self) -> f64 {
        let p: f64 =
            self.bands.iter().map(|b| 10f64.powf(b.mid_db / 10.0)).sum::<f64>() / self.bands.len().max(1) as f64;
        10.0 * p.max(1e-30).log10()
    }

    /// The fixed-length feature vector (layout in the module docs).
    pub fn vector(&self) -> Vec<f32> {
        let level = self.mid_level_db();
        let mut v = Vec::with_capacity(MASTERING_DIM);
        for i in 0..BANDS {
            v.push(self.bands.get(i).map_or(0.0, |b| ((b.mid_db - level) / 12.0) as f32));
        }
        for i in 0..BANDS {
            v.push(
                self.bands
                    .get(i)
                    .map_or(0.0, |b| ((b.side_db - b.mid_db).max(-48.0) / 24.0) as f32),
            );
        }
        v.push(((self.lufs + 14.0) / 10.0) as f32);
        v.push((self.lra_lu / 10.0) as f32);
        v.push((self.crest_db / 20.0) as f32);
        v.push((self.dr / 20.0) as f32);
        v.push(self.width as f32);
        v.push((self.transients_per_s / 10.0) as f32);
        v
    }
}

/// Lower and upper edge of band `i`, Hz.
pub fn band_edges(i: usize) -> (f64, f64) {
    let c = THIRD_OCTAVE_HZ[i];
    let k = 2f64.powf(1.0 / 6.0);
    (c / k, c * k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_tile_the_spectrum() {
        for i in 1..BANDS {
            let (_, hi) = band_edges(i - 1);
            let (lo, _) = band_edges(i);
            assert!((hi / lo - 1.0).abs() < 0.03, "band {i}: {hi} vs {lo}");
        }
        assert!(band_edges(0).0 > 17.0 && band_edges(BANDS - 1).1 < 22_500.0);
    }

    #[test]
    fn the_vector_has_its_documented_length() {
        let p = MasteringProfile {
            version: MASTERING_VERSION,
            sample_rate: 44_100,
            channels: 2,
            duration_s: 1.0,
            lufs: -14.0,
            lra_lu: 5.0,
            true_peak_dbtp: -1.0,
            crest_db: 12.0,
            dr: 8.0,
            width: 0.2,
            loud_share: 0.5,
            transients_per_s: 3.0,
            attack_db: 6.0,
            harmonic_distortion_pct: None,
            bands: THIRD_OCTAVE_HZ
                .iter()
                .map(|&c| BandProfile {
                    centre_hz: c,
                    mid_db: -30.0,
                    side_db: -40.0,
                    crest_db: 6.0,
                    dynamics_db: 8.0,
                    width: 0.1,
                    correlation: 0.8,
                })
                .collect(),
        };
        let v = p.vector();
        assert_eq!(v.len(), MASTERING_DIM);
        assert!(v[..BANDS].iter().all(|x| x.abs() < 1e-6), "a flat balance is all zeros");
        assert!((v[BANDS] - (-10.0 / 24.0)).abs() < 1e-6);
        assert_eq!(v[2 * BANDS], 0.0);
    }
}

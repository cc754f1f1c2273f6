//! Music analysis: tempo, beats, key, loudness, bands, drums and the timbre
//! and rhythm vectors of one range of a track.
//!
//! [`Analyser`] is streaming: samples go in as they are decoded and only
//! small per-frame series are kept, so a 3-hour file never sits in memory.
//! Two paths run side by side:
//!
//! - at the source rate and channel layout: [`loudness`], [`k_weighting`] and [`true_peak`] (EBU R128, dynamics,
//!   stereo image, over the whole range) and [`bands`] (sparse full-rate
//!   spectra of the mono downmix);
//! - at the mono analysis rate ([`ANALYSIS_RATE`], 22.05 kHz, through the
//!   DSP layer's resampler, capped at [`ANALYSIS_CAP_S`]):
//!   [`features`] (one short STFT → onset envelope, drum-band flux, timbre
//!   statistics) and the long-frame chroma of [`key`].
//!
//! [`Analyser::finish`] then runs the whole-range estimators on those series:
//! [`onsets`] → [`tempo`] (tempo, beat grid, metre) → [`drums`] (hits, typical
//! bar) and [`key`]; [`timbre`] and [`rhythm_vector`] make the two vectors.
//! [`midi`] exports drum hits, [`summary`] writes the JSON of `sonica analyze`.

pub mod bands;
pub mod drums;
pub mod error;
pub mod features;
pub mod k_weighting;
pub mod key;
pub mod loudness;
pub mod mel;
pub mod midi;
pub mod onsets;
pub mod rhythm_vector;
pub mod section_pattern;
pub mod sections;
pub mod summary;
pub mod tempo;
pub mod timbre;
pub mod true_peak;
pub mod vector;

#[cfg(test)]
mod tests;

use sonica_schema::{
    KeyEstimate, Rhythm, Tempo, TimeSignature, TrackAnalysis, ANALYSIS_VERSION, RHYTHM_DIM, TIMBRE_DIM,
};

pub use error::AnalysisError;
pub use midi::pattern_midi;
pub use summary::{hits_json, pattern_json, section_json, summary_json};
pub use vector::{mixed_vector, MIXED_DIM};

use crate::dsp::Resampler;
use bands::BandMeter;
use features::FeatureExtractor;
use key::ChromaExtractor;
use loudness::LoudnessMeter;

/// The mono rate tempo, key, timbre and drums run on: every source is
/// downmixed and resampled to it, so every estimator sees the same time and
/// frequency grid whatever the file's rate. 22.05 kHz keeps everything up
/// to 11 kHz (hi-hats included) at half the cost of 44.1 kHz.
pub const ANALYSIS_RATE: u32 = 22050;
/// At most this many seconds of a range reach the analysis-rate stream:
/// beyond it the music is assumed to repeat itself, and a 3-hour file then
/// costs no more than a 20-minute one (loudness and the bands still cover
/// everything).
pub const ANALYSIS_CAP_S: f64 = 20.0 * 60.0;
/// rubato's input chunk for the analysis resampler.
const RESAMPLER_CHUNK: usize = 2048;

/// Sample rates the analyser takes.
pub const MIN_RATE: u32 = 8000;
pub const MAX_RATE: u32 = 384_000;
/// Shortest range worth analysing: a few bars for a tempo, 3 s for short-term loudness.
pub const MIN_DURATION_S: f64 = 5.0;
/// A range whose sample peak stays below this (dBFS) is silent.
const SILENT_PEAK_DBFS: f64 = -80.0;

/// Choices a caller may make about an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Read the snare band through the harmonic/percussive separation.
    /// Off by default: on the generated songs it lowered snare F from
    /// 0.59 to 0.54 and hi-hat F from 0.75 to 0.62 (note attacks are
    /// percussive too, and the detector's dB-rise thresholds were set on
    /// the unseparated bands); kept to measure and to build on.
    pub hpss: bool,
    /// Sections kept (1 to [`sonica_schema::MAX_SECTIONS`]).
    pub max_sections: usize,
}

impl Default for AnalysisOptions {
    /// The separation off, and the process's section bound ([`set_section_bound`]).
    fn default() -> Self {
        AnalysisOptions {
            hpss: false,
            max_sections: SECTION_BOUND.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Sections kept per track by every analysis of this process that does not
/// say otherwise: the `max_sections` setting, set once at start-up by
/// `sonica serve` and `sonica ingest` (every ingest path, the job workers
/// included, analyses through [`AnalysisOptions::default`]).
static SECTION_BOUND: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(sonica_schema::DEFAULT_SECTIONS);

/// Sets the process's section bound (clamped to 1..=[`sonica_schema::MAX_SECTIONS`]).
pub fn set_section_bound(n: usize) {
    SECTION_BOUND.store(
        n.clamp(1, sonica_schema::MAX_SECTIONS),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// Streaming music analyser for one range of one track.
pub struct Analyser {
    rate: u32,
    channels: u16,
    loudness: LoudnessMeter,
    bands: BandMeter,
    to_work: Resampler,
    features: FeatureExtractor,
    chroma: ChromaExtractor,
    clean: Vec<f32>,
    mono: Vec<f32>,
    max_sections: usize,
    /// The first error a push met (only internal ones can happen); reported by `finish`.
    failed: Option<AnalysisError>,
}

impl Analyser {
    /// `channels` 1 or 2, interleaved when 2.
    pub fn new(sample_rate: u32, channels: u16) -> Result<Analyser, AnalysisError> {
        Analyser::with_options(sample_rate, channels, AnalysisOptions::default())
    }

    pub fn with_options(sample_rate: u32, channels: u16, options: AnalysisOptions) -> Result<Analyser, AnalysisError> {
        if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
            return Err(AnalysisError::UnsupportedRate {
                rate: sample_rate,
                min: MIN_RATE,
                max: MAX_RATE,
            });
        }
        if !(1..=2).contains(&channels) {
            return Err(AnalysisError::UnsupportedChannels { channels });
        }
        Ok(Analyser {
            rate: sample_rate,
            channels,
            loudness: LoudnessMeter::new(sample_rate, channels)?,
            bands: BandMeter::new(sample_rate),
            to_work: Resampler::new(sample_rate, ANALYSIS_RATE, RESAMPLER_CHUNK)
                .map_err(|e| AnalysisError::internal("resampler", e))?
                .with_cap((ANALYSIS_CAP_S * f64::from(ANALYSIS_RATE)) as usize),
            features: FeatureExtractor::with_hpss(options.hpss),
            chroma: ChromaExtractor::new(),
            clean: Vec::new(),
            mono: Vec::new(),
            max_sections: options.max_sections.clamp(1, sonica_schema::MAX_SECTIONS),
            failed: None,
        })
    }

    /// Source-rate samples, interleaved when stereo. Non-finite samples count as 0.
    pub fn push(&mut self, interleaved: &[f32]) {
        if self.failed.is_some() || interleaved.is_empty() {
            return;
        }
        let ch = usize::from(self.channels);
        self.clean.clear();
        self.clean.extend(
            interleaved
                .iter()
                .map(|&x| if x.is_finite() { x.clamp(-16.0, 16.0) } else { 0.0 }),
        );
        // A trailing partial frame would shift the channels: drop it.
        self.clean.truncate(self.clean.len() / ch * ch);
        if let Err(e) = self.loudness.push(&self.clean) {
            self.failed = Some(e);
            return;
        }
        self.mono.clear();
        if ch == 2 {
            self.mono
                .extend(self.clean.chunks_exact(2).map(|f| 0.5 * (f[0] + f[1])));
        } else {
            self.mono.extend_from_slice(&self.clean);
        }
        self.bands.push(&self.mono);
        let Analyser {
            to_work,
            features,
            chroma,
            mono,
            ..
        } = self;
        if let Err(e) = to_work.push(mono, &mut |s| {
            features.push(s);
            chroma.push(s);
        }) {
            self.failed = Some(AnalysisError::internal("resampler", e));
        }
    }

    /// Seconds pushed so far.
    pub fn duration_s(&self) -> f64 {
        self.loudness.frames() as f64 / f64::from(self.rate)
    }

    /// Runs the whole-range estimators. `start_s` is where the range began
    /// in the file: beat and hit times stay relative to the range, while
    /// `start_s`/`end_s` of the result are file times.
    pub fn finish(self, start_s: f64) -> Result<TrackAnalysis, AnalysisError> {
        let Analyser {
            rate,
            channels,
            loudness,
            bands,
            mut to_work,
            mut features,
            mut chroma,
            failed,
            max_sections,
            ..
        } = self;
        if let Some(e) = failed {
            return Err(e);
        }
        let duration = loudness.frames() as f64 / f64::from(rate);
        if duration < MIN_DURATION_S {
            return Err(AnalysisError::TooShort {
                secs: duration,
                min: MIN_DURATION_S,
            });
        }
        to_work
            .finish(&mut |s| {
                features.push(s);
                chroma.push(s);
            })
            .map_err(|e| AnalysisError::internal("resampler", e))?;
        features.finish();
        let level = loudness.finish();
        if level.loudness.sample_peak_dbfs < SILENT_PEAK_DBFS {
            return Err(AnalysisError::Silent {
                peak_dbfs: level.loudness.sample_peak_dbfs,
            });
        }
        let bands = bands.finish();
        let chroma = chroma.finish();
        let start_s = if start_s.is_finite() { start_s.max(0.0) } else { 0.0 };
        let work_s = features.frames() as f64 / features::FPS;

        let series = &features.series;
        let env = onsets::normalise_envelope(&series.onset);
        let onset_frames = onsets::onsets(&env);
        let accents: Vec<Vec<f32>> = series.drum_flux.iter().map(|f| onsets::normalise_envelope(f)).collect();
        let accent_refs: Vec<&[f32]> = accents.iter().map(|a| a.as_slice()).collect();
        let tempo = tempo::estimate(&env, &accent_refs);
        let beats_s: Vec<f64> = tempo.beats.iter().map(|&b| onsets_time(b)).collect();
        let hits = drums::detect(series);
        let bpb = usize::from(tempo.beats_per_bar.unwrap_or(4));
        let pattern = drums::pattern(&beats_s, &hits, bpb);
        let key: KeyEstimate = key::estimate_key(&chroma);
        let timbre = features.timbre.vector(&bands, &level.dynamics);
        let rhythm_vector = rhythm_vector::vector(&rhythm_vector::RhythmInputs {
            tempo: &tempo,
            env: &env,
            drum_flux: [&series.drum_flux[0], &series.drum_flux[1], &series.drum_flux[2]],
            hits: &hits,
            onset_count: onset_frames.len(),
            duration_s: work_s,
        });
        let sections = sections::segment(&sections::SectionInputs {
            beats: &beats_s,
            beats_per_bar: bpb,
            bar_phase: drums::bar_phase(&beats_s, &hits, bpb),
            chroma: &chroma,
            timbre: &features.timbre,
            timbre_hop_s: (features::TIMBRE_EVERY * features::HOP) as f64 / f64::from(ANALYSIS_RATE),
            timbre_first_s: features::FRAME as f64 / 2.0 / f64::from(ANALYSIS_RATE),
            duration_s: work_s,
        });
        debug_assert_eq!(timbre.len(), TIMBRE_DIM);
        debug_assert_eq!(rhythm_vector.len(), RHYTHM_DIM);

        let mut analysis = TrackAnalysis {
            version: ANALYSIS_VERSION,
            start_s,
            end_s: start_s + duration,
            sample_rate: rate,
            channels,
            tempo: Tempo {
                bpm: round_to(tempo.bpm, 100.0),
                confidence: round_to(tempo.confidence, 1000.0),
                beats: beats_s.iter().map(|&b| b as f32).collect(),
                time_signature: tempo.beats_per_bar.map(|n| TimeSignature {
                    numerator: n,
                    denominator: 4,
                }),
            },
            key,
            loudness: level.loudness,
            dynamics: level.dynamics,
            stereo: level.stereo,
            bands,
            rhythm: Rhythm {
                onset_count: onset_frames.len() as u32,
                onset_rate_per_s: if work_s > 0.0 {
                    onset_frames.len() as f64 / work_s
                } else {
                    0.0
                },
                hits,
                pattern,
            },
            timbre,
            rhythm_vector,
            sections,
        };
        section_pattern::keep_at_most(&mut analysis, max_sections);
        section_pattern::add_patterns(&mut analysis);
        Ok(analysis)
    }
}

fn onsets_time(frame: f64) -> f64 {
    onsets::frame_time(0) + frame * features::HOP as f64 / f64::from(ANALYSIS_RATE)
}

fn round_to(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// Analyses a whole buffer in one call (tests, clips, benches).
pub fn analyse_pcm(
    sample_rate: u32,
    channels: u16,
    interleaved: &[f32],
    start_s: f64,
) -> Result<TrackAnalysis, AnalysisError> {
    analyse_pcm_with(sample_rate, channels, interleaved, start_s, AnalysisOptions::default())
}

/// [`analyse_pcm`] with options.
pub fn analyse_pcm_with(
    sample_rate: u32,
    channels: u16,
    interleaved: &[f32],
    start_s: f64,
    options: AnalysisOptions,
) -> Result<TrackAnalysis, AnalysisError> {
    let mut a = Analyser::with_options(sample_rate, channels, options)?;
    let step = 8192 * usize::from(channels.max(1));
    for chunk in interleaved.chunks(step) {
        a.push(chunk);
    }
    a.finish(start_s)
}

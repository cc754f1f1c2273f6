//! Sections of a track (intro, verse, chorus…) and the drum pattern of each.
//!
//! Sections are part of the analysis record ([`crate::TrackAnalysis`]):
//! written in the same batch as the track, dropped with it, and re-made by
//! `sonica-reindex` like every other figure of the analysis. A section's
//! pattern is therefore never half-written or orphaned. Its id is derived
//! from the track and the section's index ([`PatternId`]), so the link from
//! a pattern to its track and section is in the id itself and needs no
//! second tree to keep in step.

use serde::{Deserialize, Serialize};

use crate::notation::{Drum, DrumPattern, Key, TimeSignature};
use crate::TrackId;

/// Most sections a track can keep (the configured bound is at most this).
pub const MAX_SECTIONS: usize = 32;
/// Sections kept per track unless configured otherwise.
pub const DEFAULT_SECTIONS: usize = 8;
/// Length of a pattern vector: three voices × 16 steps, then three voices
/// × 8 half-bar-folded steps (the same groove whatever the bar phase), then
/// the voices' densities.
pub const PATTERN_DIM: usize = 3 * 16 + 3 * 8 + 3;

/// What a section does in the song, as guessed from its position, its
/// repeats and its energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionFunction {
    Intro,
    Verse,
    Chorus,
    Bridge,
    Outro,
}

impl SectionFunction {
    pub fn name(self) -> &'static str {
        match self {
            SectionFunction::Intro => "intro",
            SectionFunction::Verse => "verse",
            SectionFunction::Chorus => "chorus",
            SectionFunction::Bridge => "bridge",
            SectionFunction::Outro => "outro",
        }
    }
}

/// A drum hit of a pattern, in beats from the section's first beat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BeatHit {
    pub beat: f32,
    pub drum: Drum,
    /// 0–1.
    pub strength: f32,
}

/// The drum pattern of one section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionPattern {
    /// Tempo over the section's beats, BPM (0 when it has too few beats).
    pub tempo_bpm: f64,
    /// The section's key (the track's when the section is too short to tell).
    pub key: Option<Key>,
    pub time_signature: Option<TimeSignature>,
    /// The typical bar of the section (16 steps in 4/4, 12 in 3/4).
    pub grid: DrumPattern,
    /// Every hit, in beats from the section's first beat.
    pub hits: Vec<BeatHit>,
    /// 0–1: how steady the pattern is (bars alike, hits on the grid), and
    /// how much of it there is (a section with a few stray hits scores low).
    pub quality: f32,
    /// L2-normalised, [`PATTERN_DIM`] long (empty when the section has no drums).
    pub vector: Vec<f32>,
}

/// One section of a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// Seconds from the start of the analysed range, like beats and hits.
    pub start_s: f32,
    pub end_s: f32,
    /// Repeats share a label: "A", "B", "C"…
    pub label: String,
    pub function: SectionFunction,
    /// 0–1.
    pub function_confidence: f32,
    /// Mean loudness of the section relative to the track's loudest
    /// section, dB (0 for the loudest, negative for the others).
    pub energy_db: f32,
    /// How sharp the change at the section's start is (novelty, 0–1; 1 for
    /// the first section). The weakest boundaries go first when sections
    /// are merged down to a bound.
    pub boundary_strength: f32,
    /// `None` when the section has no drums to speak of.
    pub pattern: Option<SectionPattern>,
}

impl Section {
    pub fn duration_s(&self) -> f32 {
        self.end_s - self.start_s
    }
}

/// A pattern's id: the track id times [`MAX_SECTIONS`] plus the section's
/// index. Ids fit the vector graphs' `u32` for tracks below 2^27.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatternId(pub u64);

impl PatternId {
    pub fn new(track: TrackId, section: usize) -> Option<PatternId> {
        (section < MAX_SECTIONS).then(|| PatternId(u64::from(track) * MAX_SECTIONS as u64 + section as u64))
    }

    pub fn track(self) -> Option<TrackId> {
        TrackId::try_from(self.0 / MAX_SECTIONS as u64).ok().filter(|&t| t > 0)
    }

    pub fn section(self) -> usize {
        (self.0 % MAX_SECTIONS as u64) as usize
    }

    /// The id in a vector graph, when it fits.
    pub fn graph_id(self) -> Option<u32> {
        u32::try_from(self.0).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_ids_round_trip_and_refuse_what_does_not_fit() {
        let p = PatternId::new(1234, 7).unwrap();
        assert_eq!(p.track(), Some(1234));
        assert_eq!(p.section(), 7);
        assert!(PatternId::new(1, MAX_SECTIONS).is_none());
        assert_eq!(PatternId(5).track(), None, "track 0 does not exist");
        assert_eq!(PatternId(u64::MAX).track(), None);
        assert!(PatternId::new(u32::MAX, 0).unwrap().graph_id().is_none());
        assert_eq!(PatternId::new(3, 1).unwrap().graph_id(), Some(3 * 32 + 1));
    }

    #[test]
    fn a_section_serialises_with_snake_case_functions() {
        let s = Section {
            start_s: 0.0,
            end_s: 8.0,
            label: "A".into(),
            function: SectionFunction::Chorus,
            function_confidence: 0.5,
            energy_db: -1.0,
            boundary_strength: 1.0,
            pattern: None,
        };
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"chorus\""), "{j}");
        assert_eq!(serde_json::from_str::<Section>(&j).unwrap(), s);
    }
}

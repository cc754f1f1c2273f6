//! Recognition as the API answers it: a clip file or PCM in, a match view
//! with a confidence out. Shared by `POST /recognize` and the stream.

use std::path::Path;

use serde::Serialize;

use crate::decode::load_clip_limited;
use crate::identify::{Identifier, Match, Verdict};
use crate::resample::ANALYSIS_RATE;
use crate::service::error::ApiError;
use crate::service::state::AppState;
use crate::SonicaError;

/// The matched track.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MatchView {
    pub id: u32,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// Time-consistent hashes supporting the match.
    pub score: u32,
    /// Where the clip starts in the track, in seconds.
    pub offset_s: f64,
    /// Span of the clip covered by the matching evidence, in seconds.
    pub duration_s: f64,
    /// Playback speed of the clip relative to the track.
    pub speed: f32,
    /// 0–1: how far the match stands out from the best other track.
    pub confidence: f64,
}

/// `{"match": …}` as `POST /recognize` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecognizeAnswer {
    #[serde(rename = "match")]
    pub matched: Option<MatchView>,
}

/// A heuristic in 0–1: the margin of the match over the runner-up, damped
/// for thin evidence (10 hits is the acceptance floor).
pub fn confidence(score: u32, runner_up: u32) -> f64 {
    let s = f64::from(score);
    ((s - f64::from(runner_up)) / (s + 10.0)).clamp(0.0, 1.0)
}

pub fn view(m: &Match, v: Option<&Verdict>) -> MatchView {
    let runner_up = v.map(|v| v.runner_up).unwrap_or(0);
    MatchView {
        id: m.track.id,
        title: m.track.title.clone(),
        artist: m.track.artist.clone(),
        album: m.track.album.clone(),
        score: m.score,
        offset_s: round3(m.offset_s),
        duration_s: round3(m.duration_s),
        speed: m.speed,
        confidence: round3(confidence(m.score, runner_up)),
    }
}

/// Rounds to the millisecond for answers.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Identifies mono PCM at the analysis rate.
pub fn recognize_pcm(state: &AppState, pcm: &[f32]) -> Result<Option<MatchView>, ApiError> {
    let secs = pcm.len() as f64 / f64::from(ANALYSIS_RATE);
    if secs < crate::analyse::MIN_DURATION_S {
        return Err(SonicaError::TooShort {
            secs,
            min: crate::analyse::MIN_DURATION_S,
        }
        .into());
    }
    let (m, v) = Identifier::new(&state.index).explain_pcm(pcm)?;
    state.metrics.recognition(m.is_some());
    Ok(m.map(|m| view(&m, v.as_ref())))
}

/// Decodes a clip file (refusing clips over the configured length) and
/// identifies it.
pub fn recognize_file(state: &AppState, path: &Path) -> Result<Option<MatchView>, ApiError> {
    let (pcm, _) = load_clip_limited(path, state.config.max_clip_s).map_err(SonicaError::from)?;
    recognize_pcm(state, &pcm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_grows_with_margin_and_evidence() {
        assert_eq!(confidence(10, 10), 0.0);
        assert!(confidence(20, 2) < confidence(200, 2));
        assert!(confidence(100, 40) < confidence(100, 4));
        assert!(confidence(1000, 0) <= 1.0);
    }
}

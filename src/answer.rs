//! The one shape of a recognition answer, serialised alike by the command
//! line (`sonica identify --json`, one object a line) and by HTTP
//! (`POST /recognize`, the stream's match events).

use serde::Serialize;

use crate::identify::{Match, Verdict};

/// The matched track and how it matched.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MatchView {
    pub id: u32,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// The track's path, as it was ingested.
    pub path: String,
    /// Time-consistent hashes supporting the match.
    pub score: u32,
    /// Where the clip starts in the track, in seconds.
    pub offset_s: f64,
    /// Span of the clip covered by the matching evidence, in seconds.
    pub duration_s: f64,
    /// Playback speed of the clip relative to the track (pitch and tempo
    /// together, as a turntable).
    pub speed: f32,
    /// Tempo of the clip relative to the track with its pitch kept.
    pub tempo: f32,
    /// Pitch of the clip relative to the track in cents, tempo kept.
    pub pitch_cents: f32,
    /// 0–1: how far the match stands out from the best other track.
    pub confidence: f64,
}

/// `{"match": …}`: a match or `null`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecognizeAnswer {
    #[serde(rename = "match")]
    pub matched: Option<MatchView>,
}

impl RecognizeAnswer {
    pub fn new(m: Option<&Match>, v: Option<&Verdict>) -> Self {
        RecognizeAnswer {
            matched: m.map(|m| view(m, v)),
        }
    }
}

/// A heuristic in 0–1: the margin of the match over the runner-up, damped
/// for thin evidence (10 hits is the acceptance floor).
pub fn confidence(score: u32, runner_up: u32) -> f64 {
    let s = f64::from(score);
    ((s - f64::from(runner_up)) / (s + 10.0)).clamp(0.0, 1.0)
}

/// The answer's view of a match.
pub fn view(m: &Match, v: Option<&Verdict>) -> MatchView {
    let runner_up = v.map(|v| v.runner_up).unwrap_or(0);
    MatchView {
        id: m.track.id,
        title: m.track.title.clone(),
        artist: m.track.artist.clone(),
        album: m.track.album.clone(),
        path: m.track.path.clone(),
        score: m.score,
        offset_s: round3(m.offset_s),
        duration_s: round3(m.duration_s),
        speed: round3(f64::from(m.speed)) as f32,
        tempo: round3(f64::from(m.tempo)) as f32,
        pitch_cents: m.pitch_cents.round(),
        confidence: round3(confidence(m.score, runner_up)),
    }
}

/// Rounds to the millisecond for answers.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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

    #[test]
    fn rounding_is_to_the_millisecond() {
        assert_eq!(round3(1.23456), 1.235);
        assert_eq!(round3(-0.0004), -0.0);
    }
}

//! Monitoring: a recording or a live stream of any length in, a play log
//! out (which tracks played, from when to when, and from where in each).
//!
//! The audio is cut into overlapping windows ([`scan`]); each window is
//! identified by the same [`Identifier`](crate::Identifier) that answers a
//! single clip, on as many threads as asked. Window answers that agree on
//! the track and on its alignment (the stream time at which the track's
//! own time 0 would be heard) are merged into one play ([`tracker`]): a
//! track played twice has two alignments, so two plays. A play needs two
//! agreeing windows before it exists, so one chance answer over talk or a
//! jingle invents nothing, and it survives a few unanswered windows (talk
//! over the music), so it is not split. Where it starts and ends is then
//! placed to about a second from the hashes that hit the track at that
//! alignment ([`refine`]). Only a bounded window of audio is ever held, so
//! a day-long file or an endless stream costs the same memory as a minute.

pub mod error;
pub mod live;
pub mod recent;
pub mod refine;
pub mod scan;
pub mod source;
pub mod tracker;

use serde::Serialize;
use sonica_schema::TrackId;

pub use error::MonitorError;
pub use scan::{scan, Report, ScanSummary};
pub use tracker::{Event, PlayDraft};

/// Longest recording `sonica monitor` accepts from a file: a week of
/// audio, a radio logger's longest file. Past it the file is refused as
/// absurd rather than scanned for hours.
pub const MAX_RECORDING_S: f64 = 7.0 * 24.0 * 3600.0;

/// How a recording is cut and how window answers become plays. Each value
/// is measured on the generated radio show (benches/monitor-eval.sh); see
/// the README's monitoring section.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorParams {
    /// Length of each identified window, in seconds: what one answer hears.
    pub window_s: f64,
    /// Step between window starts, in seconds.
    pub hop_s: f64,
    /// Agreeing windows needed before a play exists.
    pub confirm_windows: u32,
    /// Consecutive windows without an agreeing answer that a play survives
    /// (talk or a jingle over the music); one more ends it.
    pub max_missed: u32,
    /// Two answers agree when their alignments differ by at most this many
    /// seconds (speed hypotheses are 0.6 % apart: a few tenths over a song).
    pub align_tolerance_s: f64,
    /// A play's start and end are where its aligned hits are at least this
    /// many within [`Self::density_span_s`].
    pub density_hits: usize,
    pub density_span_s: f64,
    /// Identification threads.
    pub jobs: usize,
}

impl Default for MonitorParams {
    fn default() -> Self {
        MonitorParams {
            window_s: 10.0,
            hop_s: 5.0,
            confirm_windows: 2,
            max_missed: 3,
            align_tolerance_s: 1.5,
            density_hits: 3,
            density_span_s: 2.0,
            jobs: crate::pipeline::bulk::default_jobs(),
        }
    }
}

impl MonitorParams {
    /// Refuses parameters no scan can run with, naming the bad one.
    pub fn check(&self) -> Result<(), String> {
        if !(3.0..=60.0).contains(&self.window_s) {
            return Err(format!("window must be 3–60 s, not {}", self.window_s));
        }
        if !(0.5..=self.window_s).contains(&self.hop_s) {
            return Err(format!("hop must be 0.5 s to the window length, not {}", self.hop_s));
        }
        if self.confirm_windows == 0 || self.jobs == 0 {
            return Err("confirm windows and jobs must be at least 1".into());
        }
        Ok(())
    }
}

/// One play in a play log: what `sonica monitor --json` prints and the
/// service stores.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Play {
    pub track: TrackId,
    pub title: String,
    pub artist: Option<String>,
    /// The track's file, as the library knows it.
    pub path: String,
    /// Seconds from the start of the recording (or of the stream).
    pub start_s: f64,
    pub end_s: f64,
    /// Where in the track the play starts, in seconds.
    pub offset_in_track_s: f64,
    /// Share of the play's windows that named the track (0–1): talk over
    /// the music or a noisy stretch lowers it.
    pub confidence: f64,
    /// Track seconds per second of the recording (1.0 = as released).
    pub speed: f64,
    /// Hashes that agreed, summed over the play's windows.
    pub score: u64,
}

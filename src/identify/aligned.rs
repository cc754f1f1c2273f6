//! Where in a stretch of audio one known track is heard at one known
//! alignment: the evidence a monitor uses to place a play's start and end.
//!
//! A window's answer says which track and where in it, but only to within
//! the window (a clean window is settled on its opening seconds). Knowing
//! the alignment, every hash of the surrounding audio that hits that track
//! at that alignment is a moment the track is audible; where those hits
//! begin and end, densely enough not to be chance, is where the play
//! begins and ends.

use sonica_index::IndexError;
use sonica_schema::TrackId;

use super::Identifier;
use crate::cpu_stages::{timed, Stage};
use crate::fingerprint::hashes::{hash_peaks, scale_peaks};
use crate::fingerprint::{ClipSpectrum, FRAMES_PER_SECOND};

/// Offset window half-width for an aligned hit, in reference frames: the
/// speed hypotheses are 0.6 % apart, which drifts about 2 frames over a
/// 20 s stretch.
const ALIGN_TOLERANCE_FRAMES: f64 = 3.0;

impl Identifier<'_> {
    /// Seconds into `pcm` (mono, fingerprint rate) of the hashes that hit
    /// `track` where track time `offset_s` is heard at `pcm` time 0 and the
    /// audio plays at `speed` (track seconds per second). Sorted.
    pub fn aligned_times(
        &self,
        pcm: &[f32],
        track: TrackId,
        offset_s: f64,
        speed: f32,
    ) -> Result<Vec<f64>, IndexError> {
        if pcm.len() < crate::fingerprint::FFT_SIZE * 2 || !(0.5..=2.0).contains(&speed) {
            return Ok(Vec::new());
        }
        let peaks = timed(Stage::Peaks, || ClipSpectrum::new(pcm).peaks(&self.query.peaks));
        let (entries, hashes, starts) = timed(Stage::Hash, || {
            let mut entries: Vec<(u32, f32)> = hash_peaks(&scale_peaks(&peaks, speed), &self.query.pairs)
                .into_iter()
                .map(|h| (h.hash, h.time))
                .collect();
            entries.sort_unstable_by_key(|e| e.0);
            let (hashes, starts) = super::group_by_hash(&entries, |e| e.0);
            (entries, hashes, starts)
        });
        let offset_frames = offset_s * FRAMES_PER_SECOND;
        let mut times = Vec::new();
        timed(Stage::Lookup, || {
            self.index.lookup_hashes(&hashes, &mut |i, t, ref_time| {
                if t != track {
                    return;
                }
                for &(_, qt) in &entries[starts[i]..starts[i + 1]] {
                    if (f64::from(ref_time) - f64::from(qt) - offset_frames).abs() <= ALIGN_TOLERANCE_FRAMES {
                        // Back from reference frames to this audio's seconds.
                        times.push(f64::from(qt) / f64::from(speed) / FRAMES_PER_SECOND);
                    }
                }
            })
        })?;
        times.sort_by(f64::total_cmp);
        times.dedup();
        Ok(times)
    }
}

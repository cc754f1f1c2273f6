//! Recognition as the service runs it: a clip file or PCM in, the one
//! answer shape ([`crate::answer`]) out, counted in the metrics. Shared by
//! `POST /recognize` and the stream.

use std::path::Path;

use crate::answer::{view, MatchView};
use crate::decode::load_clip_limited;
use crate::explain::Explanation;
use crate::fingerprint::FINGERPRINT_RATE;
use crate::identify::Identifier;
use crate::service::error::ApiError;
use crate::service::state::AppState;
use crate::SonicaError;

/// Identifies mono PCM at the fingerprint rate.
pub fn recognize_pcm(state: &AppState, pcm: &[f32]) -> Result<Option<MatchView>, ApiError> {
    let secs = pcm.len() as f64 / f64::from(FINGERPRINT_RATE);
    if secs < crate::pipeline::MIN_DURATION_S {
        return Err(SonicaError::TooShort {
            secs,
            min: crate::pipeline::MIN_DURATION_S,
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
    Ok(recognize_file_explained(state, path, false)?.0)
}

/// [`recognize_file`], with the evidence behind a match when `explain`.
pub fn recognize_file_explained(
    state: &AppState,
    path: &Path,
    explain: bool,
) -> Result<(Option<MatchView>, Option<Explanation>), ApiError> {
    let (pcm, _) = load_clip_limited(path, state.config.max_clip_s).map_err(SonicaError::from)?;
    let m = recognize_pcm(state, &pcm)?;
    let why = match (&m, explain) {
        (Some(m), true) => Some(crate::explain::explain(&state.index, &pcm, m.id, m.offset_s, m.speed)?),
        _ => None,
    };
    Ok((m, why))
}

//! `POST /analyze` with `instrument=drums`: the section a producer sent,
//! as the MiDiMe seed answers it: the section's drum pattern (`midi_data`
//! in beats, grid, tempo, key), and whether it is a section of a song the
//! library already holds (`duplicate_detected`), with that song's stored
//! sections and songs whose patterns are like it.
//!
//! The clip is recognised from (at most) its first [`RECOGNISE_S`]
//! seconds, resampled to the fingerprint rate; a match names the stored
//! section under the clip's middle.

use std::path::Path;

use serde_json::{json, Value};
use sonica_schema::{PatternId, TrackAnalysis};

use crate::analysis::section_pattern::section_pattern;
use crate::analysis::{pattern_json, section_json};
use crate::dsp::resample;
use crate::fingerprint::FINGERPRINT_RATE;
use crate::pipeline::excerpt::excerpt;
use crate::search::patterns::{search_patterns, PatternParams, PatternSource};
use crate::search::track_analysis;
use crate::service::error::ApiError;
use crate::service::recognition::recognize_pcm;
use crate::service::state::AppState;
use crate::SonicaError;

/// Seconds of the clip that are recognised.
pub const RECOGNISE_S: f64 = 30.0;
/// Similar songs suggested.
const SUGGESTIONS: usize = 5;

/// The answer for an analysed clip `a` of the upload at `path` (its range
/// `a.start_s..a.end_s`). `midi_available`: what the caller's tier allows.
pub fn drum_answer(state: &AppState, path: &Path, a: &TrackAnalysis, midi_available: bool) -> Result<Value, ApiError> {
    let whole = section_pattern(a, 0.0, a.duration_s() as f32);
    let pattern = whole.as_ref().map_or(Value::Null, |p| pattern_json(p, None));
    let section = json!({
        "start_s": round3(a.start_s),
        "end_s": round3(a.end_s),
        "tempo_bpm": a.tempo.bpm,
        "key": a.key.key.name(),
        "time_signature": a.tempo.time_signature.map(|t| format!("{}/{}", t.numerator, t.denominator)),
        "midi_data": pattern["midi_data"].clone(),
        "pattern": pattern,
        "midi_available": midi_available && whole.is_some(),
    });
    let matched = recognise(state, path, a)?;
    let mut body = json!({
        "section": section,
        "duplicate_detected": false,
        "existing_sections": [],
        "similar_songs": [],
    });
    if let Some((track, offset_s)) = matched {
        let stored = track_analysis(&state.index, track)?;
        // Where the middle of the clip falls in the stored track.
        let mid = (offset_s + 0.5 * a.duration_s().min(RECOGNISE_S) - stored.start_s) as f32;
        let hit = stored.sections.iter().position(|s| s.start_s <= mid && mid < s.end_s);
        body["duplicate_detected"] = json!(true);
        body["match"] = json!({"track_id": track, "offset_s": round3(offset_s), "section_index": hit});
        body["existing_sections"] = Value::Array(
            stored
                .sections
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let id = s.pattern.as_ref().and(PatternId::new(track, i)).map(|p| p.0);
                    section_json(&stored, i, s, id)
                })
                .collect(),
        );
        let query = hit
            .filter(|&i| stored.sections[i].pattern.is_some())
            .map(|i| PatternSource::Section { track, section: i });
        if let Some(q) = query {
            body["similar_songs"] = suggestions(state, &q, track, midi_available)?;
        }
    } else if let Some(p) = whole.filter(|p| !p.vector.is_empty()) {
        let mut clip = a.clone();
        clip.sections = vec![sonica_schema::Section {
            start_s: 0.0,
            end_s: a.duration_s() as f32,
            label: "A".into(),
            function: sonica_schema::SectionFunction::Verse,
            function_confidence: 0.0,
            energy_db: 0.0,
            boundary_strength: 1.0,
            pattern: Some(p),
        }];
        body["similar_songs"] = suggestions(state, &PatternSource::Clip(Box::new(clip)), 0, midi_available)?;
    }
    Ok(body)
}

fn suggestions(state: &AppState, q: &PatternSource, skip_track: u32, midi: bool) -> Result<Value, ApiError> {
    let params = PatternParams {
        min_similarity: 0.0,
        limit: SUGGESTIONS * 4,
        tempo: None,
        genres: Vec::new(),
        keys: Vec::new(),
    };
    let answer = search_patterns(&state.index, &state.music, q, &params, midi)?;
    let songs: Vec<Value> = answer
        .results
        .into_iter()
        .filter(|g| g.track_id != skip_track)
        .take(SUGGESTIONS)
        .map(|g| serde_json::to_value(g).unwrap_or(Value::Null))
        .collect();
    Ok(Value::Array(songs))
}

/// The stored track and offset the clip comes from, if any.
fn recognise(state: &AppState, path: &Path, a: &TrackAnalysis) -> Result<Option<(u32, f64)>, ApiError> {
    let x = excerpt(path, a.start_s, a.duration_s().min(RECOGNISE_S))?;
    let mono: Vec<f32> = if x.channels == 2 {
        x.samples.chunks_exact(2).map(|f| 0.5 * (f[0] + f[1])).collect()
    } else {
        x.samples
    };
    let pcm = resample(&mono, x.rate, FINGERPRINT_RATE, 4096)
        .map_err(|e| SonicaError::from(crate::decode::DecodeError::from(e)))?;
    match recognize_pcm(state, &pcm) {
        Ok(Some(m)) => Ok(Some((m.id, m.offset_s))),
        Ok(None) => Ok(None),
        // A clip too short or too quiet to fingerprint is simply no match.
        Err(ApiError::Sonica(SonicaError::TooShort { .. } | SonicaError::Silent)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

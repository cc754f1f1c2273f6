//! `GET /tracks/{id}/analysis`, `POST /analyze` and
//! `GET /tracks/{id}/pattern.mid`: a track's tempo, key, loudness, bands
//! and drum pattern, stored or measured on the spot.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::analysis::{pattern_midi, section_json, summary_json};
use crate::pipeline::analyse_music;
use crate::search::params::parse_number;
use crate::search::{track_analysis, ParamError};
use crate::service::error::ApiError;
use crate::service::routes::{blocking, parse_id};
use crate::service::state::AppState;
use crate::service::upload::read_form;
use crate::SonicaError;

/// Longest stretch of an upload `POST /analyze` measures, in seconds.
pub const MAX_ANALYZE_S: f64 = 20.0 * 60.0;

/// A start/end pair in seconds, checked.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawRange {
    /// Start of the section, seconds from the start of the track (inside the audio).
    #[param(value_type = f64, required = false, minimum = 0)]
    pub start_s: Option<String>,
    /// End of the section, seconds (after `start_s`).
    #[param(value_type = f64, required = false, exclusive_minimum = 0)]
    pub end_s: Option<String>,
}

/// The form of `POST /analyze` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AnalyzeForm {
    /// The audio, any supported format (also accepted as `audio`).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Start of the section to measure, seconds (inside the audio).
    #[schema(required = false, minimum = 0)]
    pub start_s: f64,
    /// End of the section, seconds (after `start_s`).
    #[schema(required = false, exclusive_minimum = 0)]
    pub end_s: f64,
    /// `drums`: answer with the section's drum pattern, whether the clip
    /// is a section of a stored song (`duplicate_detected`), that song's
    /// sections and similar songs.
    #[schema(required = false)]
    pub instrument: String,
}

impl RawRange {
    pub fn parse(&self) -> Result<(Option<f64>, Option<f64>), ParamError> {
        let start = parse_number("start_s", &self.start_s)?;
        let end = parse_number("end_s", &self.end_s)?;
        if let Some(s) = start {
            if s < 0.0 {
                return Err(ParamError(format!("start_s must not be negative, not {s}")));
            }
        }
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                return Err(ParamError(format!("end_s ({e}) must be greater than start_s ({s})")));
            }
        }
        if let Some(e) = end {
            if e <= 0.0 {
                return Err(ParamError(format!("end_s must be greater than 0, not {e}")));
            }
        }
        Ok((start, end))
    }
}

#[utoipa::path(get, path = "/tracks/{id}/analysis", tag = "analysis",
    params(("id" = i64, Path, minimum = 1, maximum = 4294967295.0, description = "Track id")),
    responses(
        (status = 200, description = "Tempo, key, loudness, dynamics, stereo, bands, drum pattern", body = Object),
        (status = 400, description = "`bad_request`: the id is not a whole number from 1 to 4294967295", body = crate::service::error::ErrorBody),
        (status = 404, description = "Unknown track, or a track without analysis", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`, or `analysis_pending` (recognisable, analysis still running)", body = crate::service::error::ErrorBody)))]
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let st = state.clone();
    let body = blocking(move || {
        let a = track_analysis(&st.index, id)?;
        let path = st.index.get(id)?.map(|r| r.path).unwrap_or_default();
        let mut v = summary_json(&path, &a, false);
        v["id"] = serde_json::json!(id);
        // The stored sections' patterns have ids (track × 32 + section).
        v["sections"] = serde_json::Value::Array(
            a.sections
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let pid = s
                        .pattern
                        .as_ref()
                        .and(sonica_schema::PatternId::new(id, i))
                        .map(|p| p.0);
                    section_json(&a, i, s, pid)
                })
                .collect(),
        );
        // The beat grid the web app draws on the waveform, seconds from
        // the start of the track.
        v["beats"] = serde_json::json!(a
            .tempo
            .beats
            .iter()
            .map(|&b| ((a.start_s + f64::from(b)) * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>());
        Ok(v)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(post, path = "/analyze", tag = "analysis",
    request_body(content = AnalyzeForm, content_type = "multipart/form-data", description = "`file` (or `audio`): audio in any supported format; optional `start_s` and `end_s` (seconds) pick a section. Nothing is stored."),
    responses(
        (status = 200, description = "The same figures as GET /tracks/{id}/analysis", body = Object),
        (status = 400, description = "`missing_field` (no file), `empty_file`, `invalid_parameter` (start_s/end_s not numbers or out of order), `bad_range` (start past the end of the audio) or `bad_request` (malformed body)", body = crate::service::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::service::error::ErrorBody),
        (status = 415, description = "`unsupported_media` or `unsupported_content_type`", body = crate::service::error::ErrorBody),
        (status = 422, description = "Corrupt audio, or too short to analyse", body = crate::service::error::ErrorBody)))]
pub async fn analyze(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, payload, &state.tmp_dir, state.config.max_upload_bytes).await?;
    let audio = form.take_audio()?;
    let range = RawRange {
        start_s: form.text.remove("start_s"),
        end_s: form.text.remove("end_s"),
    };
    let (start, end) = range.parse().map_err(SonicaError::from)?;
    let drums = match form.text.remove("instrument").as_deref().map(str::trim) {
        None | Some("") | Some("all") => false,
        Some(i) if i.eq_ignore_ascii_case("drums") => true,
        Some(i) => {
            return Err(SonicaError::from(ParamError(format!(
                "instrument must be \"drums\" (or left out), not {:?}",
                i.chars().take(40).collect::<String>()
            )))
            .into())
        }
    };
    let midi = crate::service::tiers::midi_allowed(&req);
    let _turn = state.recognizers.acquire().await.map_err(|_| ApiError::ShuttingDown)?;
    let name = audio.name.clone().unwrap_or_else(|| "upload".into());
    let st = state.clone();
    let body = blocking(move || {
        let a = analyse_music(audio.file.path(), start, end, MAX_ANALYZE_S, Default::default())?;
        if drums {
            return crate::service::drum_section::drum_answer(&st, audio.file.path(), &a, midi);
        }
        Ok(summary_json(&name, &a, false))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/tracks/{id}/pattern.mid", tag = "analysis",
    params(("id" = i64, Path, minimum = 1, maximum = 4294967295.0, description = "Track id"), RawRange),
    responses(
        (status = 200, description = "Standard MIDI file: kick (36), snare (38) and hi-hat (42) on channel 10, at the track's tempo", content_type = "audio/midi"),
        (status = 400, description = "`bad_request` (bad id), `invalid_parameter` (start_s/end_s not numbers or out of order) or `bad_range` (the section is outside the track)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`, or `analysis_missing`", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`, or `analysis_pending` (recognisable, analysis still running)", body = crate::service::error::ErrorBody),
        (status = 422, description = "`analysis_failed`: no drum hits in the section, nothing to export", body = crate::service::error::ErrorBody)))]
pub async fn pattern(
    state: web::Data<AppState>,
    id: web::Path<String>,
    range: web::Query<RawRange>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let (start, end) = range.parse().map_err(SonicaError::from)?;
    let st = state.clone();
    let bytes = blocking(move || {
        let a = track_analysis(&st.index, id)?;
        Ok(pattern_midi(&a, start, end).map_err(SonicaError::from)?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("audio/midi")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"track-{id}-pattern.mid\""),
        ))
        .body(bytes))
}

//! What the web app's track page draws and plays: the waveform, a
//! section's spectrogram with the fingerprint's peaks, and the stored file
//! itself with HTTP range requests.
//!
//! The waveform is stored at ingest (a byte per 100 ms), so a track page
//! needs no decode; a track ingested before that gets it computed from its
//! file on first request, and stored. A spectrogram decodes only up to the
//! end of the section asked for (at most [`MAX_SECTION_S`]).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sonica_schema::waveform::EnvelopeBuilder;
use sonica_schema::{TrackRecord, Waveform};

use crate::fingerprint::params::{FFT_SIZE, HOP};
use crate::fingerprint::spectrogram::FRAME_BINS;
use crate::fingerprint::{Spectrogram, FINGERPRINT_RATE, FRAMES_PER_SECOND};
use crate::search::ParamError;
use crate::service::error::ApiError;
use crate::service::routes::{blocking, parse_id};
use crate::service::state::AppState;
use crate::SonicaError;

use crate::service::range::{byte_range, ByteRange};

/// Widest waveform, in bins.
pub const MAX_BINS: usize = 4096;
/// Longest spectrogram section, seconds.
pub const MAX_SECTION_S: f64 = 30.0;
/// A spectrogram answer holds at most this many frames (longer sections
/// are pooled in time, by maximum).
const MAX_FRAMES: usize = 400;
/// Frequency bins pooled into one (by maximum): 121 rows up to 3.75 kHz.
const BIN_POOL: usize = 4;
/// The dB span from the loudest cell down to the floor.
const DB_SPAN: f32 = 80.0;

/// A live track, or why not (unknown: 404; still a job: 409).
pub fn live_track(state: &AppState, id: u32) -> Result<TrackRecord, ApiError> {
    Ok(crate::search::live_record(&state.index, id)?)
}

fn bad(e: ParamError) -> ApiError {
    SonicaError::Param(e).into()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaveformQuery {
    /// Number of peaks wanted (16–4096, default 800), e.g. the drawing's width in pixels.
    #[param(value_type = Option<u32>, minimum = 16, maximum = 4096)]
    pub bins: Option<String>,
}

/// `{"id", "duration_s", "bins", "peaks"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaveformAnswer {
    pub id: u32,
    pub duration_s: f64,
    pub bins: usize,
    /// Peak |sample| per bin, 0–255 (255 = full scale).
    pub peaks: Vec<u8>,
}

fn parse_bins(raw: &Option<String>) -> Result<usize, ParamError> {
    let Some(s) = raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(800);
    };
    match s.parse::<usize>() {
        Ok(n) if (16..=MAX_BINS).contains(&n) => Ok(n),
        _ => Err(ParamError(format!(
            "bins must be a whole number from 16 to {MAX_BINS}, not {:?}",
            s.chars().take(40).collect::<String>()
        ))),
    }
}

/// The stored waveform, or one computed from the file (and stored).
fn waveform_of(state: &AppState, rec: &TrackRecord) -> Result<Waveform, ApiError> {
    if let Some(w) = state.index.waveform(rec.id)? {
        return Ok(w);
    }
    let mut b = EnvelopeBuilder::new(FINGERPRINT_RATE);
    let path = std::path::Path::new(&rec.path);
    if !path.exists() {
        return Err(SonicaError::Missing.into());
    }
    crate::decode::decode_for_fingerprint(path, &mut |s| b.push(s)).map_err(SonicaError::from)?;
    let w = b.finish();
    match state.index.put_waveform(rec.id, &w) {
        Ok(()) => {}
        Err(e) => tracing::warn!(id = rec.id, error = %e, "cannot store a computed waveform"),
    }
    Ok(w)
}

#[utoipa::path(get, path = "/tracks/{id}/waveform", tag = "tracks",
    params(("id" = u32, Path, description = "Track id"), WaveformQuery),
    responses((status = 200, body = WaveformAnswer),
        (status = 400, description = "`bad_request` (malformed id or unknown parameter) or `invalid_parameter` (bins)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`, or `not_found` when the track's file is gone and no waveform was stored", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`: still being fingerprinted", body = crate::service::error::ErrorBody)))]
pub async fn waveform(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<WaveformQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let bins = parse_bins(&q.bins).map_err(bad)?;
    let st = state.clone();
    let answer = blocking(move || {
        let rec = live_track(&st, id)?;
        let w = waveform_of(&st, &rec)?;
        Ok(WaveformAnswer {
            id,
            duration_s: rec.duration_s,
            bins,
            peaks: w.pooled(bins),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SectionQuery {
    /// Start of the section, seconds (default 0, inside the track).
    #[param(value_type = Option<f64>, minimum = 0)]
    pub start_s: Option<String>,
    /// Length of the section, seconds (default 10, at most 30).
    #[param(value_type = Option<f64>, exclusive_minimum = 0, maximum = 30)]
    pub duration_s: Option<String>,
}

/// A section's spectrogram and the fingerprint's peaks in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpectrogramAnswer {
    pub id: u32,
    pub start_s: f64,
    pub duration_s: f64,
    /// Columns (time).
    pub frames: usize,
    /// Rows (frequency), from 0 Hz up.
    pub bins: usize,
    /// Seconds per column.
    pub frame_s: f64,
    /// Hertz per row.
    pub hz_per_bin: f64,
    /// dB (relative to a full-scale sine) of byte value 0.
    pub db_floor: f32,
    /// dB of byte value 255.
    pub db_ceil: f32,
    /// `frames × bins` bytes, column after column, URL-safe base64 without padding.
    pub data: String,
    /// The fingerprint's peaks in the section: `[t_s, hz]`, track time.
    pub peaks: Vec<[f32; 2]>,
}

fn parse_section(q: &SectionQuery, track_s: f64) -> Result<(f64, f64), ApiError> {
    use crate::search::params::parse_number;
    let start = parse_number("start_s", &q.start_s).map_err(bad)?.unwrap_or(0.0);
    let dur = parse_number("duration_s", &q.duration_s).map_err(bad)?.unwrap_or(10.0);
    if start < 0.0 {
        return Err(bad(ParamError(format!("start_s must not be negative, not {start}"))));
    }
    if !(dur > 0.0 && dur <= MAX_SECTION_S) {
        return Err(bad(ParamError(format!(
            "duration_s must be more than 0 and at most {MAX_SECTION_S}, not {dur}"
        ))));
    }
    if start >= track_s {
        return Err(SonicaError::BadRange {
            start,
            end: start + dur,
        }
        .into());
    }
    Ok((start, dur.min(track_s - start)))
}

/// The spectrogram of `pcm` (fingerprint rate, starting at frame
/// `first_frame` of the track), pooled for drawing.
fn draw_section(pcm: &[f32]) -> (usize, usize, usize, f32, Vec<u8>) {
    let rows = FRAME_BINS.div_ceil(BIN_POOL);
    let mut cols: Vec<Vec<f32>> = Vec::new();
    Spectrogram::new().push(pcm, &mut |power| {
        let col = (0..rows)
            .map(|r| {
                let hi = ((r + 1) * BIN_POOL).min(power.len());
                let p = power[r * BIN_POOL..hi].iter().copied().fold(0.0f32, f32::max);
                10.0 * (p + 1e-12).log10()
            })
            .collect();
        cols.push(col);
    });
    let pool = cols.len().div_ceil(MAX_FRAMES).max(1);
    let pooled: Vec<Vec<f32>> = cols
        .chunks(pool)
        .map(|c| {
            (0..rows)
                .map(|r| c.iter().map(|col| col[r]).fold(f32::MIN, f32::max))
                .collect()
        })
        .collect();
    let ceil = pooled.iter().flatten().copied().fold(-120.0f32, f32::max).min(0.0);
    let ceil = (ceil / 5.0).ceil() * 5.0;
    let floor = ceil - DB_SPAN;
    let data = pooled
        .iter()
        .flatten()
        .map(|&db| (((db - floor) / DB_SPAN).clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    (pooled.len(), rows, pool, ceil, data)
}

#[utoipa::path(get, path = "/tracks/{id}/spectrogram", tag = "tracks",
    params(("id" = u32, Path, description = "Track id"), SectionQuery),
    responses((status = 200, body = SpectrogramAnswer),
        (status = 400, description = "`bad_request` (malformed id or unknown parameter), `invalid_parameter` (start_s/duration_s) or `bad_range` (start past the end)", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`, or `not_found` when the track's file is gone", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`", body = crate::service::error::ErrorBody),
        (status = 422, description = "The stored file no longer decodes", body = crate::service::error::ErrorBody)))]
pub async fn spectrogram(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<SectionQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let q = q.into_inner();
    let st = state.clone();
    let answer = blocking(move || {
        let rec = live_track(&st, id)?;
        let (start, dur) = parse_section(&q, rec.duration_s)?;
        // Whole hops, so the section's frames are the track's frames.
        let first_frame = (start * FRAMES_PER_SECOND).floor() as usize;
        let skip = first_frame * HOP;
        let want = (dur * f64::from(FINGERPRINT_RATE)) as usize + FFT_SIZE;
        let path = std::path::Path::new(&rec.path);
        if !path.exists() {
            return Err(SonicaError::Missing.into());
        }
        let mut seen = 0usize;
        let mut pcm: Vec<f32> = Vec::with_capacity(want);
        let until = (skip + want) as f64 / f64::from(FINGERPRINT_RATE) + 0.1;
        crate::decode::decode_opening(path, until, &mut |s| {
            let from = skip.saturating_sub(seen).min(s.len());
            let room = want - pcm.len();
            pcm.extend_from_slice(&s[from..][..(s.len() - from).min(room)]);
            seen += s.len();
        })
        .map_err(SonicaError::from)?;
        let (frames, bins, pool, ceil, data) = draw_section(&pcm);
        let end_frame = first_frame as f64 + dur * FRAMES_PER_SECOND;
        let hz_per_bin = f64::from(FINGERPRINT_RATE) / FFT_SIZE as f64;
        let peaks = st
            .index
            .peaks(id)?
            .into_iter()
            .filter(|p| (p.time as usize) >= first_frame && f64::from(p.time) < end_frame)
            .map(|p| {
                [
                    (f64::from(p.time) / FRAMES_PER_SECOND) as f32,
                    (f64::from(p.bin()) * hz_per_bin) as f32,
                ]
            })
            .collect();
        Ok(SpectrogramAnswer {
            id,
            start_s: crate::answer::round3(first_frame as f64 / FRAMES_PER_SECOND),
            duration_s: crate::answer::round3(dur),
            frames,
            bins,
            frame_s: pool as f64 / FRAMES_PER_SECOND,
            hz_per_bin: hz_per_bin * BIN_POOL as f64,
            db_floor: ceil - DB_SPAN,
            db_ceil: ceil,
            data: crate::chromaprint::base64_url(&data),
            peaks,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// The media type of a stored file, by its extension.
fn audio_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "wav" | "wave" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "m4a" | "mp4" | "aac" | "alac" => "audio/mp4",
        "aif" | "aiff" | "aifc" => "audio/aiff",
        "webm" | "mka" | "mkv" => "audio/webm",
        _ => "application/octet-stream",
    }
}

/// Bytes read per chunk of a streamed answer.
const CHUNK: usize = 256 * 1024;

#[utoipa::path(get, path = "/tracks/{id}/audio", tag = "tracks",
    params(("id" = u32, Path, description = "Track id"),
        ("Range" = Option<String>, Header, nullable = false, description = "One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("key" = Option<String>, Query, description = "The API key, for players that cannot send a header (when `protect_reads` is on)")),
    responses((status = 200, description = "The stored file", content_type = "audio/*"),
        (status = 206, description = "The range asked for (`Content-Range`)", content_type = "audio/*"),
        (status = 400, description = "`bad_request`: malformed id", body = crate::service::error::ErrorBody),
        (status = 404, description = "`unknown_track`, or `not_found` when the file is gone", body = crate::service::error::ErrorBody),
        (status = 409, description = "`track_not_ready`", body = crate::service::error::ErrorBody),
        (status = 416, description = "`range_not_satisfiable` (`Content-Range: bytes */len`)", body = crate::service::error::ErrorBody)))]
pub async fn audio(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    use std::io::{Read, Seek, SeekFrom};
    let id = parse_id(&id)?;
    let st = state.clone();
    let (rec, file, len) = blocking(move || {
        let rec = live_track(&st, id)?;
        let file = std::fs::File::open(&rec.path).map_err(|_| SonicaError::Missing)?;
        let len = file.metadata().map_err(|_| SonicaError::Missing)?.len();
        Ok((rec, file, len))
    })
    .await?;
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, from, to) = match byte_range(range, len) {
        ByteRange::Whole => (actix_web::http::StatusCode::OK, 0, len),
        ByteRange::Part { from, to } => (actix_web::http::StatusCode::PARTIAL_CONTENT, from, to),
        ByteRange::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { len }),
    };
    let state0 = (file, from, to);
    let body = futures_util::stream::unfold(Some(state0), |st| async move {
        let (mut file, pos, end) = st?;
        if pos >= end {
            return None;
        }
        let n = (end - pos).min(CHUNK as u64) as usize;
        let read = web::block(move || {
            let mut buf = vec![0u8; n];
            file.seek(SeekFrom::Start(pos))?;
            file.read_exact(&mut buf)?;
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((file, buf))) => Some((Ok(web::Bytes::from(buf)), Some((file, pos + n as u64, end)))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(_) => Some((Err(std::io::Error::other("a blocking read was cancelled")), None)),
        }
    });
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, audio_type(&rec.path)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .no_chunking(to - from);
    if status == actix_web::http::StatusCode::PARTIAL_CONTENT {
        res.insert_header((header::CONTENT_RANGE, format!("bytes {from}-{}/{len}", to - 1)));
    }
    Ok(res.streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_checked() {
        assert_eq!(parse_bins(&None).unwrap(), 800);
        assert_eq!(parse_bins(&Some("16".into())).unwrap(), 16);
        for bad in ["15", "4097", "-1", "1e3", "abc", "99999999999999999999999"] {
            assert!(parse_bins(&Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn sections_are_checked_against_the_track() {
        let q = |s: &str, d: &str| SectionQuery {
            start_s: Some(s.into()),
            duration_s: Some(d.into()),
        };
        assert_eq!(parse_section(&q("5", "10"), 60.0).unwrap(), (5.0, 10.0));
        assert_eq!(parse_section(&q("55", "10"), 60.0).unwrap(), (55.0, 5.0));
        for (s, d) in [
            ("-1", "10"),
            ("0", "0"),
            ("0", "31"),
            ("0", "NaN"),
            ("x", "1"),
            ("60", "1"),
            ("1e300", "1"),
        ] {
            assert!(parse_section(&q(s, d), 60.0).is_err(), "{s} {d}");
        }
    }

    #[test]
    fn a_section_draws_within_its_bounds() {
        let tone: Vec<f32> = (0..80_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin())
            .collect();
        let (frames, rows, pool, ceil, data) = draw_section(&tone);
        assert_eq!(data.len(), frames * rows);
        assert!(frames <= MAX_FRAMES && pool == 2, "{frames} {pool}");
        assert!(ceil <= 0.0 && ceil > -20.0, "{ceil}");
        // The loudest row is the one holding 1 kHz.
        let col = &data[rows * 10..rows * 11];
        let loudest = (0..rows).max_by_key(|&r| col[r]).unwrap();
        assert_eq!(loudest, (1000.0 / (8000.0 / 1024.0) / BIN_POOL as f32) as usize);
        assert_eq!(draw_section(&[]).0, 0);
    }
}

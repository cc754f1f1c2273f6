//! The mastering assistant over a library: mark references, build the
//! target a mix is judged by (chosen references, the library's references
//! of a genre, or a built-in genre target), analyse a mix and keep the
//! analysis, and render its preview. The CLI and the HTTP routes both call
//! these, so they answer alike.

use std::path::Path;

use sonica_index::{FingerprintIndex, MasteringLibrary};
use sonica_schema::mastering_record::{normalise_genre, AnalysisRecord, PreviewAudio, ReferenceRecord, TargetSource};

use super::builtin;
use super::compare::{compare, target_of, Comparison, Level, Target, PLATFORM_TRUE_PEAK_DBTP};
use super::file::{measure_and_keep, measure_file};
use super::render::{equalise, gain_and_limit};
use super::MasteringError;
use crate::analysis::error::AnalysisError;
use crate::SonicaError;

/// Seconds of the mix kept for the preview.
pub const PREVIEW_S: f64 = 30.0;
/// Most references one analysis may name.
pub const MAX_REFERENCES: usize = 32;
/// Analyses kept unless told otherwise (about 5 MB each with a preview).
pub const DEFAULT_KEEP: usize = 100;

/// What a mix is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetChoice {
    /// These reference tracks.
    References(Vec<u32>),
    /// The library's references of a genre, else the built-in target.
    Genre(String),
}

/// A genre as stored, or the error that names what is wrong with it.
pub fn genre(raw: &str) -> Result<String, MasteringError> {
    normalise_genre(raw).ok_or_else(|| MasteringError::BadGenre(raw.chars().take(80).collect()))
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn silent(e: SonicaError) -> SonicaError {
    match e {
        SonicaError::Analysis(AnalysisError::Silent { peak_dbfs }) => MasteringError::Silent { peak_dbfs }.into(),
        other => other,
    }
}

/// Marks library track `track_id` as a reference of `genre`, measuring its
/// file. Marking again replaces the genre and the profile.
pub fn mark_reference(
    index: &FingerprintIndex,
    lib: &MasteringLibrary,
    track_id: u32,
    genre_name: &str,
) -> Result<ReferenceRecord, SonicaError> {
    let genre = genre(genre_name)?;
    let track = index
        .get(track_id)?
        .ok_or(sonica_index::IndexError::UnknownTrack(track_id))?;
    let profile = measure_file(Path::new(&track.path)).map_err(silent)?;
    let r = ReferenceRecord {
        track_id,
        genre,
        marked_unix: now_s(),
        profile,
    };
    lib.mark(&r)?;
    Ok(r)
}

/// Every genre a target can be built for: the library's (with their
/// reference counts) and the built-in ones (count 0 unless the library has
/// its own).
pub fn known_genres(lib: &MasteringLibrary) -> Result<Vec<(String, usize, bool)>, SonicaError> {
    let mut all: std::collections::BTreeMap<String, (usize, bool)> =
        lib.genres()?.into_iter().map(|(g, n)| (g, (n, false))).collect();
    for b in builtin::all() {
        all.entry(b.genre.clone()).or_insert((0, false)).1 = true;
    }
    Ok(all.into_iter().map(|(g, (n, b))| (g, n, b)).collect())
}

/// The target for `choice`, and where it came from.
pub fn resolve_target(lib: &MasteringLibrary, choice: &TargetChoice) -> Result<(Target, TargetSource), SonicaError> {
    match choice {
        TargetChoice::References(ids) => {
            if ids.is_empty() {
                return Err(MasteringError::NoTarget.into());
            }
            if ids.len() > MAX_REFERENCES {
                return Err(MasteringError::TooManyReferences {
                    given: ids.len(),
                    max: MAX_REFERENCES,
                }
                .into());
            }
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let mut profiles = Vec::with_capacity(ids.len());
            for &id in &ids {
                let r = lib.reference(id)?.ok_or(MasteringError::UnknownReference(id))?;
                profiles.push(r.profile);
            }
            Ok((
                target_of(&profiles.iter().collect::<Vec<_>>()),
                TargetSource::References { ids },
            ))
        }
        TargetChoice::Genre(raw) => {
            let g = genre(raw)?;
            let refs = lib.references(Some(&g))?;
            if !refs.is_empty() {
                let target = target_of(&refs.iter().map(|r| &r.profile).collect::<Vec<_>>());
                let ids = refs.iter().map(|r| r.track_id).collect();
                return Ok((target, TargetSource::Genre { genre: g, ids }));
            }
            if let Some(b) = builtin::find(&g) {
                return Ok((b.target.clone(), TargetSource::BuiltIn { genre: g }));
            }
            let known = known_genres(lib)?
                .into_iter()
                .map(|(g, _, _)| g)
                .collect::<Vec<_>>()
                .join(", ");
            Err(MasteringError::UnknownGenre {
                genre: g,
                known: if known.is_empty() { "none".into() } else { known },
            }
            .into())
        }
    }
}

/// A stored analysis with its comparison.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub record: AnalysisRecord,
    pub comparison: Comparison,
}

/// The comparison a stored analysis stands for (recomputed: it is a pure
/// function of the profile, the stored target and the level).
pub fn comparison_of(rec: &AnalysisRecord) -> Comparison {
    compare(&rec.profile, &rec.target, rec.level)
}

/// Analyses the mix at `path` against `choice`, keeps the analysis (and
/// the mix's first [`PREVIEW_S`] seconds) in the library, dropping the
/// oldest beyond `keep`, and returns it. The target is resolved before the
/// mix is decoded, so a bad reference or genre costs nothing.
pub fn analyze(
    lib: &MasteringLibrary,
    path: &Path,
    name: Option<String>,
    choice: &TargetChoice,
    level: Level,
    keep: usize,
) -> Result<Analysis, SonicaError> {
    let (target, source) = resolve_target(lib, choice)?;
    let (profile, opening) = measure_and_keep(path, PREVIEW_S).map_err(silent)?;
    let audio = PreviewAudio {
        rate: opening.rate,
        channels: opening.channels as u8,
        samples: opening
            .samples
            .iter()
            .map(|&s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .collect(),
    };
    let mut record = AnalysisRecord {
        id: 0,
        created_unix: now_s(),
        name: name.map(|n| n.chars().take(200).collect()),
        level,
        source,
        profile,
        target,
        has_preview: false,
    };
    let stored = (!audio.samples.is_empty()).then_some(&audio);
    record.id = lib.store_analysis(&record, stored, keep)?;
    record.has_preview = stored.is_some();
    let comparison = comparison_of(&record);
    Ok(Analysis { record, comparison })
}

/// A stored analysis, or [`MasteringError::UnknownAnalysis`].
pub fn stored(lib: &MasteringLibrary, id: u64) -> Result<Analysis, SonicaError> {
    let record = lib.analysis(id)?.ok_or(MasteringError::UnknownAnalysis(id))?;
    let comparison = comparison_of(&record);
    Ok(Analysis { record, comparison })
}

/// The preview of analysis `id` as a 16-bit WAV file: the mix's opening
/// with the prescriptive EQ curve, the loudness change (measured on the
/// whole mix; the curve's own effect on loudness, measured on the opening,
/// is taken back out), through a true-peak limiter at −1 dBTP.
pub fn preview_wav(lib: &MasteringLibrary, id: u64) -> Result<Vec<u8>, SonicaError> {
    let rec = lib.analysis(id)?.ok_or(MasteringError::UnknownAnalysis(id))?;
    let audio = lib.preview_audio(id)?.ok_or(MasteringError::NoPreview(id))?;
    let ch = usize::from(audio.channels).max(1);
    let x: Vec<f32> = audio.samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let c = compare(&rec.profile, &rec.target, Level::Prescriptive);
    let mut y = equalise(&x, ch, audio.rate, &c.eq);
    let eq_shift = match (loudness(&x, ch, audio.rate), loudness(&y, ch, audio.rate)) {
        (Some(before), Some(after)) => after - before,
        _ => 0.0,
    };
    let gain = (c.gain_db.unwrap_or(0.0) - eq_shift).clamp(-24.0, 24.0);
    gain_and_limit(&mut y, ch, audio.rate, gain, PLATFORM_TRUE_PEAK_DBTP);
    Ok(wav16(&y, audio.rate, ch))
}

fn loudness(x: &[f32], ch: usize, rate: u32) -> Option<f64> {
    let mut m = crate::analysis::loudness::LoudnessMeter::new(rate, ch.clamp(1, 2) as u16).ok()?;
    m.push(x).ok()?;
    let l = m.finish().loudness.integrated_lufs;
    (l > -70.0).then_some(l)
}

/// Interleaved samples as a 16-bit PCM WAV file in memory.
pub fn wav16(samples: &[f32], rate: u32, channels: usize) -> Vec<u8> {
    let ch = channels.clamp(1, 2) as u16;
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&ch.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2 * u32::from(ch)).to_le_bytes());
    out.extend_from_slice(&(2 * ch).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for &s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    out
}

/// The references closest to analysis `id` by mastering vector, of
/// `genre` when given.
pub fn closest_references(
    lib: &MasteringLibrary,
    id: u64,
    genre_name: Option<&str>,
    top_k: usize,
) -> Result<Vec<(ReferenceRecord, f32)>, SonicaError> {
    let rec = lib.analysis(id)?.ok_or(MasteringError::UnknownAnalysis(id))?;
    let g = genre_name.map(genre).transpose()?;
    Ok(lib.nearest(&rec.profile.vector(), g.as_deref(), top_k)?)
}

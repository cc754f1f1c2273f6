//! One file in, everything Sonica learns from it out: decode once, then
//! fingerprint (mono → 8 kHz → peaks → hashes) and analyse the music
//! (source rate, up to two channels, plus the AcoustID Chromaprint) from
//! the same decoded chunks, each on a [`StageThread`] beside the decoder,
//! so one file spreads over the cores.
//!
//! The fingerprint is what makes a track recognisable, so it can be taken
//! first: [`fingerprint_first`] returns as soon as the decode and the
//! fingerprint are done and leaves the music analysis running as
//! [`PendingMusic`], to be collected (and stored) after. [`analyse_file`]
//! waits for both. Nothing here touches the store.

use std::cell::{Cell, RefCell};
use std::path::Path;

use sonica_schema::waveform::EnvelopeBuilder;
use sonica_schema::{Peak, TrackAnalysis, Waveform};

use super::stage::{Priority, Stage, StageFailed, StageThread};
use crate::analysis::{Analyser, AnalysisError};
use crate::chromaprint::AcoustIdPrint;
use crate::decode::{self, AudioInfo, DecodeError, Frames, MAX_DURATION_S};
use crate::dsp::{ResampleError, Resampler};
use crate::fingerprint::{FingerprintParams, PeakExtractor, FINGERPRINT_RATE};
use crate::SonicaError;

/// Shortest audio worth fingerprinting, in seconds.
pub const MIN_DURATION_S: f64 = 1.0;

/// What makes a file recognisable: its fingerprint and what the decoder
/// said about it.
#[derive(Debug, Clone)]
pub struct Fingerprinted {
    pub info: AudioInfo,
    pub peaks: Vec<Peak>,
    pub hashes: Vec<(u32, u32)>,
    /// sha256 of the file's bytes.
    pub sha256: [u8; 32],
    /// The peak envelope the web app draws (of the 8 kHz mono signal).
    pub waveform: Waveform,
}

/// The music half: the analysis (or why there is none: too short for a
/// tempo, say; the track is still recognisable) and the compressed AcoustID
/// Chromaprint of the first two minutes.
#[derive(Debug)]
pub struct Music {
    pub analysis: Result<TrackAnalysis, AnalysisError>,
    pub chromaprint: Option<Vec<u8>>,
}

impl Music {
    /// No analysis and no Chromaprint: the file could not be decoded again.
    pub fn none() -> Music {
        Music {
            analysis: Err(AnalysisError::internal(
                "music stage",
                "the file could not be decoded again",
            )),
            chromaprint: None,
        }
    }
}

/// A fingerprinted and analysed file, ready to store.
#[derive(Debug)]
pub struct Analysed {
    pub print: Fingerprinted,
    pub music: Music,
}

/// How the music analysis runs beside the fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MusicPass {
    /// Same priority, small queue: bulk ingest, where every core already
    /// decodes a file and throughput is what counts.
    Alongside,
    /// Lower priority and a deep queue, so the decoder and the fingerprint
    /// get the cores first: an upload becomes recognisable sooner and is
    /// analysed after.
    After,
    /// No music analysis now (`sonica ingest --fingerprint-only`): the
    /// track is stored with its analysis pending.
    Skip,
}

/// The music analysis still running on its thread after the fingerprint.
pub struct PendingMusic {
    /// `None` under [`MusicPass::Skip`].
    stage: Option<StageThread<MusicStage>>,
}

impl PendingMusic {
    /// Whether there is an analysis running to wait for.
    pub fn is_running(&self) -> bool {
        self.stage.is_some()
    }

    /// Waits for the analysis and the Chromaprint.
    pub fn finish(self) -> Music {
        let Some(stage) = self.stage else {
            return Music {
                analysis: Err(AnalysisError::internal("music stage", "skipped")),
                chromaprint: None,
            };
        };
        match stage.finish() {
            Ok(m) => m,
            Err(e) => Music {
                analysis: Err(AnalysisError::internal("music stage", e)),
                chromaprint: None,
            },
        }
    }
}

/// Decodes a file once, fingerprints it with `params` and analyses its
/// music; returns when both are done.
pub fn analyse_file(path: &Path, params: &FingerprintParams) -> Result<Analysed, SonicaError> {
    let (print, music) = fingerprint_first(path, params, MusicPass::Alongside)?;
    Ok(Analysed {
        print,
        music: music.finish(),
    })
}

/// Decodes a file once; returns its fingerprint as soon as the decode and
/// the fingerprint are done, with the music analysis still running.
pub fn fingerprint_first(
    path: &Path,
    params: &FingerprintParams,
    pass: MusicPass,
) -> Result<(Fingerprinted, PendingMusic), SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let sha256 = crate::digest::file_sha256(path).map_err(DecodeError::Io)?;
    let prints: RefCell<Option<StageThread<PrintStage>>> = RefCell::new(None);
    let music: RefCell<Option<StageThread<MusicStage>>> = RefCell::new(None);
    let rate = Cell::new(0u32);
    let mut frames = 0u64;
    let info = decode::decode_frames(
        path,
        true,
        MAX_DURATION_S,
        &mut |r, channels| {
            rate.set(r);
            let print = PrintStage {
                resampler: crate::fingerprint::resampler(r)?,
                peaks: PeakExtractor::new(&params.peaks),
                envelope: EnvelopeBuilder::new(FINGERPRINT_RATE),
                samples: 0,
                failed: None,
            };
            let tune = move || MusicStage::new(r, channels);
            let failed = |e: StageFailed| DecodeError::Io(std::io::Error::other(e));
            *prints.borrow_mut() =
                Some(StageThread::start("fingerprint", Priority::Normal, move || print).map_err(failed)?);
            let priority = match pass {
                MusicPass::Alongside => Priority::Normal,
                MusicPass::After => Priority::Background,
                MusicPass::Skip => return Ok(()),
            };
            *music.borrow_mut() = Some(StageThread::start("music", priority, tune).map_err(failed)?);
            Ok(())
        },
        &mut |f: &Frames| {
            frames += f.mono.len() as u64;
            if frames as f64 > MAX_DURATION_S * f64::from(rate.get()) {
                return Err(DecodeError::TooLong { max_s: MAX_DURATION_S });
            }
            if let Some(p) = prints.borrow_mut().as_mut() {
                p.push(f.mono);
            }
            if let Some(m) = music.borrow_mut().as_mut() {
                m.push(f.stereo.unwrap_or(f.mono));
            }
            Ok(())
        },
    )?;
    if info.duration_s > MAX_DURATION_S {
        return Err(DecodeError::TooLong { max_s: MAX_DURATION_S }.into());
    }
    let (Some(prints), music) = (prints.into_inner(), music.into_inner()) else {
        return Err(DecodeError::NoAudio.into());
    };
    let (peaks, waveform, samples) = prints.finish()?.map_err(DecodeError::from)?;
    // A handful of source samples may resample to none; judge by the source.
    let secs = if samples == 0 {
        info.duration_s
    } else {
        samples as f64 / f64::from(FINGERPRINT_RATE)
    };
    if secs < MIN_DURATION_S {
        return Err(SonicaError::TooShort {
            secs,
            min: MIN_DURATION_S,
        });
    }
    let hashes = crate::fingerprint::track_hashes(&peaks);
    if hashes.is_empty() {
        return Err(SonicaError::Silent);
    }
    let print = Fingerprinted {
        info,
        peaks,
        hashes,
        sha256,
        waveform,
    };
    Ok((print, PendingMusic { stage: music }))
}

/// The music half alone, on the calling thread: what a track stored
/// fingerprint-first still needs when the process stopped before its
/// analysis was stored. `cancelled` is asked between packets; when it says
/// yes the decode stops and the answer is `Ok(None)` (a server shutting
/// down does not wait for a long file).
pub fn music_of_file(path: &Path, cancelled: &dyn Fn() -> bool) -> Result<Option<Music>, SonicaError> {
    if !path.exists() {
        return Err(SonicaError::Missing);
    }
    let stage: RefCell<Option<MusicStage>> = RefCell::new(None);
    let decoded = decode::decode_frames(
        path,
        true,
        MAX_DURATION_S,
        &mut |r, channels| {
            *stage.borrow_mut() = Some(MusicStage::new(r, channels));
            Ok(())
        },
        &mut |f: &Frames| {
            if cancelled() {
                // Stops the decode; told apart from a real error below.
                return Err(DecodeError::NoAudio);
            }
            if let Some(s) = stage.borrow_mut().as_mut() {
                s.push(f.stereo.unwrap_or(f.mono));
            }
            Ok(())
        },
    );
    if cancelled() {
        return Ok(None);
    }
    decoded?;
    match stage.into_inner() {
        Some(s) => Ok(Some(s.finish())),
        None => Err(DecodeError::NoAudio.into()),
    }
}

/// Source-rate mono → 8 kHz → spectral peaks, on its own thread.
struct PrintStage {
    resampler: Resampler,
    peaks: PeakExtractor,
    envelope: EnvelopeBuilder,
    /// 8 kHz samples produced.
    samples: usize,
    failed: Option<ResampleError>,
}

impl Stage for PrintStage {
    /// The peaks, the waveform and the number of 8 kHz samples they came
    /// from.
    type Output = Result<(Vec<Peak>, Waveform, usize), ResampleError>;

    fn push(&mut self, mono: &[f32]) {
        if self.failed.is_some() {
            return;
        }
        let mut sink = resampled(&mut self.peaks, &mut self.envelope, &mut self.samples);
        if let Err(e) = self.resampler.push(mono, &mut sink) {
            self.failed = Some(e);
        }
    }

    fn finish(mut self) -> Self::Output {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.resampler
            .finish(&mut resampled(&mut self.peaks, &mut self.envelope, &mut self.samples))?;
        Ok((self.peaks.finish(), self.envelope.finish(), self.samples))
    }
}

/// Where 8 kHz audio goes: counted, then into the peak extractor and the
/// waveform.
fn resampled<'a>(
    peaks: &'a mut PeakExtractor,
    envelope: &'a mut EnvelopeBuilder,
    samples: &'a mut usize,
) -> impl FnMut(&[f32]) + 'a {
    move |o| {
        *samples += o.len();
        peaks.push(o);
        envelope.push(o);
    }
}

/// Source-rate audio (up to two channels) → music analysis and the
/// AcoustID Chromaprint.
struct MusicStage {
    analyser: Result<Analyser, AnalysisError>,
    acoustid: AcoustIdPrint,
}

impl MusicStage {
    fn new(rate: u32, channels: u16) -> Self {
        MusicStage {
            analyser: Analyser::with_options(rate, channels, Default::default()),
            acoustid: AcoustIdPrint::new(rate, usize::from(channels.clamp(1, 2))),
        }
    }
}

impl Stage for MusicStage {
    type Output = Music;

    fn push(&mut self, interleaved: &[f32]) {
        if let Ok(a) = self.analyser.as_mut() {
            a.push(interleaved);
        }
        self.acoustid.push(interleaved);
    }

    fn finish(self) -> Music {
        Music {
            analysis: self.analyser.and_then(|a| a.finish(0.0)),
            chromaprint: self.acoustid.finish(),
        }
    }
}

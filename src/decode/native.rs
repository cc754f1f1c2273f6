//! The symphonia decoder: probe, pick the first audio track, decode packet by
//! packet, downmix to mono, and detect truncation against the declared
//! length.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::{AudioBufferRef, SampleBuffer, Signal};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{guard, AudioInfo, DecodeError, Frames, Tags};

fn corrupt_error(format: &str, why: String) -> DecodeError {
    DecodeError::Corrupt {
        format: format.to_string(),
        why,
    }
}

/// Averages channel planes into `out`, replacing NaN and infinities by 0.
fn downmix_planes<'a>(out: &mut Vec<f32>, mut planes: impl Iterator<Item = &'a [f32]>, n: usize) {
    let Some(first) = planes.next() else { return };
    out.extend_from_slice(&first[..n]);
    let mut count = 1.0f32;
    for p in planes {
        for (o, s) in out.iter_mut().zip(&p[..n]) {
            *o += *s;
        }
        count += 1.0;
    }
    let scale = 1.0 / count;
    for o in out.iter_mut() {
        *o = finite(*o * scale);
    }
}

#[inline]
fn finite(s: f32) -> f32 {
    guard::sample(s)
}

/// How the native path failed, so the caller can choose a fallback.
pub(super) enum Failure {
    /// The container was understood but its codec is not built in.
    Unsupported,
    /// symphonia does not know the container at all.
    Unrecognised,
    /// symphonia knows the container but could not read its header: ffmpeg
    /// may still (ASF trips symphonia's probe), else this error stands.
    Probe(DecodeError),
    Error(DecodeError),
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Self {
        Failure::Error(e)
    }
}

/// Consecutive undecodable packets tolerated before the file is corrupt.
const MAX_BAD_PACKETS: usize = 32;
/// A decoded length this far short of the declared one means truncation.
const TRUNCATION_TOLERANCE: f64 = 0.9;

/// Appends the first two channels of `n` frames, interleaved.
fn interleave_two(out: &mut Vec<f32>, left: &[f32], right: &[f32], n: usize) {
    out.reserve(n * 2);
    for (l, r) in left[..n].iter().zip(&right[..n]) {
        out.push(finite(*l));
        out.push(finite(*r));
    }
}

pub(super) fn decode(
    path: &Path,
    format_name: &str,
    want_stereo: bool,
    max_declared_s: f64,
    on_start: &mut dyn FnMut(u32, u16) -> Result<(), DecodeError>,
    sink: &mut dyn FnMut(&Frames) -> Result<(), DecodeError>,
) -> Result<AudioInfo, Failure> {
    let file = File::open(path).map_err(DecodeError::Io)?;
    let ext = path.extension().and_then(|e| e.to_str());
    let info = decode_source(
        Box::new(file),
        ext,
        format_name,
        want_stereo,
        max_declared_s,
        on_start,
        sink,
    )?;
    if format_name.starts_with("OGG") && super::sniff::ogg_ends_with_eos(path).ok().flatten() == Some(false) {
        return Err(Failure::Error(DecodeError::Unterminated {
            format: format_name.to_string(),
            decoded_s: info.duration_s,
        }));
    }
    Ok(info)
}

/// [`decode`] from any byte source: a file, or a live stream read as it
/// arrives (which has no declared length and no end to check).
pub(super) fn decode_source(
    source: Box<dyn symphonia::core::io::MediaSource>,
    ext: Option<&str>,
    format_name: &str,
    want_stereo: bool,
    max_declared_s: f64,
    on_start: &mut dyn FnMut(u32, u16) -> Result<(), DecodeError>,
    sink: &mut dyn FnMut(&Frames) -> Result<(), DecodeError>,
) -> Result<AudioInfo, Failure> {
    let corrupt = |why: String| Failure::Error(corrupt_error(format_name, why));
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    let mut probed = match symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions {
            enable_gapless: true,
            ..Default::default()
        },
        &MetadataOptions::default(),
    ) {
        Ok(p) => p,
        Err(SymError::Unsupported(_)) => return Err(Failure::Unrecognised),
        // Bytes that sniffing did not recognise, and symphonia could not
        // parse either: not audio, whatever symphonia tripped over.
        Err(_) if !super::sniff::looks_like_known_media(format_name) => return Err(Failure::Unrecognised),
        Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(Failure::Probe(corrupt_error(
                format_name,
                "file ends inside its header".into(),
            )));
        }
        Err(e) => return Err(Failure::Probe(corrupt_error(format_name, e.to_string()))),
    };
    let mut tags = Tags::default();
    // Read in place: a revision can hold a 20 MB tag, and a clone of it
    // would double that.
    if let Some(log) = probed.metadata.get() {
        if let Some(rev) = log.current() {
            tags.absorb(rev);
        }
    }
    let mut format = probed.format;
    if let Some(rev) = format.metadata().current() {
        tags.absorb(rev);
    }
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        .or_else(|| format.tracks().iter().find(|t| t.codec_params.codec != CODEC_TYPE_NULL))
        .cloned();
    let Some(track) = track else {
        return Err(Failure::Error(DecodeError::NoAudio));
    };
    let params = track.codec_params.clone();
    // Nothing is sized from the header before it passes the guard.
    if let Some(rate) = params.sample_rate {
        let channels = params.channels.map_or(1, |c| c.count() as u32);
        guard::check_format(rate, channels)?;
        guard::check_declared_length(params.n_frames, rate, max_declared_s)?;
    }
    if params
        .max_frames_per_packet
        .is_some_and(|n| n > guard::MAX_FRAMES_PER_PACKET)
    {
        return Err(corrupt(format!(
            "a packet declares {} frames (at most {} are plausible)",
            params.max_frames_per_packet.unwrap_or_default(),
            guard::MAX_FRAMES_PER_PACKET
        )));
    }
    let mut decoder = match symphonia::default::get_codecs().make(&params, &DecoderOptions::default()) {
        Ok(d) => d,
        Err(SymError::Unsupported(_)) => return Err(Failure::Unsupported),
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let codec = symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map(|d| d.short_name.to_string())
        .unwrap_or_else(|| "unknown".into());
    let declared_frames = params.n_frames;

    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.map(|c| c.count() as u16).unwrap_or(0);
    let mut started = false;
    let mut frames: u64 = 0;
    let mut mono: Vec<f32> = Vec::new();
    let mut stereo: Vec<f32> = Vec::new();
    let mut sbuf: Option<SampleBuffer<f32>> = None;
    let mut sbuf_frames = 0usize;
    let mut sbuf_spec = None;
    let mut bad_run = 0usize;
    let mut any_bad = false;

    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(SymError::DecodeError(_)) if frames > 0 => {
                any_bad = true;
                break;
            }
            Err(e) => {
                if frames > 0 {
                    any_bad = true;
                    break;
                }
                return Err(corrupt(e.to_string()));
            }
        };
        if packet.track_id() != track.id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => {
                bad_run = 0;
                d
            }
            Err(SymError::DecodeError(e)) => {
                any_bad = true;
                bad_run += 1;
                if bad_run > MAX_BAD_PACKETS {
                    return Err(corrupt(format!("too many undecodable packets ({e})")));
                }
                continue;
            }
            Err(SymError::IoError(_)) => {
                any_bad = true;
                break;
            }
            Err(e) => return Err(corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        let n = decoded.frames();
        if n == 0 {
            continue;
        }
        if !started {
            rate = spec.rate;
            channels = spec.channels.count() as u16;
            guard::check_format(rate, u32::from(channels))?;
            let out_channels = if want_stereo && channels >= 2 { 2 } else { 1 };
            on_start(rate, out_channels)?;
            started = true;
        } else if spec.rate != rate {
            return Err(corrupt(format!(
                "sample rate changes mid-stream ({rate} → {} Hz)",
                spec.rate
            )));
        }
        mono.clear();
        stereo.clear();
        let ch = spec.channels.count().max(1);
        let two = want_stereo && ch >= 2;
        if let AudioBufferRef::F32(planar) = &decoded {
            // Float decoders (Vorbis, MP3, AAC): downmix straight from the
            // planes, skipping the interleaving copy.
            downmix_planes(&mut mono, (0..ch).map(|c| planar.chan(c)), n);
            if two {
                interleave_two(&mut stereo, planar.chan(0), planar.chan(1), n);
            }
        } else {
            if sbuf.is_none() || sbuf_frames < n || sbuf_spec != Some(spec) {
                sbuf = Some(SampleBuffer::<f32>::new(n as u64, spec));
                sbuf_frames = n;
                sbuf_spec = Some(spec);
            }
            let buf = sbuf.as_mut().expect("allocated above");
            buf.copy_interleaved_ref(decoded);
            let samples = buf.samples();
            let scale = 1.0 / ch as f32;
            mono.extend(
                samples
                    .chunks_exact(ch)
                    .map(|fr| finite(fr.iter().sum::<f32>() * scale)),
            );
            if two {
                stereo.extend(samples.chunks_exact(ch).flat_map(|fr| [finite(fr[0]), finite(fr[1])]));
            }
        }
        frames += mono.len() as u64;
        sink(&Frames {
            mono: &mono,
            stereo: two.then_some(stereo.as_slice()),
        })?;
    }

    if !started || frames == 0 {
        if any_bad {
            return Err(corrupt("no packet could be decoded".into()));
        }
        return Err(Failure::Error(DecodeError::NoAudio));
    }
    let duration_s = frames as f64 / f64::from(rate);
    if let Some(declared) = declared_frames {
        let declared_s = declared as f64 / f64::from(rate);
        if declared > 0 && (frames as f64) < declared as f64 * TRUNCATION_TOLERANCE {
            return Err(Failure::Error(DecodeError::Truncated {
                format: format_name.to_string(),
                decoded_s: duration_s,
                declared_s,
            }));
        }
    }
    Ok(AudioInfo {
        sample_rate: rate,
        channels,
        codec,
        duration_s,
        tags,
        decoder: "symphonia",
    })
}

//! Fallback decoding through an `ffmpeg` executable, for formats symphonia
//! has no decoder for (Opus, WMA, AC-3, …). For fingerprinting alone ffmpeg
//! does the downmix and the resampling to the analysis rate itself, so its
//! output skips rubato; for music analysis it keeps the source rate and up
//! to two channels, like the native path.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{AudioInfo, DecodeError, Frames, Tags};
use crate::fingerprint::FINGERPRINT_RATE;

/// True when `ffmpeg` can be run.
pub(super) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Source rate used when ffprobe cannot tell it and the source rate is wanted.
const FALLBACK_RATE: u32 = 44_100;

/// Arguments that come before `-i` on every ffmpeg and ffprobe run: only
/// local files and pipes may be opened, with the demuxer named outright.
fn input_args(demuxer: &str) -> [&str; 4] {
    ["-protocol_whitelist", "file,pipe", "-f", demuxer]
}

pub(super) fn decode(
    path: &Path,
    format: &str,
    want_stereo: bool,
    max_declared_s: f64,
    on_start: &mut dyn FnMut(u32, u16) -> Result<(), DecodeError>,
    sink: &mut dyn FnMut(&Frames) -> Result<(), DecodeError>,
) -> Result<AudioInfo, DecodeError> {
    let Some(demuxer) = super::sniff::ffmpeg_demuxer(format) else {
        return Err(DecodeError::Unrecognised(format.to_string()));
    };
    let Probed {
        tags,
        codec,
        sample_rate,
        channels,
        duration_s,
    } = probe(path, demuxer);
    if let Some(rate) = sample_rate {
        super::guard::check_format(rate, u32::from(channels.unwrap_or(1)))?;
    }
    if duration_s.is_some_and(|d| d > max_declared_s) {
        return Err(DecodeError::TooLong { max_s: max_declared_s });
    }
    let (out_rate, out_ch) = if want_stereo {
        let ch = if channels.unwrap_or(2) >= 2 { 2u16 } else { 1 };
        (sample_rate.unwrap_or(FALLBACK_RATE), ch)
    } else {
        (FINGERPRINT_RATE, 1)
    };
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_args(demuxer))
        .arg("-i")
        .arg(path)
        .args([
            "-vn",
            "-f",
            "f32le",
            "-ac",
            &out_ch.to_string(),
            "-ar",
            &out_rate.to_string(),
            "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DecodeError::Ffmpeg(format!("cannot start ffmpeg: {e}")))?;
    on_start(out_rate, out_ch)?;
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut bytes = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let mut samples: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let mut total = 0u64;
    let step = usize::from(out_ch) * 4;
    loop {
        let n = out.read(&mut bytes).map_err(DecodeError::Io)?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&bytes[..n]);
        let whole = carry.len() / step * step;
        samples.clear();
        samples.extend(
            carry[..whole]
                .chunks_exact(4)
                .map(|b| super::guard::sample(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        );
        carry.drain(..whole);
        let frames = if out_ch == 2 {
            mono.clear();
            mono.extend(samples.chunks_exact(2).map(|f| (f[0] + f[1]) * 0.5));
            Frames {
                mono: &mono,
                stereo: Some(&samples),
            }
        } else {
            Frames {
                mono: &samples,
                stereo: None,
            }
        };
        total += frames.mono.len() as u64;
        if let Err(e) = sink(&frames) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    }
    let status = child.wait().map_err(DecodeError::Io)?;
    let err_text = err_reader.join().unwrap_or_default();
    if !status.success() {
        let first = err_text.lines().last().unwrap_or("unknown error").trim().to_string();
        return Err(DecodeError::Ffmpeg(first));
    }
    if total == 0 {
        return Err(DecodeError::NoAudio);
    }
    Ok(AudioInfo {
        sample_rate: sample_rate.unwrap_or(FINGERPRINT_RATE),
        channels: channels.unwrap_or(1),
        codec,
        duration_s: total as f64 / f64::from(out_rate),
        tags,
        decoder: "ffmpeg",
    })
}

/// What `ffprobe` says of a file (all unknown when it is absent).
struct Probed {
    tags: Tags,
    codec: String,
    sample_rate: Option<u32>,
    channels: Option<u16>,
    duration_s: Option<f64>,
}

/// Tags, codec name, rate, channels and declared length from `ffprobe`.
fn probe(path: &Path, demuxer: &str) -> Probed {
    let mut p = Probed {
        tags: Tags::default(),
        codec: "unknown".into(),
        sample_rate: None,
        channels: None,
        duration_s: None,
    };
    let out = Command::new("ffprobe")
        .args(input_args(demuxer))
        .args([
            "-v",
            "quiet",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            "-select_streams",
            "a:0",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output();
    let Ok(out) = out else {
        return p;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return p;
    };
    for src in [&v["format"]["tags"], &v["streams"][0]["tags"]] {
        if let Some(obj) = src.as_object() {
            for (k, val) in obj {
                if let Some(s) = val.as_str() {
                    p.tags.set_named(k, s);
                }
            }
        }
    }
    let s = &v["streams"][0];
    p.codec = s["codec_name"].as_str().unwrap_or("unknown").to_string();
    p.sample_rate = s["sample_rate"].as_str().and_then(|r| r.parse().ok());
    p.channels = s["channels"].as_u64().map(|c| c.min(u64::from(u16::MAX)) as u16);
    p.duration_s = v["format"]["duration"].as_str().and_then(|d| d.parse().ok());
    p
}

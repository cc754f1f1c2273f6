//! Naming a file's format from its first bytes, so errors can say "Opus" or
//! "WMA" instead of "unsupported", and random bytes are told apart from
//! media that merely needs another decoder.

use std::io::Read;
use std::path::Path;

/// A short human name for the file's format, from magic bytes, falling back
/// to the extension.
pub fn sniff_format(path: &Path) -> std::io::Result<String> {
    let mut head = [0u8; 64];
    let mut f = std::fs::File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let h = &head[..n];
    let name = if h.starts_with(b"OggS") {
        if contains(h, b"OpusHead") {
            "Opus"
        } else if contains(h, b"\x01vorbis") {
            "OGG Vorbis"
        } else if contains(h, b"\x7fFLAC") {
            "OGG FLAC"
        } else {
            "OGG"
        }
    } else if h.starts_with(b"RIFF") && h.get(8..12) == Some(b"WAVE") {
        "WAV"
    } else if h.starts_with(b"RIFF") {
        "RIFF"
    } else if h.starts_with(b"fLaC") {
        "FLAC"
    } else if h.starts_with(b"ID3") || (h.len() > 1 && h[0] == 0xff && h[1] & 0xe0 == 0xe0) {
        if h.len() > 1 && h[0] == 0xff && (h[1] & 0xf6) == 0xf0 {
            "AAC (ADTS)"
        } else {
            "MP3"
        }
    } else if h.get(4..8) == Some(b"ftyp") {
        "MP4/M4A"
    } else if h.starts_with(b"FORM") {
        "AIFF"
    } else if h.starts_with(b"caff") {
        "CAF"
    } else if h.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        "Matroska/WebM"
    } else if h.starts_with(&[0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]) {
        "WMA/ASF"
    } else if h.starts_with(b"MAC ") {
        "Monkey's Audio"
    } else if h.starts_with(b"wvpk") {
        "WavPack"
    } else if h.starts_with(b".snd") {
        "Sun AU"
    } else if h.starts_with(&[0x0b, 0x77]) {
        "AC-3"
    } else {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        return Ok(if looks_like_text(h) {
            format!("text, not audio{}", ext_note(&ext))
        } else {
            format!("unknown bytes{}", ext_note(&ext))
        });
    };
    Ok(name.to_string())
}

fn ext_note(ext: &str) -> String {
    if ext.is_empty() {
        String::new()
    } else {
        format!(", despite the .{ext} name")
    }
}

fn contains(h: &[u8], needle: &[u8]) -> bool {
    h.windows(needle.len()).any(|w| w == needle)
}

fn looks_like_text(h: &[u8]) -> bool {
    !h.is_empty()
        && h.iter()
            .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Whether an Ogg file's last page carries the end-of-stream flag. Ogg
/// declares no length up front, so a file cut short would otherwise decode
/// as a shorter, valid-looking track. `None` when no page header is found
/// in the file's tail.
pub fn ogg_ends_with_eos(path: &Path) -> std::io::Result<Option<bool>> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let tail = len.min(128 * 1024);
    f.seek(SeekFrom::Start(len - tail))?;
    let mut buf = Vec::with_capacity(tail as usize);
    f.read_to_end(&mut buf)?;
    // The last "OggS" capture pattern whose version byte is 0 starts the
    // final page; byte 5 is its header-type flags (0x04 = end of stream).
    let Some(at) = buf.windows(6).rposition(|w| &w[..4] == b"OggS" && w[4] == 0) else {
        return Ok(None);
    };
    Ok(Some(buf[at + 5] & 0x04 != 0))
}

/// True when the sniffed name is a real media format (as opposed to text or
/// unknown bytes), so another decoder is worth trying.
pub fn looks_like_known_media(name: &str) -> bool {
    !(name.starts_with("text") || name.starts_with("unknown"))
}

/// True for the containers symphonia reads itself: when its probe fails on
/// one of these and no ffmpeg is present, its error is the answer.
pub fn natively_decoded(name: &str) -> bool {
    matches!(
        name,
        "WAV"
            | "FLAC"
            | "MP3"
            | "AAC (ADTS)"
            | "MP4/M4A"
            | "AIFF"
            | "CAF"
            | "Matroska/WebM"
            | "OGG Vorbis"
            | "OGG FLAC"
    )
}

/// The ffmpeg demuxer for a sniffed format. ffmpeg is always told which
/// demuxer to use, so a crafted file cannot have it probe its way into a
/// playlist or concat demuxer that opens other files or URLs; a format
/// without a name here is never handed to ffmpeg.
pub fn ffmpeg_demuxer(name: &str) -> Option<&'static str> {
    Some(match name {
        "Opus" | "OGG Vorbis" | "OGG FLAC" | "OGG" => "ogg",
        "WAV" | "RIFF" => "wav",
        "FLAC" => "flac",
        "MP3" => "mp3",
        "AAC (ADTS)" => "aac",
        "MP4/M4A" => "mov",
        "AIFF" => "aiff",
        "CAF" => "caf",
        "Matroska/WebM" => "matroska",
        "WMA/ASF" => "asf",
        "Monkey's Audio" => "ape",
        "WavPack" => "wv",
        "Sun AU" => "au",
        "AC-3" => "ac3",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff_bytes(bytes: &[u8], name: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        sniff_format(&p).unwrap()
    }

    #[test]
    fn ogg_end_of_stream_flag_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.ogg");
        let mut page = b"OggS\0\x02".to_vec();
        page.extend_from_slice(&[0u8; 30]);
        let mut last = b"OggS\0\x04".to_vec();
        last.extend_from_slice(&[0u8; 30]);
        std::fs::write(&p, [page.clone(), last].concat()).unwrap();
        assert_eq!(ogg_ends_with_eos(&p).unwrap(), Some(true));
        std::fs::write(&p, [page.clone(), page].concat()).unwrap();
        assert_eq!(ogg_ends_with_eos(&p).unwrap(), Some(false));
    }

    #[test]
    fn names_common_formats() {
        assert_eq!(
            sniff_bytes(b"OggS\0\x02........................OpusHead", "a.opus"),
            "Opus"
        );
        assert_eq!(sniff_bytes(b"fLaC\0\0\0\x22", "a.flac"), "FLAC");
        assert_eq!(
            sniff_bytes(&[0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0], "a.wma"),
            "WMA/ASF"
        );
        assert!(sniff_bytes(b"hello, I am text\n", "a.mp3").starts_with("text, not audio, despite the .mp3"));
        assert!(sniff_bytes(&[0x00, 0x13, 0x88, 0x99, 0xa0], "x.bin").starts_with("unknown bytes"));
    }

    #[test]
    fn playlists_disguised_as_audio_never_reach_ffmpeg() {
        for text in [
            &b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://example.invalid/a.ts\n"[..],
            b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        ] {
            let name = sniff_bytes(text, "song.mp3");
            assert!(!looks_like_known_media(&name), "{name}");
            assert_eq!(ffmpeg_demuxer(&name), None);
        }
        for known in ["WMA/ASF", "AC-3", "Opus", "AIFF", "MP3"] {
            assert!(ffmpeg_demuxer(known).is_some(), "{known}");
        }
    }
}

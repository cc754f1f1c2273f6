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

/// How far into a file tag lengths are checked.
const TAG_SCAN: u64 = 1 << 20;

/// Checks the lengths a FLAC or Ogg file's Vorbis comment declares against
/// the file's own size. symphonia sizes a buffer from each length before it
/// reads a byte (a fuzzer's 71-byte FLAC asked for 2.9 GB): harmless where
/// memory is overcommitted, an abort where it is not. A length longer than
/// the whole file cannot be honest, so such a file is refused first.
/// `Err` names the lie.
pub fn check_tag_lengths(path: &Path, format: &str) -> std::io::Result<Result<(), String>> {
    if format == "MP4/M4A" {
        return mp4_sample_sizes(path);
    }
    if !matches!(format, "FLAC" | "OGG" | "OGG Vorbis" | "OGG FLAC" | "Opus") {
        return Ok(Ok(()));
    }
    let mut f = std::fs::File::open(path)?;
    let file_len = f.metadata()?.len();
    let mut head = Vec::new();
    (&mut f).take(TAG_SCAN).read_to_end(&mut head)?;
    let comments: Vec<&[u8]> = if format == "FLAC" {
        flac_comment_blocks(&head)
    } else {
        let payload = ogg_first_stream(&head);
        return Ok(ogg_comment(&payload).map_or(Ok(()), |c| comment_lengths(c, file_len)));
    };
    Ok(comments.into_iter().try_for_each(|c| comment_lengths(c, file_len)))
}

/// Largest `moov` box read for the check: a 10-hour audiobook's sample
/// tables take about 6 MB.
const MAX_MOOV: u64 = 64 << 20;

/// Checks an MP4's sample sizes (`stsz`) against the file's size: symphonia
/// allocates each sample's declared size before reading it (a fuzzer's
/// 2 KB M4A declared one sample of 4 GB).
fn mp4_sample_sizes(path: &Path) -> std::io::Result<Result<(), String>> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let file_len = f.metadata()?.len();
    let mut at = 0u64;
    // Walk the top-level boxes to `moov`, wherever it is.
    while at + 8 <= file_len {
        f.seek(SeekFrom::Start(at))?;
        let mut hdr = [0u8; 16];
        let n = (&mut f).take(16).read(&mut hdr)?;
        if n < 8 {
            break;
        }
        let mut size = u64::from(u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
        let mut header = 8;
        if size == 1 && n >= 16 {
            size = u64::from_be_bytes([hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15]]);
            header = 16;
        } else if size == 0 {
            size = file_len - at;
        }
        if size < header {
            return Ok(Ok(())); // malformed: symphonia will say so
        }
        if &hdr[4..8] == b"moov" {
            if size > MAX_MOOV {
                return Ok(Err(format!(
                    "its moov box declares {size} bytes (at most {MAX_MOOV} are plausible)"
                )));
            }
            f.seek(SeekFrom::Start(at + header))?;
            let mut moov = Vec::new();
            (&mut f).take(size - header).read_to_end(&mut moov)?;
            return Ok(stsz_sizes(&moov, file_len));
        }
        at = at.saturating_add(size);
    }
    Ok(Ok(()))
}

/// Every `stsz` table inside `moov`: no sample larger than the file.
fn stsz_sizes(moov: &[u8], file_len: u64) -> Result<(), String> {
    let word = |at: usize| {
        moov.get(at..at + 4)
            .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    };
    let too_big = |n: u64| Err(format!("a sample declares {n} bytes in a {file_len}-byte file"));
    let mut from = 0;
    while let Some(i) = moov[from..].windows(4).position(|w| w == b"stsz") {
        let body = from + i + 4; // version/flags, sample_size, sample_count, entries
        from = body;
        let (Some(fixed), Some(count)) = (word(body + 4), word(body + 8)) else {
            continue;
        };
        if fixed > file_len {
            return too_big(fixed);
        }
        if fixed == 0 {
            for k in 0..count as usize {
                match word(body + 12 + 4 * k) {
                    Some(n) if n > file_len => return too_big(n),
                    Some(_) => {}
                    None => break,
                }
            }
        }
    }
    Ok(())
}

/// The VORBIS_COMMENT blocks of a FLAC file's metadata (as far as `head`
/// reaches).
fn flac_comment_blocks(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 4;
    while at + 4 <= head.len() {
        let (last, kind) = (head[at] & 0x80 != 0, head[at] & 0x7f);
        let len = u32::from_be_bytes([0, head[at + 1], head[at + 2], head[at + 3]]) as usize;
        at += 4;
        if kind == 4 {
            out.push(&head[at..(at + len).min(head.len())]);
        }
        at += len;
        if last {
            break;
        }
    }
    out
}

/// The page payloads of the first logical stream in `head`, joined: the
/// header packets, whatever pages they span.
fn ogg_first_stream(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut serial = None;
    while at + 27 <= head.len() && &head[at..at + 4] == b"OggS" {
        let page_serial = &head[at + 14..at + 18];
        let segments = usize::from(head[at + 26]);
        let Some(table) = head.get(at + 27..at + 27 + segments) else {
            break;
        };
        let body_len: usize = table.iter().map(|&b| usize::from(b)).sum();
        let body_at = at + 27 + segments;
        if *serial.get_or_insert(page_serial) == page_serial {
            out.extend_from_slice(&head[body_at.min(head.len())..(body_at + body_len).min(head.len())]);
        }
        at = body_at + body_len;
    }
    out
}

/// The Vorbis comment (after its packet's signature) in an Ogg stream.
fn ogg_comment(payload: &[u8]) -> Option<&[u8]> {
    for sig in [&b"\x03vorbis"[..], b"OpusTags", b"\x84FLAC"] {
        if let Some(i) = payload.windows(sig.len()).position(|w| w == sig) {
            // Ogg FLAC's comment is a metadata block: a 4-byte header.
            let skip = if sig == b"\x84FLAC" { 4 } else { sig.len() };
            return payload.get(i + skip..);
        }
    }
    None
}

/// Walks a Vorbis comment's declared lengths (vendor, then each entry) as
/// far as `c` reaches, refusing one longer than the file.
fn comment_lengths(c: &[u8], file_len: u64) -> Result<(), String> {
    let word = |at: usize| {
        c.get(at..at + 4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let too_long = |what: &str, n: u64| Err(format!("a tag's {what} declares {n} bytes in a {file_len}-byte file"));
    let Some(vendor) = word(0) else { return Ok(()) };
    if vendor > file_len {
        return too_long("vendor string", vendor);
    }
    let mut at = 4 + vendor as usize;
    let Some(count) = word(at) else { return Ok(()) };
    at += 4;
    for _ in 0..count {
        let Some(n) = word(at) else { return Ok(()) };
        if n > file_len {
            return too_long("entry", n);
        }
        at += 4 + n as usize;
    }
    Ok(())
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
    fn a_tag_longer_than_its_file_is_refused_before_symphonia_sizes_it() {
        // fLaC, a last VORBIS_COMMENT block: vendor "x", one entry claiming 0xB1000000 bytes.
        let mut flac = b"fLaC".to_vec();
        let comment = [
            &1u32.to_le_bytes()[..],
            b"x",
            &1u32.to_le_bytes(),
            &0xB100_0000u32.to_le_bytes(),
            b"TITLE=a",
        ]
        .concat();
        flac.push(0x84);
        flac.extend_from_slice(&(comment.len() as u32).to_be_bytes()[1..]);
        flac.extend_from_slice(&comment);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.flac");
        std::fs::write(&p, &flac).unwrap();
        let why = check_tag_lengths(&p, "FLAC").unwrap().unwrap_err();
        assert!(why.contains("2969567232"), "{why}");
        // An honest comment passes, and so does an Ogg one split over pages.
        let honest = [
            &1u32.to_le_bytes()[..],
            b"x",
            &1u32.to_le_bytes(),
            &7u32.to_le_bytes(),
            b"TITLE=a",
        ]
        .concat();
        assert!(comment_lengths(&honest, 100).is_ok());
        let mut packet = b"\x03vorbis".to_vec();
        packet.extend_from_slice(&honest);
        let page = |body: &[u8]| {
            let mut p = b"OggS\0\0".to_vec();
            p.extend_from_slice(&[0; 8]);
            p.extend_from_slice(&7u32.to_le_bytes());
            p.extend_from_slice(&[0; 8]);
            p.push(1);
            p.push(body.len() as u8);
            p.extend_from_slice(body);
            p
        };
        let ogg = [page(&packet[..9]), page(&packet[9..])].concat();
        let q = dir.path().join("a.ogg");
        std::fs::write(&q, &ogg).unwrap();
        assert!(check_tag_lengths(&q, "OGG Vorbis").unwrap().is_ok());
        let mut lying = packet.clone();
        let n = lying.len();
        lying[n - 11..n - 7].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        std::fs::write(&q, [page(&lying[..9]), page(&lying[9..])].concat()).unwrap();
        assert!(check_tag_lengths(&q, "OGG Vorbis").unwrap().is_err());
    }

    #[test]
    fn an_mp4_sample_larger_than_its_file_is_refused() {
        let stsz = |fixed: u32, entries: &[u32]| {
            let mut b = Vec::new();
            let body_len = 20 + 4 * entries.len();
            b.extend_from_slice(&(body_len as u32).to_be_bytes());
            b.extend_from_slice(b"stsz");
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(&fixed.to_be_bytes());
            b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
            for e in entries {
                b.extend_from_slice(&e.to_be_bytes());
            }
            b
        };
        let file = |table: Vec<u8>| {
            let mut f = vec![0, 0, 0, 16];
            f.extend_from_slice(b"ftypM4A \0\0\0\0");
            f.extend_from_slice(&((8 + table.len()) as u32).to_be_bytes());
            f.extend_from_slice(b"moov");
            f.extend(table);
            f
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.m4a");
        std::fs::write(&p, file(stsz(0, &[10, 0xFFFF_FFFF]))).unwrap();
        assert!(check_tag_lengths(&p, "MP4/M4A")
            .unwrap()
            .unwrap_err()
            .contains("4294967295"));
        std::fs::write(&p, file(stsz(0, &[10, 20]))).unwrap();
        assert!(check_tag_lengths(&p, "MP4/M4A").unwrap().is_ok());
        std::fs::write(&p, file(stsz(0x7000_0000, &[]))).unwrap();
        assert!(check_tag_lengths(&p, "MP4/M4A").unwrap().is_err());
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

//! The hostile file set, made by the tests themselves: absurd headers,
//! files that claim or decode to hours, a 20 MB tag, ID3 in front of the
//! wrong thing, playlists dressed as MP3, empty and one-byte files. Each
//! comes with the error codes it may get: one precise code where the cause
//! is certain, a short list where two decoders may see it differently.

use std::path::Path;

/// One hostile file and what Sonica may say of it.
pub struct Hostile {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// Codes it may be refused with; empty when it is valid audio that
    /// must be accepted (possibly with a trimmed tag).
    pub codes: &'static [&'static str],
    /// Costs a long decode (hours of audio up to the cap): skipped where a
    /// test feeds each file through many paths.
    pub slow: bool,
}

/// A WAV header (PCM), then `payload` bytes of data, however many the
/// header claims.
pub fn wav_header(rate: u32, channels: u16, bits: u16, declared_data: u32, payload: usize) -> Vec<u8> {
    let block = (u32::from(channels) * u32::from(bits) / 8).max(1);
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&declared_data.saturating_add(36).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&rate.wrapping_mul(block).to_le_bytes());
    b.extend_from_slice(&(block as u16).to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&declared_data.to_le_bytes());
    // A quiet tone, so a decoder that gets this far has something to chew.
    b.extend((0..payload).map(|i| ((i * 7) % 61) as u8));
    b
}

fn crc8(data: &[u8]) -> u8 {
    let mut c = 0u8;
    for &b in data {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 { (c << 1) ^ 0x07 } else { c << 1 };
        }
    }
    c
}

fn crc16(data: &[u8]) -> u16 {
    let mut c = 0u16;
    for &b in data {
        c ^= u16::from(b) << 8;
        for _ in 0..8 {
            c = if c & 0x8000 != 0 { (c << 1) ^ 0x8005 } else { c << 1 };
        }
    }
    c
}

/// FLAC's UTF-8-style frame number.
fn frame_number(n: u64) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let (len, lead) = [(2, 0xC0u8), (3, 0xE0), (4, 0xF0), (5, 0xF8), (6, 0xFC), (7, 0xFE)]
        .into_iter()
        .find(|(len, _)| n < 1u64 << (5 * len + 1))
        .unwrap_or((7, 0xFE));
    let mut out = vec![0u8; len];
    let mut v = n;
    for b in out[1..].iter_mut().rev() {
        *b = 0x80 | (v & 0x3f) as u8;
        v >>= 6;
    }
    out[0] = lead | v as u8;
    out
}

/// A mono 16-bit FLAC of `seconds` of digital silence in 65,535-sample
/// constant frames (a few bytes each: hours fit in tens of kilobytes),
/// whose STREAMINFO declares `declared` samples (0: unknown).
pub fn silent_flac(rate: u32, seconds: f64, declared: u64) -> Vec<u8> {
    const BLOCK: u64 = 65_535;
    let mut b = b"fLaC".to_vec();
    b.extend_from_slice(&[0x80, 0, 0, 34]);
    b.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    b.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    b.extend_from_slice(&[0; 6]);
    let packed = (u64::from(rate) << 44) | (15 << 36) | (declared & ((1 << 36) - 1));
    b.extend_from_slice(&packed.to_be_bytes());
    b.extend_from_slice(&[0; 16]);
    let total = (f64::from(rate) * seconds) as u64;
    let (mut done, mut frame) = (0u64, 0u64);
    while done < total {
        let n = BLOCK.min(total - done);
        let mut f = vec![0xFF, 0xF8, 0x70, 0x00];
        f.extend(frame_number(frame));
        f.extend_from_slice(&((n - 1) as u16).to_be_bytes());
        f.push(crc8(&f));
        f.extend_from_slice(&[0, 0, 0]); // constant subframe, value 0
        let crc = crc16(&f);
        f.extend_from_slice(&crc.to_be_bytes());
        b.extend(f);
        done += n;
        frame += 1;
    }
    b
}

/// An ID3v2.3 tag holding one text frame (`id`, e.g. TIT2) of `len` bytes.
pub fn id3_tag(id: &[u8; 4], len: usize) -> Vec<u8> {
    let body = len + 1; // encoding byte
    let frame_len = 10 + body;
    let mut b = b"ID3\x03\x00\x00".to_vec();
    // Syncsafe tag size.
    b.extend((0..4).rev().map(|i| ((frame_len >> (7 * i)) & 0x7f) as u8));
    b.extend_from_slice(id);
    b.extend_from_slice(&(body as u32).to_be_bytes());
    b.extend_from_slice(&[0, 0, 0]); // flags, ISO-8859-1
    b.extend(std::iter::repeat_n(b'A', len));
    b
}

/// The whole set. `fixtures` is the tests' fixture folder.
pub fn hostile_set(fixtures: &Path) -> Vec<Hostile> {
    let rate_codes: &[&str] = &["sample_rate_out_of_range", "corrupt_media"];
    let channel_codes: &[&str] = &["channels_out_of_range", "corrupt_media"];
    let mp3 = std::fs::read(fixtures.join("melody_clip_32k.mp3")).expect("mp3 fixture");
    let flac = std::fs::read(fixtures.join("melody_5s.flac")).expect("flac fixture");
    vec![
        Hostile {
            name: "rate_2ghz.wav",
            bytes: wav_header(2_147_483_647, 1, 16, 8000, 8000),
            codes: &["sample_rate_out_of_range"],
            slow: false,
        },
        Hostile {
            name: "rate_1hz.wav",
            bytes: wav_header(1, 1, 16, 8000, 8000),
            codes: &["sample_rate_out_of_range"],
            slow: false,
        },
        Hostile {
            name: "rate_0.wav",
            bytes: wav_header(0, 1, 16, 8000, 8000),
            codes: rate_codes,
            slow: false,
        },
        Hostile {
            name: "channels_0.wav",
            bytes: wav_header(44_100, 0, 16, 8000, 8000),
            codes: channel_codes,
            slow: false,
        },
        Hostile {
            name: "channels_1000.wav",
            bytes: wav_header(44_100, 1000, 16, 64_000, 64_000),
            codes: channel_codes,
            slow: false,
        },
        Hostile {
            name: "claims_37h.wav",
            bytes: wav_header(8000, 1, 16, 0x7FFF_FFF0, 16_000),
            codes: &["audio_too_long"],
            slow: false,
        },
        Hostile {
            name: "claims_a_week.flac",
            bytes: silent_flac(8000, 3.0, 8000 * 3600 * 24 * 7),
            codes: &["audio_too_long"],
            slow: false,
        },
        Hostile {
            name: "decodes_to_7h.flac",
            bytes: silent_flac(8000, 7.0 * 3600.0, 0),
            codes: &["audio_too_long"],
            slow: true,
        },
        Hostile {
            name: "tag_20mb.mp3",
            bytes: [id3_tag(b"TIT2", 20 * 1024 * 1024), mp3.clone()].concat(),
            codes: &[],
            slow: false,
        },
        Hostile {
            name: "id3_then_flac.mp3",
            bytes: [id3_tag(b"TIT2", 100), flac].concat(),
            // symphonia skips the tag and finds the FLAC: valid audio.
            codes: &[],
            slow: false,
        },
        Hostile {
            name: "playlist.mp3",
            bytes: b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n"
                .to_vec(),
            codes: &["unsupported_media"],
            slow: false,
        },
        Hostile {
            name: "concat.mp3",
            bytes: b"ffconcat version 1.0\nfile '/etc/passwd'\nfile '/dev/zero'\n".to_vec(),
            codes: &["unsupported_media"],
            slow: false,
        },
        Hostile {
            name: "empty.mp3",
            bytes: Vec::new(),
            codes: &["empty_file"],
            slow: false,
        },
        Hostile {
            name: "one_byte.wav",
            bytes: vec![0x52],
            codes: &["unsupported_media"],
            slow: false,
        },
    ]
}

/// Truncations and bit flips of `bytes` (seeded, so a failure repeats).
pub fn mutations(bytes: &[u8], seed: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for k in 1..12 {
        out.push(bytes[..bytes.len() * k / 12].to_vec());
    }
    let mut rng = crate::audio::Rng::new(seed);
    for flips in [1usize, 4, 16, 64] {
        for _ in 0..4 {
            let mut b = bytes.to_vec();
            for _ in 0..flips {
                let at = rng.next_u32() as usize % b.len();
                b[at] ^= 1 << (rng.next_u32() % 8);
            }
            out.push(b);
        }
    }
    // Damage concentrated in the header, where demuxers trust the most.
    for _ in 0..8 {
        let mut b = bytes.to_vec();
        let head = b.len().min(256);
        for _ in 0..3 {
            let at = rng.next_u32() as usize % head;
            b[at] = rng.next_u32() as u8;
        }
        out.push(b);
    }
    out
}

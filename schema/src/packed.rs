//! zstd-packed JSON, for records too large to keep as plain JSON.
//!
//! An analysis record is 40–230 KB of JSON (its drum hit lists, beats and
//! the sections' beat-aligned hits are most of it), which made the
//! `analysis` tree as large as the whole hash index: 1.5 MB per hour of
//! audio (issue 16). zstd at level 9 keeps the JSON, so nothing about the
//! record's shape or values changes, and stores a fifth of it. A packed
//! value starts with zstd's frame magic, which JSON never does (it starts
//! with `{`), so [`unpack`] also reads the plain JSON of stores written
//! before format version 2.

use std::borrow::Cow;

use crate::SchemaError;

/// zstd level: 9 stores 20 % of the JSON at about 2 ms per record; 19
/// stores 17 % but takes ten times longer, on every ingest.
pub const LEVEL: i32 = 9;

/// Largest unpacked value accepted: a stored frame that claims more is
/// corrupt (a 20-minute analysis is under 2 MB of JSON).
pub const MAX_UNPACKED: usize = 64 << 20;

/// The four bytes every zstd frame starts with.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether `bytes` are a packed value (else plain JSON).
pub fn is_packed(bytes: &[u8]) -> bool {
    bytes.starts_with(&ZSTD_MAGIC)
}

/// Packs a JSON value. Falls back to the plain JSON if zstd fails, which a
/// reader handles alike.
pub fn pack(json: &[u8]) -> Vec<u8> {
    match zstd::bulk::compress(json, LEVEL) {
        Ok(z) if z.len() < json.len() => z,
        _ => json.to_vec(),
    }
}

/// The JSON of a stored value, packed or plain. `what` names the record in
/// the error.
pub fn unpack<'a>(bytes: &'a [u8], what: &'static str) -> Result<Cow<'a, [u8]>, SchemaError> {
    if !is_packed(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let size = zstd::zstd_safe::get_frame_content_size(bytes)
        .map_err(|_| SchemaError::corrupt(what, "bad zstd frame header"))?
        .ok_or_else(|| SchemaError::corrupt(what, "zstd frame without a content size"))?;
    if size > MAX_UNPACKED as u64 {
        return Err(SchemaError::corrupt(what, format!("packed value claims {size} bytes")));
    }
    let out = zstd::bulk::decompress(bytes, size as usize).map_err(|e| SchemaError::corrupt(what, e.to_string()))?;
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks_json() {
        let json = format!(
            "{{\"hits\":[{}]}}",
            vec!["{\"t\":1.25,\"drum\":\"kick\"}"; 200].join(",")
        );
        let packed = pack(json.as_bytes());
        assert!(is_packed(&packed));
        assert!(packed.len() * 5 < json.len(), "{} of {}", packed.len(), json.len());
        assert_eq!(unpack(&packed, "test").unwrap().as_ref(), json.as_bytes());
    }

    #[test]
    fn plain_json_reads_as_it_is() {
        let json = br#"{"a":1}"#;
        assert!(!is_packed(json));
        assert!(matches!(unpack(json, "test").unwrap(), Cow::Borrowed(_)));
        // Too small to gain: stays plain, and reads back.
        assert_eq!(unpack(&pack(json), "test").unwrap().as_ref(), json);
    }

    #[test]
    fn damaged_frames_are_errors_not_panics() {
        let packed = pack(&b"{\"x\":\"abcdefabcdefabcdefabcdefabcdefabcdefabcdef\"}".repeat(40));
        for cut in [4, 6, packed.len() / 2, packed.len() - 1] {
            assert!(unpack(&packed[..cut], "test").is_err(), "cut at {cut}");
        }
        let mut bad = packed.clone();
        let n = bad.len();
        bad[n / 2] ^= 0xff;
        bad[n - 3] ^= 0xff;
        // An error or other bytes, never a panic.
        let _ = unpack(&bad, "test");
        // A header claiming a huge size is refused before allocating.
        let mut huge = ZSTD_MAGIC.to_vec();
        huge.extend_from_slice(&[0xc0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
        assert!(unpack(&huge, "test").is_err());
    }
}

//! LEB128 variable-length integers: the building block of every compact
//! value (postings, peaks). Small deltas cost one byte, which is what makes
//! sorted, delta-coded lists small before zstd even sees them.

use crate::SchemaError;

/// Appends `v` as an unsigned LEB128 varint.
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one varint from `buf` at `*pos`, advancing `*pos`.
#[inline]
pub fn get(buf: &[u8], pos: &mut usize) -> Result<u64, SchemaError> {
    // Fast path: most deltas in sorted lists fit in one byte.
    if let Some(&b) = buf.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Ok(u64::from(b));
        }
    }
    get_slow(buf, pos)
}

#[cold]
fn get_slow(buf: &[u8], pos: &mut usize) -> Result<u64, SchemaError> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(SchemaError::corrupt("varint", "unexpected end of data"));
        };
        *pos += 1;
        if shift >= 64 {
            return Err(SchemaError::corrupt("varint", "value longer than 64 bits"));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
        shift += 7;
    }
}

/// Reads a varint that must fit in a `u32`.
#[inline]
pub fn get_u32(buf: &[u8], pos: &mut usize) -> Result<u32, SchemaError> {
    let v = get(buf, pos)?;
    u32::try_from(v).map_err(|_| SchemaError::corrupt("varint", format!("{v} exceeds u32")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edges() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put(&mut b, v);
            let mut p = 0;
            assert_eq!(get(&b, &mut p).unwrap(), v);
            assert_eq!(p, b.len());
        }
    }

    #[test]
    fn small_values_take_one_byte() {
        let mut b = Vec::new();
        put(&mut b, 127);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn truncated_is_an_error() {
        let mut p = 0;
        assert!(get(&[0x80, 0x80], &mut p).is_err());
        let mut p = 0;
        assert!(get(&[0xff; 11], &mut p).is_err());
    }
}

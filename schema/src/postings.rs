//! The posting block codec, shared by both hash tiers.
//!
//! A block is a list of postings sorted by (hash, track, time), written as
//! delta-coded varints and, when it pays, compressed with zstd:
//!
//! ```text
//! block  := kind:u8 body
//! kind   := 0 (plain) | 1 (zstd of plain body)
//! body   := count:varint entry*
//! entry  := dhash:varint  track':varint  time':varint
//! ```
//!
//! `dhash` is the gap to the previous hash. `track'` is the gap to the
//! previous track when the hash repeats, else the track itself; `time'` is
//! likewise the gap to the previous time when hash and track repeat. Sorted
//! input makes nearly every field one byte.

use crate::{varint, SchemaError, TrackId};

/// One occurrence of a hash: in `track`, at analysis frame `time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Posting {
    pub hash: u32,
    pub track: TrackId,
    pub time: u32,
}

const PLAIN: u8 = 0;
const ZSTD: u8 = 1;
/// Below this many body bytes zstd's frame overhead outweighs its gain.
const ZSTD_MIN_BYTES: usize = 192;
const ZSTD_LEVEL: i32 = 3;

/// Encodes postings, which must already be sorted (debug-asserted).
pub fn encode(postings: &[Posting]) -> Vec<u8> {
    debug_assert!(
        postings.windows(2).all(|w| w[0] <= w[1]),
        "postings must be sorted"
    );
    let mut body = Vec::with_capacity(postings.len() * 3 + 4);
    varint::put(&mut body, postings.len() as u64);
    let mut prev = Posting {
        hash: 0,
        track: 0,
        time: 0,
    };
    for p in postings {
        let dh = p.hash - prev.hash;
        varint::put(&mut body, u64::from(dh));
        if dh == 0 {
            let dt = p.track - prev.track;
            varint::put(&mut body, u64::from(dt));
            if dt == 0 {
                varint::put(&mut body, u64::from(p.time - prev.time));
            } else {
                varint::put(&mut body, u64::from(p.time));
            }
        } else {
            varint::put(&mut body, u64::from(p.track));
            varint::put(&mut body, u64::from(p.time));
        }
        prev = *p;
    }
    wrap(body)
}

thread_local! {
    // zstd contexts are costly to create (allocation of ~100 KB each time);
    // creating one per block dominated lookups. One per thread is reused.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

fn compress(body: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        c.as_mut()?.compress(body).ok()
    })
}

fn decompress(z: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?);
        }
        d.as_mut()
            .expect("set above")
            .decompress(z, limit)
            .map_err(|e| e.to_string())
    })
}

/// Prefixes the kind byte, compressing the body when that makes it smaller.
pub(crate) fn wrap(body: Vec<u8>) -> Vec<u8> {
    if body.len() >= ZSTD_MIN_BYTES {
        if let Some(z) = compress(&body) {
            if z.len() < body.len() {
                let mut out = Vec::with_capacity(z.len() + 1);
                out.push(ZSTD);
                out.extend_from_slice(&z);
                return out;
            }
        }
    }
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(PLAIN);
    out.extend_from_slice(&body);
    out
}

/// Undoes [`wrap`]: returns the plain body.
pub(crate) fn unwrap<'a>(
    what: &'static str,
    block: &'a [u8],
) -> Result<std::borrow::Cow<'a, [u8]>, SchemaError> {
    match block.split_first() {
        Some((&PLAIN, rest)) => Ok(std::borrow::Cow::Borrowed(rest)),
        Some((&ZSTD, rest)) => {
            // A block never decompresses past 64 MiB: a larger claim is corruption.
            let plain = decompress(rest, 64 << 20).map_err(|e| SchemaError::corrupt(what, e))?;
            Ok(std::borrow::Cow::Owned(plain))
        }
        Some((k, _)) => Err(SchemaError::corrupt(
            what,
            format!("unknown block kind {k}"),
        )),
        None => Err(SchemaError::corrupt(what, "empty block")),
    }
}

/// Decodes a block, appending its postings to `out` in stored (sorted) order.
pub fn decode_into(block: &[u8], out: &mut Vec<Posting>) -> Result<(), SchemaError> {
    let body = unwrap("posting block", block)?;
    let body = &body[..];
    let mut pos = 0;
    let n = varint::get(body, &mut pos)? as usize;
    // Each entry takes at least 3 bytes; a count beyond that is corruption.
    if n > body.len() / 3 + 1 {
        return Err(SchemaError::corrupt(
            "posting block",
            format!("count {n} too large for {} bytes", body.len()),
        ));
    }
    out.reserve(n);
    let mut prev = Posting {
        hash: 0,
        track: 0,
        time: 0,
    };
    let overflow = || SchemaError::corrupt("posting block", "delta overflows u32");
    for _ in 0..n {
        let dh = varint::get_u32(body, &mut pos)?;
        let a = varint::get_u32(body, &mut pos)?;
        let b = varint::get_u32(body, &mut pos)?;
        let hash = prev.hash.checked_add(dh).ok_or_else(overflow)?;
        let (track, time) = if dh == 0 {
            if a == 0 {
                (prev.track, prev.time.checked_add(b).ok_or_else(overflow)?)
            } else {
                (prev.track.checked_add(a).ok_or_else(overflow)?, b)
            }
        } else {
            (a, b)
        };
        prev = Posting { hash, track, time };
        out.push(prev);
    }
    if pos != body.len() {
        return Err(SchemaError::corrupt("posting block", "trailing bytes"));
    }
    Ok(())
}

/// Decodes a block into a new vector.
pub fn decode(block: &[u8]) -> Result<Vec<Posting>, SchemaError> {
    let mut v = Vec::new();
    decode_into(block, &mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(hash: u32, track: u32, time: u32) -> Posting {
        Posting { hash, track, time }
    }

    #[test]
    fn round_trips_small_and_large() {
        let small = vec![p(1, 2, 3), p(1, 2, 9), p(1, 5, 1), p(900, 1, 0)];
        assert_eq!(decode(&encode(&small)).unwrap(), small);
        let mut big: Vec<Posting> = (0..5000u32).map(|i| p(i * 7 % 4096, i % 13, i)).collect();
        big.sort();
        let enc = encode(&big);
        assert_eq!(enc[0], ZSTD);
        assert_eq!(decode(&enc).unwrap(), big);
    }

    #[test]
    fn empty_round_trips() {
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn corrupt_blocks_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[PLAIN, 5, 1]).is_err());
        assert!(decode(&[ZSTD, 1, 2, 3]).is_err());
        let mut ok = encode(&[p(1, 1, 1)]);
        ok.push(0);
        assert!(decode(&ok).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_sorted_list_round_trips(mut v in proptest::collection::vec((0u32..1<<24, 0u32..5000, 0u32..1_000_000), 0..2000)) {
                let mut ps: Vec<Posting> = v.drain(..).map(|(h, t, x)| p(h, t, x)).collect();
                ps.sort();
                prop_assert_eq!(decode(&encode(&ps)).unwrap(), ps);
            }

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = decode(&bytes);
            }
        }
    }
}

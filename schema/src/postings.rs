//! The posting block codec, shared by both hash tiers.
//!
//! A block holds postings sorted by (hash, track, time), grouped by hash
//! behind a small directory, written as delta-coded varints and, when it
//! pays, compressed with zstd:
//!
//! ```text
//! block  := kind:u8 body
//! kind   := 0 (plain) | 1 (zstd of plain body)
//! body   := nhash:varint dir{nhash} group{nhash}
//! dir    := dhash:varint count:varint bytes:varint
//! group  := (track':varint time':varint){count}
//! ```
//!
//! `dhash` is the gap to the previous hash. In a group `track'` is the gap
//! to the previous track (the first is absolute) and `time'` the gap to the
//! previous time when the track repeats, else the time itself. The directory
//! lets a lookup decode only the groups of the hashes it asks for, not the
//! whole block: blocks of popular buckets hold hundreds of postings.

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
    debug_assert!(postings.windows(2).all(|w| w[0] <= w[1]), "postings must be sorted");
    let mut dir = Vec::with_capacity(postings.len() + 8);
    let mut groups = Vec::with_capacity(postings.len() * 3);
    let mut nhash = 0u64;
    let mut prev_hash = 0u32;
    let mut i = 0;
    while i < postings.len() {
        let h = postings[i].hash;
        let mut j = i;
        while j < postings.len() && postings[j].hash == h {
            j += 1;
        }
        let start = groups.len();
        let (mut pt, mut ptime) = (0u32, 0u32);
        for (k, p) in postings[i..j].iter().enumerate() {
            let dt = if k == 0 { p.track } else { p.track - pt };
            varint::put(&mut groups, u64::from(dt));
            if k > 0 && dt == 0 {
                varint::put(&mut groups, u64::from(p.time - ptime));
            } else {
                varint::put(&mut groups, u64::from(p.time));
            }
            pt = p.track;
            ptime = p.time;
        }
        varint::put(&mut dir, u64::from(h - prev_hash));
        varint::put(&mut dir, (j - i) as u64);
        varint::put(&mut dir, (groups.len() - start) as u64);
        prev_hash = h;
        nhash += 1;
        i = j;
    }
    let mut body = Vec::with_capacity(dir.len() + groups.len() + 4);
    varint::put(&mut body, nhash);
    body.extend_from_slice(&dir);
    body.extend_from_slice(&groups);
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
    let mut out = Vec::new();
    decompress_into(z, limit, &mut out)?;
    Ok(out)
}

/// Decompresses a zstd frame into a reused buffer. The frame header records
/// the plain size: exactly that is reserved (the bulk API would otherwise
/// allocate `limit` bytes for every block).
fn decompress_into(z: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let size = zstd::zstd_safe::get_frame_content_size(z)
        .map_err(|_| "not a zstd frame".to_string())?
        .ok_or_else(|| "zstd frame without a content size".to_string())?;
    if size > limit as u64 {
        return Err(format!("block claims {size} bytes"));
    }
    out.clear();
    out.reserve(size as usize);
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?);
        }
        d.as_mut()
            .expect("set above")
            .decompress_to_buffer(z, out)
            .map(|_| ())
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
pub(crate) fn unwrap<'a>(what: &'static str, block: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, SchemaError> {
    match block.split_first() {
        Some((&PLAIN, rest)) => Ok(std::borrow::Cow::Borrowed(rest)),
        Some((&ZSTD, rest)) => {
            // A block never decompresses past 64 MiB: a larger claim is corruption.
            let plain = decompress(rest, 64 << 20).map_err(|e| SchemaError::corrupt(what, e))?;
            Ok(std::borrow::Cow::Owned(plain))
        }
        Some((k, _)) => Err(SchemaError::corrupt(what, format!("unknown block kind {k}"))),
        None => Err(SchemaError::corrupt(what, "empty block")),
    }
}

/// One directory entry: a hash, its posting count and where its group is.
#[derive(Debug, Clone, Copy)]
struct Group {
    hash: u32,
    count: u32,
    start: usize,
    end: usize,
}

/// A parsed block: decompressed once, its directory read, groups decoded on
/// demand. It owns its buffers and is meant to be reused from block to
/// block ([`BlockReader::load`]), so a lookup touching a thousand buckets
/// allocates nothing per bucket.
#[derive(Default, Clone)]
pub struct BlockReader {
    body: Vec<u8>,
    dir: Vec<Group>,
    lens: Vec<usize>,
}

impl BlockReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `block` into this reader, replacing what it held.
    pub fn load(&mut self, block: &[u8]) -> Result<(), SchemaError> {
        self.dir.clear();
        match block.split_first() {
            Some((&PLAIN, rest)) => {
                self.body.clear();
                self.body.extend_from_slice(rest);
            }
            Some((&ZSTD, rest)) => {
                decompress_into(rest, 64 << 20, &mut self.body).map_err(|e| SchemaError::corrupt("posting block", e))?
            }
            Some((k, _)) => return Err(SchemaError::corrupt("posting block", format!("unknown block kind {k}"))),
            None => return Err(SchemaError::corrupt("posting block", "empty block")),
        }
        let b = &self.body[..];
        let mut pos = 0;
        let n = varint::get(b, &mut pos)? as usize;
        // Each directory entry and each posting take at least 3 and 2 bytes.
        if n > b.len() / 3 + 1 {
            return Err(SchemaError::corrupt(
                "posting block",
                format!("{n} hashes in {} bytes", b.len()),
            ));
        }
        let dir = &mut self.dir;
        let lens = &mut self.lens;
        lens.clear();
        let mut hash = 0u32;
        for k in 0..n {
            let dh = varint::get_u32(b, &mut pos)?;
            if k > 0 && dh == 0 {
                return Err(SchemaError::corrupt("posting block", "repeated hash in directory"));
            }
            hash = hash
                .checked_add(dh)
                .ok_or_else(|| SchemaError::corrupt("posting block", "hash overflows u32"))?;
            let count = varint::get_u32(b, &mut pos)?;
            let len = varint::get(b, &mut pos)? as usize;
            dir.push(Group {
                hash,
                count,
                start: 0,
                end: 0,
            });
            lens.push(len);
        }
        let mut at = pos;
        for (g, &len) in dir.iter_mut().zip(lens.iter()) {
            g.start = at;
            at = at
                .checked_add(len)
                .filter(|&e| e <= b.len())
                .ok_or_else(|| SchemaError::corrupt("posting block", "group runs past the block"))?;
            g.end = at;
            if (g.count as usize) * 2 > len {
                return Err(SchemaError::corrupt("posting block", "group too short for its count"));
            }
        }
        if at != b.len() {
            return Err(SchemaError::corrupt("posting block", "trailing bytes"));
        }
        Ok(())
    }

    /// Heap bytes held, for caches that budget memory.
    pub fn heap_bytes(&self) -> usize {
        self.body.capacity() + self.dir.capacity() * std::mem::size_of::<Group>() + self.lens.capacity() * 8
    }

    /// Number of distinct hashes in the block.
    pub fn hashes(&self) -> usize {
        self.dir.len()
    }

    /// Appends the (track, time) postings of `hash` to `out`.
    pub fn postings_of(&self, hash: u32, out: &mut Vec<(TrackId, u32)>) -> Result<(), SchemaError> {
        if let Ok(k) = self.dir.binary_search_by_key(&hash, |g| g.hash) {
            self.group(k, out)?;
        }
        Ok(())
    }

    fn group(&self, k: usize, out: &mut Vec<(TrackId, u32)>) -> Result<(), SchemaError> {
        let g = self.dir[k];
        let b = &self.body[g.start..g.end];
        let mut pos = 0;
        let (mut track, mut time) = (0u32, 0u32);
        let overflow = || SchemaError::corrupt("posting block", "delta overflows u32");
        for i in 0..g.count {
            let dt = varint::get_u32(b, &mut pos)?;
            let t = varint::get_u32(b, &mut pos)?;
            if i == 0 {
                track = dt;
                time = t;
            } else if dt == 0 {
                time = time.checked_add(t).ok_or_else(overflow)?;
            } else {
                track = track.checked_add(dt).ok_or_else(overflow)?;
                time = t;
            }
            out.push((track, time));
        }
        if pos != b.len() {
            return Err(SchemaError::corrupt("posting block", "group length mismatch"));
        }
        Ok(())
    }
}

/// Decodes a block, appending its postings to `out` in stored (sorted) order.
pub fn decode_into(block: &[u8], out: &mut Vec<Posting>) -> Result<(), SchemaError> {
    let mut r = BlockReader::new();
    r.load(block)?;
    let mut g = Vec::new();
    for k in 0..r.dir.len() {
        g.clear();
        r.group(k, &mut g)?;
        let hash = r.dir[k].hash;
        out.extend(g.iter().map(|&(track, time)| Posting { hash, track, time }));
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
    fn reader_returns_one_hash_group() {
        let ps = vec![p(1, 2, 3), p(1, 2, 9), p(1, 5, 1), p(900, 1, 0), p(901, 7, 7)];
        let enc = encode(&ps);
        let mut r = BlockReader::new();
        r.load(&encode(&[p(5, 5, 5)])).unwrap();
        r.load(&enc).unwrap();
        assert_eq!(r.hashes(), 3);
        let mut out = Vec::new();
        r.postings_of(1, &mut out).unwrap();
        assert_eq!(out, vec![(2, 3), (2, 9), (5, 1)]);
        out.clear();
        r.postings_of(2, &mut out).unwrap();
        assert!(out.is_empty());
        r.postings_of(901, &mut out).unwrap();
        assert_eq!(out, vec![(7, 7)]);
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

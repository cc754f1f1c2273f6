//! The byte format of `vectors.bin` and the checksum every saved file
//! carries in the manifest.
//!
//! Our own copy of the vectors is what exact scans, compactions and a graph
//! rebuild read, so it must never depend on hnsw_rs's dump format. Layout
//! (little-endian): magic `SNVEC\0\0\x01`, dim u32, 4 zero bytes, slot count
//! u64, ids `[u32; n]`, alive flags `[u8; n]` (0/1) padded with zeros to a
//! multiple of 4, vectors `[f32; n * dim]`. Decoding checks every length
//! before allocating, so a damaged file is an error, never a panic or a
//! huge allocation.

use std::path::Path;

use super::error::VectorError;
use super::store::SlotStore;

const MAGIC: &[u8; 8] = b"SNVEC\0\0\x01";
pub(crate) const HEADER_LEN: usize = 24;

/// 64-bit checksum over 8-byte words (FxHash's mix plus a final avalanche):
/// not cryptographic, only meant to catch torn writes and bit rot, at
/// several GB/s so checking a 100 MB save costs tens of milliseconds.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    for word in words {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word.try_into().expect("8 bytes"))).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn padded(n: usize) -> usize {
    n.div_ceil(4) * 4
}

pub(crate) fn encode(store: &SlotStore) -> Vec<u8> {
    let (ids, alive, data) = store.parts();
    let n = ids.len();
    let mut out = Vec::with_capacity(HEADER_LEN + 4 * n + padded(n) + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(store.dim() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(n as u64).to_le_bytes());
    ids.iter().for_each(|id| out.extend_from_slice(&id.to_le_bytes()));
    alive.iter().for_each(|&a| out.push(a as u8));
    out.resize(out.len() + padded(n) - n, 0);
    data.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    out
}

pub(crate) fn decode(bytes: &[u8], dim: usize, file: &Path) -> Result<SlotStore, VectorError> {
    let bad = |reason: String| VectorError::corrupt(file, reason);
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(bad("missing header".into()));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    if word(8) as usize != dim {
        return Err(bad(format!("holds dim {}, expected {dim}", word(8))));
    }
    let n = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let expected = usize::try_from(n)
        .ok()
        .and_then(|n| Some((n, n.checked_mul(4 + 4 * dim)?.checked_add(padded(n) + HEADER_LEN)?)));
    let Some((n, len)) = expected.filter(|&(_, len)| len == bytes.len()) else {
        return Err(bad(format!("{} bytes do not fit {n} slots of dim {dim}", bytes.len())));
    };
    let ids: Vec<u32> = (0..n).map(|i| word(HEADER_LEN + 4 * i)).collect();
    let flags = &bytes[HEADER_LEN + 4 * n..HEADER_LEN + 5 * n];
    if flags.iter().any(|&f| f > 1) {
        return Err(bad("alive flag other than 0 or 1".into()));
    }
    let start = HEADER_LEN + 4 * n + padded(n);
    let data: Vec<f32> = bytes[start..len]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    if data.iter().any(|x| !x.is_finite()) {
        return Err(bad("non-finite vector value".into()));
    }
    let alive = flags.iter().map(|&f| f == 1).collect();
    SlotStore::from_parts(dim, ids, alive, data).ok_or_else(|| bad("an id is live in two slots".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_file_round_trips_and_rejects_damage() {
        let mut store = SlotStore::new(3);
        store.push(4, &[1.0, 0.0, 0.0]);
        store.push(9, &[0.0, 1.0, 0.0]);
        store.push(4, &[0.0, 0.0, 1.0]);
        let bytes = encode(&store);
        let back = decode(&bytes, 3, Path::new("/f")).unwrap();
        assert_eq!(back.parts(), store.parts());
        assert_eq!(back.slot_of(4), Some(2));
        assert!(decode(&bytes, 4, Path::new("/f")).is_err());
        assert!(decode(&bytes[..bytes.len() - 1], 3, Path::new("/f")).is_err());
        let mut flag = bytes.clone();
        flag[HEADER_LEN + 12] = 7;
        assert!(decode(&flag, 3, Path::new("/f")).is_err());
        let mut huge = bytes;
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge, 3, Path::new("/f")).is_err());
    }

    #[test]
    fn checksum_sees_every_byte_and_the_length() {
        let a = vec![7u8; 1001];
        let base = checksum(&a);
        for at in [0, 500, 999, 1000] {
            let mut b = a.clone();
            b[at] ^= 1;
            assert_ne!(checksum(&b), base, "byte {at}");
        }
        assert_ne!(checksum(&a[..1000]), base);
        assert_ne!(checksum(&[]), checksum(&[0]));
    }
}

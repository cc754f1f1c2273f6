//! The peak list codec: the canonical, compact fingerprint of a track.
//!
//! Peaks are kept rather than hashes because they are several times fewer
//! and the hashes can be regenerated from them (reindex `--rebuild`) with any
//! pairing rule, without decoding audio again. Frequencies keep 1/16-bin
//! precision so a rebuild reproduces hashes exactly.
//!
//! ```text
//! list  := kind:u8 body          (kind as in the posting codec)
//! body  := count:varint (dtime:varint freq16:varint)*
//! ```

use crate::{postings, varint, SchemaError};

/// A spectral peak: analysis frame and frequency in 1/16 FFT bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Peak {
    pub time: u32,
    pub freq16: u16,
}

impl Peak {
    /// Frequency in (fractional) FFT bins.
    pub fn bin(self) -> f32 {
        f32::from(self.freq16) / 16.0
    }
}

/// Encodes peaks sorted by time (debug-asserted).
pub fn encode(peaks: &[Peak]) -> Vec<u8> {
    debug_assert!(peaks.windows(2).all(|w| w[0].time <= w[1].time));
    let mut body = Vec::with_capacity(peaks.len() * 3 + 4);
    varint::put(&mut body, peaks.len() as u64);
    let mut prev = 0u32;
    for p in peaks {
        varint::put(&mut body, u64::from(p.time - prev));
        varint::put(&mut body, u64::from(p.freq16));
        prev = p.time;
    }
    postings::wrap(body)
}

/// Decodes a peak list.
pub fn decode(block: &[u8]) -> Result<Vec<Peak>, SchemaError> {
    let body = postings::unwrap("peak list", block)?;
    let body = &body[..];
    let mut pos = 0;
    let n = varint::get(body, &mut pos)? as usize;
    if n > body.len() / 2 + 1 {
        return Err(SchemaError::corrupt("peak list", format!("count {n} too large")));
    }
    let mut out = Vec::with_capacity(n);
    let mut time = 0u32;
    for _ in 0..n {
        let dt = varint::get_u32(body, &mut pos)?;
        let f = varint::get_u32(body, &mut pos)?;
        time = time
            .checked_add(dt)
            .ok_or_else(|| SchemaError::corrupt("peak list", "time overflows u32"))?;
        let freq16 = u16::try_from(f).map_err(|_| SchemaError::corrupt("peak list", "frequency out of range"))?;
        out.push(Peak { time, freq16 });
    }
    if pos != body.len() {
        return Err(SchemaError::corrupt("peak list", "trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(mut v in proptest::collection::vec((0u32..10_000_000, any::<u16>()), 0..3000)) {
            v.sort();
            let peaks: Vec<Peak> = v.into_iter().map(|(time, freq16)| Peak { time, freq16 }).collect();
            prop_assert_eq!(decode(&encode(&peaks)).unwrap(), peaks);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn bin_is_fractional() {
        assert_eq!(Peak { time: 0, freq16: 24 }.bin(), 1.5);
    }
}

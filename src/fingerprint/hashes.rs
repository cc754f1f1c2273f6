//! Pairing peaks into hashes.
//!
//! Each anchor peak is paired with up to `fanout` later peaks in its target
//! zone (1..=`max_dt` frames later, within ±`max_df` bins). A pair becomes a
//! 23-bit hash of (anchor bin, bin difference, frame difference):
//!
//! ```text
//! bits 22..14  anchor frequency bin   (9 bits, 0..511)
//! bits 13..6   target − anchor bins   (8 bits, offset by 128)
//! bits  5..0   target − anchor frames (6 bits, 1..63)
//! ```
//!
//! Neighbouring hashes share an anchor frequency, so a bucket (hash >> 8 in
//! the schema) holds one anchor bin's pairs with nearby bin differences.
//!
//! For speed-change robustness, a query's peaks can be rescaled before
//! pairing: a clip played `s` times faster has its frequencies multiplied
//! and its times divided by `s`, so mapping `f / s`, `t · s` undoes it and
//! the hashes line up with the index again.

use sonica_schema::Peak;

use super::params::PairParams;

/// A peak with real-valued coordinates (after speed rescaling).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaledPeak {
    pub time: f32,
    pub bin: f32,
}

/// A hash and the time of its anchor (in reference frames).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HashedPeak {
    pub hash: u32,
    pub time: f32,
}

const DF_OFFSET: i32 = 128;

/// Packs a pair into its hash; `None` when outside the encodable zone.
#[inline]
pub fn pack(f1: i32, df: i32, dt: i32) -> Option<u32> {
    if !(0..512).contains(&f1) || !(-127..=127).contains(&df) || !(1..=63).contains(&dt) {
        return None;
    }
    Some(((f1 as u32) << 14) | (((df + DF_OFFSET) as u32) << 6) | dt as u32)
}

/// Unpacks a hash into (anchor bin, bin difference, frame difference).
pub fn unpack(h: u32) -> (i32, i32, i32) {
    (
        (h >> 14) as i32,
        ((h >> 6) & 0xff) as i32 - DF_OFFSET,
        (h & 0x3f) as i32,
    )
}

/// Rescales peaks for a speed hypothesis `speed` (1.0 = unchanged).
pub fn scale_peaks(peaks: &[Peak], speed: f32) -> Vec<ScaledPeak> {
    peaks
        .iter()
        .map(|p| ScaledPeak {
            time: p.time as f32 * speed,
            bin: p.bin() / speed,
        })
        .collect()
}

/// Hashes peaks (sorted by time) with the given pairing rule.
pub fn hash_peaks(peaks: &[ScaledPeak], p: &PairParams) -> Vec<HashedPeak> {
    let mut out = Vec::with_capacity(peaks.len() * p.fanout);
    pair_up(
        peaks,
        p,
        |a| a.bin.round() as i32,
        |a, b| (b.time - a.time).round() as i64,
        |hash, a| out.push(HashedPeak { hash, time: a.time }),
    );
    out
}

/// The index's (hash, frame) pairs for a track's stored peaks.
///
/// [`hash_peaks`] at speed 1, in integers: stored peaks have whole frames
/// and sixteenths of a bin, so every rounding `hash_peaks` does is exact
/// here (`(freq16 + 8) >> 4` is the nearest bin, halves up, as
/// `f32::round` does for positive values). Same pairs, same order, same
/// hashes (a test compares them), without a libm `roundf` per candidate
/// pair (about 8 % of `--rebuild`'s CPU).
pub fn index_hashes(peaks: &[Peak], p: &PairParams) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(peaks.len() * p.fanout);
    pair_up(
        peaks,
        p,
        |a| nearest_bin(a.freq16),
        |a, b| i64::from(b.time) - i64::from(a.time),
        |hash, a| out.push((hash, a.time)),
    );
    out
}

/// The pairing rule, whatever the peaks' coordinates: `bin` gives a peak's
/// whole bin, `dt` the whole frames from one peak to a later one, and
/// `emit` receives each hash with its anchor.
#[inline(always)]
fn pair_up<T>(
    peaks: &[T],
    p: &PairParams,
    bin: impl Fn(&T) -> i32,
    dt: impl Fn(&T, &T) -> i64,
    mut emit: impl FnMut(u32, &T),
) {
    let max_dt = i64::from(p.max_dt);
    for (i, a) in peaks.iter().enumerate() {
        let fa = bin(a);
        let mut taken = 0;
        for b in &peaks[i + 1..] {
            let dt = dt(a, b);
            if dt > max_dt {
                break;
            }
            if dt < 1 {
                continue;
            }
            let df = bin(b) - fa;
            if df.abs() > p.max_df {
                continue;
            }
            // 1 ≤ dt ≤ max_dt here; pack rejects what its 6 bits cannot hold.
            if let Some(hash) = pack(fa, df, dt as i32) {
                emit(hash, a);
                taken += 1;
                if taken == p.fanout {
                    break;
                }
            }
        }
    }
}

/// The nearest whole bin to a frequency in sixteenths of a bin.
#[inline]
fn nearest_bin(freq16: u16) -> i32 {
    (i32::from(freq16) + 8) >> 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_and_rejects_out_of_zone() {
        for (f, df, dt) in [(0, -127, 1), (511, 127, 63), (200, 0, 30)] {
            assert_eq!(unpack(pack(f, df, dt).unwrap()), (f, df, dt));
        }
        assert!(pack(512, 0, 1).is_none());
        assert!(pack(10, 0, 0).is_none());
        assert!(pack(10, 128, 5).is_none());
        assert!(pack(10, 0, 64).is_none());
    }

    fn pk(time: u32, bin: u16) -> Peak {
        Peak { time, freq16: bin * 16 }
    }

    #[test]
    fn fanout_and_zone_are_respected() {
        let peaks = vec![pk(0, 100), pk(2, 110), pk(3, 300), pk(5, 120), pk(70, 100)];
        let p = PairParams {
            fanout: 2,
            max_dt: 63,
            max_df: 50,
        };
        let h = hash_peaks(&scale_peaks(&peaks, 1.0), &p);
        // Anchor 0 pairs with frames 2 and 5 (300 is out of ±50 bins; fanout 2).
        let from0: Vec<_> = h.iter().filter(|x| x.time == 0.0).map(|x| unpack(x.hash)).collect();
        assert_eq!(from0, vec![(100, 10, 2), (100, 20, 5)]);
        // Nothing pairs across the 65-frame gap.
        assert!(h.iter().all(|x| x.time < 70.0));
    }

    /// `index_hashes` is the integer twin of `hash_peaks` at speed 1: the
    /// very same (hash, time) list, half-bin peaks and same-frame peaks
    /// included.
    #[test]
    fn index_hashes_equal_the_float_pairing_at_speed_one() {
        let mut state = 0x2545_f491_u32;
        let mut next = move |n: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state % n
        };
        let shipped = crate::fingerprint::FingerprintParams::index().pairs;
        let others = [(5, 63, 127), (3, 40, 30), (10, 63, 64), (1, 8, 4)];
        let all = others.map(|(fanout, max_dt, max_df)| PairParams { fanout, max_dt, max_df });
        for p in std::iter::once(shipped).chain(all) {
            let mut time = 0;
            let peaks: Vec<Peak> = (0..3000)
                .map(|_| {
                    time += [0, 0, 1, 1, 2, 3, 7, 70][next(8) as usize];
                    // Every fourth peak sits exactly on a half bin.
                    let freq16 = match next(4) {
                        0 => (next(520) * 16 + 8) as u16,
                        _ => next(520 * 16) as u16,
                    };
                    Peak { time, freq16 }
                })
                .collect();
            let float: Vec<(u32, u32)> = hash_peaks(&scale_peaks(&peaks, 1.0), &p)
                .into_iter()
                .map(|h| (h.hash, h.time as u32))
                .collect();
            assert!(float.len() > 100, "{p:?}: {} hashes", float.len());
            assert_eq!(index_hashes(&peaks, &p), float, "{p:?}");
        }
    }

    #[test]
    fn speed_rescaling_recovers_reference_hashes() {
        let reference: Vec<Peak> = (0..40).map(|i| pk(i * 4, 60 + (i * 37 % 200) as u16)).collect();
        let p = PairParams {
            fanout: 3,
            max_dt: 63,
            max_df: 127,
        };
        let want: Vec<u32> = index_hashes(&reference, &p).into_iter().map(|x| x.0).collect();
        // The same peaks as a clip played 3% fast.
        let s = 1.03f32;
        let fast: Vec<Peak> = reference
            .iter()
            .map(|p| Peak {
                time: (p.time as f32 / s).round() as u32,
                freq16: (p.bin() * s * 16.0).round() as u16,
            })
            .collect();
        let naive: Vec<u32> = index_hashes(&fast, &p).into_iter().map(|x| x.0).collect();
        let fixed: Vec<u32> = hash_peaks(&scale_peaks(&fast, s), &p)
            .into_iter()
            .map(|x| x.hash)
            .collect();
        let hit = |q: &[u32]| q.iter().filter(|h| want.contains(h)).count();
        assert!(
            hit(&fixed) > 2 * hit(&naive) && hit(&fixed) * 2 > want.len(),
            "fixed {} naive {} of {}",
            hit(&fixed),
            hit(&naive),
            want.len()
        );
    }
}

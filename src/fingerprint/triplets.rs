//! The transformation-tolerant hash family: triplets of peaks hashed on
//! what a pitch shift, a speed change or a time stretch leaves alone.
//!
//! The exact family ([`super::hashes`]) hashes a pair's anchor bin, bin
//! difference and frame difference: a clip shifted by 100 cents or stretched
//! by 5 % reproduces none of them. Here an anchor peak `a` and two later
//! peaks `b`, `c` are hashed on
//!
//! ```text
//! d1 = log2(f_b / f_a), d2 = log2(f_c / f_a)   (octaves: a pitch shift or a
//!                                               speed change multiplies every
//!                                               frequency, so ratios stay)
//! r  = (t_b − t_a) / (t_c − t_a)                (a stretch or a speed change
//!                                               multiplies every interval)
//! band = log2(f_a) in half octaves              (coarse: ±200 cents moves it
//!                                               by a third of a band)
//! ```
//!
//! as Panako hashes ratios on a log-frequency axis. Targets are the next
//! `span` peaks after the anchor in time order, which a stretch does not
//! reorder. A hash is `FAMILY` | band(4) d1(6) d2(6) r(4): the exact family
//! stays below 2^23, so both live in the same buckets and blocks without
//! ever sharing one. The posting's time is the anchor's frame, as for the
//! exact family; the time scale of a match is found by voting (see
//! `identify::tolerant`).
//!
//! The index hashes the stored peaks with a small span; a query takes a
//! wider span and, for each value near a cell edge, looks up the
//! neighbouring cell too (`probe`), so measurement noise and the band shift
//! of a pitch change do not lose the hash.

use sonica_schema::Peak;

/// Set in every hash of this family; exact hashes are below 2^23.
pub const FAMILY: u32 = 1 << 31;

/// Cells per octave of a frequency ratio (100 cents a cell).
const RATIO_CELLS_PER_OCTAVE: f32 = 12.0;
/// Ratios are kept within ±2 octaves: 48 cells, 6 bits.
const RATIO_OFFSET: f32 = 24.0;
const RATIO_CELLS: i32 = 48;
/// Cells of the time ratio r in (0, 1): 10, 4 bits.
const TIME_CELLS: f32 = 10.0;
/// Anchor bands: half octaves above 2^4 bins (125 Hz), 4 bits.
const BANDS_PER_OCTAVE: f32 = 2.0;
const BAND_BASE: f32 = 4.0;
const BANDS: i32 = 16;

/// How triplets are formed on one side (index or query).
#[derive(Debug, Clone, PartialEq)]
pub struct TripletParams {
    /// Targets are among the next `span` peaks after the anchor.
    pub span: usize,
    /// At most this many triplets per anchor (nearest targets first).
    pub per_anchor: usize,
    /// `t_c − t_a` in frames: at least (a ratio of short intervals is
    /// mostly rounding)…
    pub min_dt: u32,
    /// …and at most.
    pub max_dt: u32,
}

impl TripletParams {
    /// What the index stores: three triplets per anchor (half the exact
    /// family's six pairs).
    pub fn index() -> Self {
        TripletParams {
            span: 3,
            per_anchor: 3,
            min_dt: 6,
            max_dt: 90,
        }
    }

    /// What a query looks up: every triplet among its next five peaks, so
    /// an index triplet is found though a peak or two slipped in between.
    pub fn query() -> Self {
        TripletParams {
            span: 5,
            per_anchor: 10,
            min_dt: 6,
            max_dt: 110,
        }
    }
}

/// The continuous coordinates of a triplet, in cell units: band, d1, d2, r.
type Coords = [f32; 4];

/// Coordinates of (a, b, c), or `None` outside the encodable zone.
fn coords(a: &Peak, b: &Peak, c: &Peak) -> Option<Coords> {
    let (la, lb, lc) = (log_bin(a)?, log_bin(b)?, log_bin(c)?);
    let band = (la - BAND_BASE) * BANDS_PER_OCTAVE;
    let d1 = (lb - la) * RATIO_CELLS_PER_OCTAVE + RATIO_OFFSET;
    let d2 = (lc - la) * RATIO_CELLS_PER_OCTAVE + RATIO_OFFSET;
    let r = (b.time - a.time) as f32 / (c.time - a.time) as f32 * TIME_CELLS;
    let inside = |x: f32, n: i32| x >= 0.0 && x < n as f32;
    (inside(band, BANDS) && inside(d1, RATIO_CELLS) && inside(d2, RATIO_CELLS)).then_some([band, d1, d2, r])
}

#[inline]
fn log_bin(p: &Peak) -> Option<f32> {
    (p.freq16 >= 16).then(|| (f32::from(p.freq16) / 16.0).log2())
}

/// Packs whole cells into a hash.
#[inline]
fn pack(c: [i32; 4]) -> Option<u32> {
    let [band, d1, d2, r] = c;
    if !(0..BANDS).contains(&band) || !(0..RATIO_CELLS).contains(&d1) || !(0..RATIO_CELLS).contains(&d2) {
        return None;
    }
    let r = r.clamp(0, TIME_CELLS as i32 - 1);
    Some(FAMILY | (band as u32) << 16 | (d1 as u32) << 10 | (d2 as u32) << 4 | r as u32)
}

/// Unpacks a hash into its cells (band, d1, d2, r).
pub fn unpack(h: u32) -> [i32; 4] {
    [
        ((h >> 16) & 0xf) as i32,
        ((h >> 10) & 0x3f) as i32,
        ((h >> 4) & 0x3f) as i32,
        (h & 0xf) as i32,
    ]
}

/// Is `h` one of this family's hashes?
#[inline]
pub fn is_tolerant(h: u32) -> bool {
    h & FAMILY != 0
}

/// Calls `emit(a, b, c)` with the indices of every triplet of `peaks`
/// (sorted by time) that `p` forms.
fn for_each_triplet(peaks: &[Peak], p: &TripletParams, mut emit: impl FnMut(usize, usize, usize)) {
    for i in 0..peaks.len() {
        let a = peaks[i];
        // The next `span` peaks strictly after the anchor.
        let first = i + 1 + peaks[i + 1..].iter().take_while(|x| x.time == a.time).count();
        let end = (first + p.span).min(peaks.len());
        let mut taken = 0;
        'targets: for k in first..end {
            let c = peaks[k];
            let dt = c.time - a.time;
            if dt > p.max_dt {
                break;
            }
            if dt < p.min_dt {
                continue;
            }
            for (j, b) in peaks.iter().enumerate().take(k).skip(first) {
                if b.time >= c.time {
                    break;
                }
                emit(i, j, k);
                taken += 1;
                if taken == p.per_anchor {
                    break 'targets;
                }
            }
        }
    }
}

/// The index's (hash, anchor frame) postings of this family for a track's
/// stored peaks.
pub fn index_triplets(peaks: &[Peak], p: &TripletParams) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(peaks.len() * p.per_anchor);
    for_each_triplet(peaks, p, |i, j, k| {
        if let Some(c) = coords(&peaks[i], &peaks[j], &peaks[k]) {
            if let Some(h) = pack(c.map(|x| x.floor() as i32)) {
                out.push((h, peaks[i].time));
            }
        }
    });
    out
}

/// How close to a cell's edge (as a share of the cell) a query value must
/// be for the neighbouring cell to be looked up too: band, d1, d2, r.
/// The band's margin is a 200-cent shift (a third of a half octave); the
/// others cover peak-frequency and frame rounding.
const PROBE_MARGIN: [f32; 4] = [0.34, 0.25, 0.25, 0.3];

/// One hash a query triplet probes (its cell or a neighbour it is near),
/// with the anchor's frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryTriplet {
    pub hash: u32,
    pub time: u32,
}

/// Every hash a query's peaks probe, with its anchor frame.
pub fn query_triplets(peaks: &[Peak], p: &TripletParams) -> Vec<QueryTriplet> {
    let mut out = Vec::with_capacity(peaks.len() * p.per_anchor * 4);
    for_each_triplet(peaks, p, |i, j, k| {
        if let Some(c) = coords(&peaks[i], &peaks[j], &peaks[k]) {
            probe(c, &mut |h| {
                out.push(QueryTriplet {
                    hash: h,
                    time: peaks[i].time,
                })
            });
        }
    });
    out
}

/// Emits the hash of `c`'s cell and of each neighbour it lies near.
fn probe(c: Coords, emit: &mut impl FnMut(u32)) {
    let mut choices = [[0i32; 2]; 4];
    let mut n = [1usize; 4];
    for d in 0..4 {
        let cell = c[d].floor();
        let frac = c[d] - cell;
        choices[d][0] = cell as i32;
        if frac < PROBE_MARGIN[d] {
            choices[d][1] = cell as i32 - 1;
            n[d] = 2;
        } else if frac > 1.0 - PROBE_MARGIN[d] {
            choices[d][1] = cell as i32 + 1;
            n[d] = 2;
        }
    }
    for a in 0..n[0] {
        for b in 0..n[1] {
            for d in 0..n[2] {
                for e in 0..n[3] {
                    let cells = [choices[0][a], choices[1][b], choices[2][d], choices[3][e]];
                    if (0..TIME_CELLS as i32).contains(&cells[3]) {
                        if let Some(h) = pack(cells) {
                            emit(h);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(time: u32, bin: f32) -> Peak {
        Peak {
            time,
            freq16: (bin * 16.0).round() as u16,
        }
    }

    fn sample_peaks() -> Vec<Peak> {
        let mut state = 0x1234_5678_u32;
        let mut next = move |n: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state % n
        };
        let mut t = 0;
        (0..600)
            .map(|_| {
                t += 1 + next(4);
                pk(t, 30.0 + next(400) as f32 + next(16) as f32 / 16.0)
            })
            .collect()
    }

    #[test]
    fn hashes_are_of_the_family_and_round_trip() {
        let peaks = sample_peaks();
        let hs = index_triplets(&peaks, &TripletParams::index());
        assert!(hs.len() > peaks.len() / 2, "{} triplets", hs.len());
        for &(h, _) in &hs {
            assert!(is_tolerant(h));
            assert_eq!(pack(unpack(h)), Some(h));
        }
        assert!(!is_tolerant((1 << 23) - 1));
    }

    /// A clip stretched in time and shifted in pitch still probes most of
    /// the index's triplets of the same stretch of peaks.
    #[test]
    fn transformed_peaks_probe_the_index_triplets() {
        let reference = sample_peaks();
        let want: std::collections::HashSet<u32> = index_triplets(&reference, &TripletParams::index())
            .into_iter()
            .map(|x| x.0)
            .collect();
        for (tempo, cents) in [
            (1.0f32, 0.0f32),
            (1.1, 0.0),
            (0.9, 0.0),
            (1.0, 200.0),
            (1.0, -200.0),
            (1.12, 196.0),
        ] {
            let ratio = 2f32.powf(cents / 1200.0);
            let clip: Vec<Peak> = reference
                .iter()
                .map(|p| pk((p.time as f32 / tempo).round() as u32, p.bin() * ratio))
                .collect();
            let got: std::collections::HashSet<u32> = query_triplets(&clip, &TripletParams::query())
                .into_iter()
                .map(|x| x.hash)
                .collect();
            let found = want.iter().filter(|h| got.contains(h)).count();
            assert!(
                found * 10 > want.len() * 6,
                "tempo {tempo} cents {cents}: {found} of {}",
                want.len()
            );
        }
    }

    #[test]
    fn degenerate_peaks_make_no_triplets() {
        // One frame, or frequencies below a bin: nothing to hash.
        let same_frame: Vec<Peak> = (0..10).map(|i| pk(5, 40.0 + i as f32)).collect();
        assert!(index_triplets(&same_frame, &TripletParams::index()).is_empty());
        let silent: Vec<Peak> = (0..10)
            .map(|i| Peak {
                time: i * 10,
                freq16: 0,
            })
            .collect();
        assert!(query_triplets(&silent, &TripletParams::query()).is_empty());
    }
}

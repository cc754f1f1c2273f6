//! The synthetic copy both library growers make (`synth_library`,
//! `scale_library`): a source track's peaks with every peak moved by -1, 0
//! or +1 bin at random, sorted as the index stores them, so most of the
//! copy's hashes differ from the source's and the buckets grow as they
//! would with new music.

use sonica_schema::Peak;

/// `peaks` perturbed, drawing from the xorshift state `rng`.
pub fn perturbed(peaks: &[Peak], rng: &mut u32) -> Vec<Peak> {
    let mut out: Vec<Peak> = peaks
        .iter()
        .map(|p| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 17;
            *rng ^= *rng << 5;
            let shift = (*rng % 3) as i32 - 1;
            Peak {
                time: p.time,
                freq16: (i32::from(p.freq16) + shift * 16).clamp(16, i32::from(u16::MAX)) as u16,
            }
        })
        .collect();
    out.sort_unstable();
    out
}

//! From raw figures to comparable vectors: centring, scaling, L2 norm, and
//! the mixed (timbre + rhythm) vector.
//!
//! Raw figures have units (Hz octaves, dB, ratios) and typical values far
//! from zero; cosine similarity of raw vectors would say every track sounds
//! like every other. Each component is centred on its typical value and
//! divided by its typical spread (both fixed, measured on music and written
//! next to each vector's definition), clipped at ±[`CLIP`] so one extreme
//! figure cannot dominate, and the whole vector is scaled to unit length.

use sonica_schema::{TrackAnalysis, RHYTHM_DIM, TIMBRE_DIM};

/// Length of the mixed vector.
pub const MIXED_DIM: usize = TIMBRE_DIM + RHYTHM_DIM;
/// Share of the mixed vector's squared length given to timbre (the rest is rhythm).
pub const MIXED_TIMBRE_WEIGHT: f32 = 0.5;
/// Standardised components are clipped to this many spreads.
const CLIP: f64 = 4.0;

/// Fixed centre and spread of each raw component.
pub struct NormStats<const N: usize> {
    pub centre: [f64; N],
    pub scale: [f64; N],
}

/// Standardises `raw` with `stats` and L2-normalises it. Never returns a zero
/// or non-finite vector: a degenerate input gives a fixed unit vector.
pub fn normalise<const N: usize>(raw: &[f64], stats: &NormStats<N>) -> Vec<f32> {
    let z: Vec<f64> = (0..N)
        .map(|i| {
            let x = raw.get(i).copied().unwrap_or(0.0);
            let x = if x.is_finite() { x } else { stats.centre[i] };
            ((x - stats.centre[i]) / stats.scale[i].max(1e-9)).clamp(-CLIP, CLIP)
        })
        .collect();
    unit(&z)
}

/// Scales to unit length; a zero vector becomes the uniform unit vector.
pub fn unit(z: &[f64]) -> Vec<f32> {
    let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        z.iter().map(|v| (v / norm) as f32).collect()
    } else {
        let u = 1.0 / (z.len().max(1) as f64).sqrt();
        vec![u as f32; z.len()]
    }
}

/// Timbre and rhythm in one unit vector, [`MIXED_DIM`] long: the two unit
/// vectors weighted so that timbre has [`MIXED_TIMBRE_WEIGHT`] of the squared length.
pub fn mixed_vector(a: &TrackAnalysis) -> Vec<f32> {
    let wt = f64::from(MIXED_TIMBRE_WEIGHT).sqrt();
    let wr = (1.0 - f64::from(MIXED_TIMBRE_WEIGHT)).sqrt();
    let part = |v: &[f32], dim: usize| -> Vec<f64> {
        let mut x: Vec<f64> = v
            .iter()
            .take(dim)
            .map(|&f| if f.is_finite() { f64::from(f) } else { 0.0 })
            .collect();
        x.resize(dim, 0.0);
        let n = x.iter().map(|f| f * f).sum::<f64>().sqrt();
        if n > 1e-12 {
            x.iter_mut().for_each(|f| *f /= n);
        }
        x
    };
    let mut z: Vec<f64> = part(&a.timbre, TIMBRE_DIM).into_iter().map(|v| v * wt).collect();
    z.extend(part(&a.rhythm_vector, RHYTHM_DIM).into_iter().map(|v| v * wr));
    unit(&z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_vectors_have_unit_length_even_when_degenerate() {
        let stats = NormStats::<3> {
            centre: [1.0, 2.0, 3.0],
            scale: [1.0, 1.0, 0.0],
        };
        for raw in [
            vec![4.0, -2.0, 3.5],
            vec![1.0, 2.0, 3.0],
            vec![f64::NAN, f64::INFINITY, 0.0],
            vec![],
        ] {
            let v = normalise(&raw, &stats);
            assert_eq!(v.len(), 3);
            let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-5, "{raw:?} → {v:?}");
        }
    }
}

//! Deterministic test vectors shaped like music features.
//!
//! Uniform random unit vectors are all nearly orthogonal in 40 dimensions,
//! which makes ANN search both too easy to fool and unlike real features;
//! these are a Gaussian mixture (points around cluster centres), seeded so a
//! failing test fails the same way every run.

/// splitmix64: tiny, seedable, good enough for test data.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f32 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

pub(crate) fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

/// `n` unit vectors with ids `0..n` around `n / 40 + 2` centres.
pub(crate) fn clustered(n: usize, dim: usize, seed: u64) -> Vec<(u32, Vec<f32>)> {
    let mut rng = Rng::new(seed);
    let centres: Vec<Vec<f32>> = (0..n / 40 + 2)
        .map(|_| (0..dim).map(|_| rng.normal()).collect())
        .collect();
    (0..n as u32)
        .map(|id| {
            let centre = &centres[rng.below(centres.len())];
            let mut v: Vec<f32> = centre.iter().map(|c| c + 0.35 * rng.normal()).collect();
            normalise(&mut v);
            (id, v)
        })
        .collect()
}

/// A unit vector close to `v` (noise of scale `eps`).
pub(crate) fn near(v: &[f32], eps: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<f32> = v.iter().map(|x| x + eps * rng.normal()).collect();
    normalise(&mut out);
    out
}

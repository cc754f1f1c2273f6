//! Analysis windows.
//!
//! One periodic Hann window serves every spectrum in Sonica. It is computed
//! in single precision, exactly as the fingerprint always computed it: the
//! stored peaks depend on these values to the last bit.

/// Periodic Hann window of `n` samples.
pub fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n as f32).cos())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_hann_shape() {
        let w = hann(8);
        assert_eq!(w.len(), 8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-6);
        assert!((w[2] - 0.5).abs() < 1e-6 && (w[6] - 0.5).abs() < 1e-6);
    }
}

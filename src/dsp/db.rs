//! Decibels.
//!
//! Power spectra stay linear as long as they can (maxima and sums do not
//! need logarithms); these turn the few values that need it into dB.

/// 10·log10(p) for a power, via the exponent bits and a polynomial for the
/// mantissa's log (error well under 0.01 dB). The exact logarithm was a
/// visible share of ingest time. Powers below 1e-12 count as 1e-12.
#[inline]
pub fn power_db(p: f32) -> f32 {
    let p = p.max(1e-12);
    let bits = p.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Polynomial for ln(m), m in [1, 2).
    let ln_m = -1.741_793_9 + (2.821_202_6 + (-1.469_956_8 + (0.447_179_55 - 0.056_570_85 * m) * m) * m) * m;
    3.010_3 * exp as f32 + 4.342_944_8 * ln_m
}

/// 20·log10(a) for a linear amplitude, exact, never below `floor` (which
/// also stands for zero and non-finite input).
pub fn amplitude_db(a: f64, floor: f64) -> f64 {
    if a > 0.0 && a.is_finite() {
        (20.0 * a.log10()).max(floor)
    } else {
        floor
    }
}

/// 10·log10(e) for an energy or power, exact, never below `floor` (which
/// also stands for zero and non-finite input).
pub fn energy_db(e: f64, floor: f64) -> f64 {
    if e > 0.0 && e.is_finite() {
        (10.0 * e.log10()).max(floor)
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_power_db_is_accurate() {
        for p in [1e-9f32, 0.001, 0.5, 1.0, 3.0, 12345.0, 6.5e4] {
            assert!((power_db(p) - 10.0 * p.log10()).abs() < 0.01, "{p}");
        }
        assert!((power_db(0.0) + 120.0).abs() < 0.01);
    }

    #[test]
    fn amplitude_db_has_a_floor() {
        assert!((amplitude_db(0.5, -120.0) + 6.0206).abs() < 1e-3);
        assert_eq!(amplitude_db(0.0, -120.0), -120.0);
        assert_eq!(amplitude_db(1e-9, -120.0), -120.0);
        assert_eq!(amplitude_db(f64::NAN, -120.0), -120.0);
        assert!((energy_db(0.25, -120.0) + 6.0206).abs() < 1e-3);
        assert_eq!(energy_db(0.0, -120.0), -120.0);
    }
}

//! A harmonic-distortion (THD) estimate, where one can be made.
//!
//! THD is the power of a tone's harmonics against its fundamental. In a
//! full mix every instrument brings harmonics of its own, so no number
//! from a mix would mean distortion. It is meaningful only where a
//! steady single tone holds the frame: a test tone, a held sub-bass, a
//! sine sweep. So a frame counts only when its strongest peak (40 Hz to
//! 5 kHz) and that peak's harmonics hold nearly all of its power
//! ([`TONAL_SHARE`]). The estimate is the median over such frames, and
//! there is none unless [`MIN_FRAMES`] of them are found.

/// Share of a frame's power the tone and its harmonics must hold.
pub const TONAL_SHARE: f64 = 0.97;
/// Frames needed for an estimate (about half a second at a 93 ms hop).
pub const MIN_FRAMES: usize = 5;
/// Harmonics counted: the 2nd to the 5th.
const HARMONICS: std::ops::RangeInclusive<usize> = 2..=5;
/// Bins either side of a peak that belong to it (a Hann window's main
/// lobe is two bins wide each way; one more for frequency drift).
const LOBE: usize = 3;
/// Frames quieter than this (the tone's power, dB re full-scale sine) are
/// not judged.
const QUIET_DB: f64 = -60.0;

/// The THD of one frame as a ratio (harmonic amplitude over fundamental),
/// or `None` when the frame is not one steady tone. `power[k]` is bin
/// `k`'s power (full-scale sine = 1 summed over its lobe), bins `bin_hz`
/// apart.
pub fn frame_thd(power: &[f32], bin_hz: f64) -> Option<f64> {
    let k = |hz: f64| (hz / bin_hz).round() as usize;
    let lo = k(20.0).max(1);
    let hi = k(20_000.0).min(power.len().saturating_sub(1));
    if hi <= lo + 2 * LOBE {
        return None;
    }
    let total: f64 = power[lo..=hi].iter().map(|&p| f64::from(p)).sum();
    let (f_lo, f_hi) = (k(40.0).max(lo + LOBE), k(5_000.0).min(hi - LOBE));
    if f_hi <= f_lo {
        return None;
    }
    let peak = (f_lo..=f_hi).max_by(|&a, &b| power[a].total_cmp(&power[b]))?;
    let lobe = |c: usize| -> f64 {
        let (a, b) = (c.saturating_sub(LOBE).max(lo), (c + LOBE).min(hi));
        power[a..=b].iter().map(|&p| f64::from(p)).sum()
    };
    let fundamental = lobe(peak);
    if fundamental <= 0.0 || 10.0 * fundamental.log10() < QUIET_DB {
        return None;
    }
    // The peak's centre between bins (parabola through the log powers).
    let ln = |i: usize| f64::from(power[i]).max(1e-30).ln();
    let (a, b, c) = (ln(peak - 1), ln(peak), ln(peak + 1));
    let denom = a - 2.0 * b + c;
    let offset = if denom.abs() > 1e-12 {
        (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let centre = peak as f64 + offset;
    let mut harmonics = 0.0;
    for h in HARMONICS {
        let at = (centre * h as f64).round() as usize;
        if at + LOBE > hi {
            break;
        }
        harmonics += lobe(at);
    }
    if fundamental + harmonics < TONAL_SHARE * total {
        return None;
    }
    Some((harmonics / fundamental).sqrt())
}

/// The estimate over the frames' THDs: the median, in percent, when there
/// are enough of them.
pub fn estimate(frames: &mut [f64]) -> Option<f64> {
    if frames.len() < MIN_FRAMES {
        return None;
    }
    frames.sort_by(f64::total_cmp);
    Some(frames[frames.len() / 2] * 100.0)
}

#[cfg(test)]
mod tests {
    use crate::mastering::measure;

    const RATE: u32 = 44_100;

    fn tone(parts: &[(f64, f64)], secs: f64) -> Vec<f32> {
        (0..(secs * f64::from(RATE)) as usize)
            .flat_map(|i| {
                let t = i as f64 / f64::from(RATE);
                let x: f64 = parts
                    .iter()
                    .map(|&(hz, a)| a * (2.0 * std::f64::consts::PI * hz * t).sin())
                    .sum();
                [x as f32, x as f32]
            })
            .collect()
    }

    #[test]
    fn a_clean_tone_reads_near_zero_and_known_harmonics_read_as_themselves() {
        let clean = measure(&tone(&[(997.0, 0.5)], 3.0), RATE, 2).unwrap();
        let thd = clean.harmonic_distortion_pct.expect("a steady tone is judged");
        assert!(thd < 0.5, "clean tone: {thd} %");
        // 10 % THD: a third harmonic at a tenth of the amplitude.
        let dirty = measure(&tone(&[(441.0, 0.5), (1323.0, 0.05)], 3.0), RATE, 2).unwrap();
        let thd = dirty.harmonic_distortion_pct.unwrap();
        assert!((thd - 10.0).abs() < 1.0, "10 % THD read as {thd} %");
        // 3 % across two harmonics.
        let two = measure(&tone(&[(220.0, 0.5), (440.0, 0.012), (660.0, 0.0092)], 3.0), RATE, 2).unwrap();
        let thd = two.harmonic_distortion_pct.unwrap();
        let want = 100.0 * (0.012f64.powi(2) + 0.0092f64.powi(2)).sqrt() / 0.5;
        assert!((thd - want).abs() < 0.5, "{want:.2} % read as {thd} %");
    }

    #[test]
    fn a_mix_of_unrelated_tones_is_not_judged() {
        let chord = measure(&tone(&[(220.0, 0.3), (277.2, 0.3), (329.6, 0.3)], 3.0), RATE, 2).unwrap();
        assert_eq!(chord.harmonic_distortion_pct, None);
    }
}

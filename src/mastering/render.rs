//! Renders a suggestion so it can be heard: the EQ curve as a linear-phase
//! FIR (designed by frequency sampling and applied by FFT overlap-add with
//! rustfft), the loudness change, and a look-ahead limiter that holds the
//! true peak at or below the ceiling.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::compare::EqPoint;

/// FIR length, a power of two: at 44.1 kHz, 5.4 Hz apart, fine enough for
/// the 25 Hz band.
fn taps_for(rate: u32) -> usize {
    ((f64::from(rate) * 0.186) as usize)
        .next_power_of_two()
        .clamp(1024, 32_768)
}

/// The curve's gain at `hz`, dB: linear in log-frequency between the
/// points, flat beyond the ends.
pub fn gain_at(curve: &[EqPoint], hz: f64) -> f64 {
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
        return 0.0;
    };
    if hz <= first.hz {
        return first.gain_db;
    }
    if hz >= last.hz {
        return last.gain_db;
    }
    let i = curve.partition_point(|p| p.hz <= hz);
    let (a, b) = (curve[i - 1], curve[i]);
    let t = (hz.log2() - a.hz.log2()) / (b.hz.log2() - a.hz.log2());
    a.gain_db + (b.gain_db - a.gain_db) * t
}

/// A linear-phase FIR realising `curve` at `rate`.
pub fn design_fir(curve: &[EqPoint], rate: u32) -> Vec<f32> {
    let n = taps_for(rate);
    let mut h: Vec<Complex32> = (0..n)
        .map(|k| {
            let k = k.min(n - k);
            let hz = k as f64 * f64::from(rate) / n as f64;
            Complex32::new(10f64.powf(gain_at(curve, hz.max(1.0)) / 20.0) as f32, 0.0)
        })
        .collect();
    FftPlanner::new().plan_fft_inverse(n).process(&mut h);
    // Zero phase → linear phase (centre the impulse), then a Blackman window.
    let mut fir: Vec<f32> = (0..n).map(|i| h[(i + n / 2) % n].re / n as f32).collect();
    for (i, c) in fir.iter_mut().enumerate() {
        let x = 2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32;
        *c *= 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos();
    }
    fir
}

/// Convolves one channel with `fir` by FFT overlap-add; the output has the
/// input's length and is aligned with it (the FIR's delay removed).
fn convolve(x: &[f32], fir: &[f32], fwd: &Arc<dyn Fft<f32>>, inv: &Arc<dyn Fft<f32>>, fir_f: &[Complex32]) -> Vec<f32> {
    let m = fir.len();
    let size = fir_f.len();
    let block = size - m + 1;
    let delay = m / 2;
    let mut out = vec![0.0f32; x.len() + m];
    let mut buf = vec![Complex32::new(0.0, 0.0); size];
    for (bi, chunk) in x.chunks(block).enumerate() {
        buf.iter_mut().for_each(|c| *c = Complex32::new(0.0, 0.0));
        for (i, &s) in chunk.iter().enumerate() {
            buf[i].re = s;
        }
        fwd.process(&mut buf);
        for (b, f) in buf.iter_mut().zip(fir_f) {
            *b *= *f;
        }
        inv.process(&mut buf);
        let start = bi * block;
        for (i, c) in buf.iter().enumerate().take(chunk.len() + m - 1) {
            if let Some(o) = out.get_mut(start + i) {
                *o += c.re / size as f32;
            }
        }
    }
    out.drain(..delay);
    out.truncate(x.len());
    out
}

/// Applies `curve` to interleaved audio (same length, no delay).
pub fn equalise(interleaved: &[f32], channels: usize, rate: u32, curve: &[EqPoint]) -> Vec<f32> {
    let ch = channels.max(1);
    let frames = interleaved.len() / ch;
    let fir = design_fir(curve, rate);
    let size = (2 * fir.len()).next_power_of_two();
    let mut planner = FftPlanner::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut fir_f: Vec<Complex32> = (0..size)
        .map(|i| Complex32::new(fir.get(i).copied().unwrap_or(0.0), 0.0))
        .collect();
    fwd.process(&mut fir_f);
    let mut out = vec![0.0f32; frames * ch];
    for c in 0..ch {
        let x: Vec<f32> = (0..frames).map(|i| interleaved[i * ch + c]).collect();
        for (i, s) in convolve(&x, &fir, &fwd, &inv, &fir_f).into_iter().enumerate() {
            out[i * ch + c] = s;
        }
    }
    out
}

/// Applies `gain_db`, then the limiter at `ceiling_dbtp`.
pub fn gain_and_limit(x: &mut [f32], channels: usize, rate: u32, gain_db: f64, ceiling_dbtp: f64) {
    let g = 10f64.powf(gain_db / 20.0) as f32;
    x.iter_mut().for_each(|s| *s *= g);
    limit(x, channels.max(1), rate, ceiling_dbtp);
}

/// [`equalise`], then [`gain_and_limit`].
pub fn render(
    interleaved: &[f32],
    channels: usize,
    rate: u32,
    curve: &[EqPoint],
    gain_db: f64,
    ceiling_dbtp: f64,
) -> Vec<f32> {
    let mut y = equalise(interleaved, channels, rate, curve);
    gain_and_limit(&mut y, channels, rate, gain_db, ceiling_dbtp);
    y
}

/// [`equalise`], then the gain that brings the result to `lufs` (measured
/// on the equalised audio, since the curve moves the loudness too), then
/// the limiter. Returns the audio and the gain applied.
pub fn render_to_loudness(
    interleaved: &[f32],
    channels: usize,
    rate: u32,
    curve: &[EqPoint],
    lufs: f64,
    ceiling_dbtp: f64,
) -> Result<(Vec<f32>, f64), crate::analysis::error::AnalysisError> {
    let mut y = equalise(interleaved, channels, rate, curve);
    let mut meter = crate::analysis::loudness::LoudnessMeter::new(rate, channels.clamp(1, 2) as u16)?;
    meter.push(&y)?;
    let now = meter.finish().loudness.integrated_lufs;
    let gain = if now > -70.0 {
        (lufs - now).clamp(-24.0, 24.0)
    } else {
        0.0
    };
    gain_and_limit(&mut y, channels, rate, gain, ceiling_dbtp);
    Ok((y, gain))
}

/// Half-length of the interpolation kernel of [`frame_peaks`], samples.
const SINC_HALF: usize = 16;

/// Each frame's peak over its channels, 4× oversampled: the sample itself
/// and the band-limited (windowed-sinc) values a quarter, a half and three
/// quarters of a sample either side, as BS.1770's true-peak meter looks.
fn frame_peaks(x: &[f32], ch: usize) -> Vec<f32> {
    let frames = x.len() / ch;
    let kernel: Vec<[f32; 2 * SINC_HALF]> = [0.25f32, 0.5, 0.75]
        .iter()
        .map(|&frac| {
            let mut k = [0.0f32; 2 * SINC_HALF];
            for (j, v) in k.iter_mut().enumerate() {
                let t = j as f32 - (SINC_HALF as f32 - 1.0) - frac;
                let sinc = if t == 0.0 {
                    1.0
                } else {
                    (std::f32::consts::PI * t).sin() / (std::f32::consts::PI * t)
                };
                let w = 0.5 + 0.5 * (std::f32::consts::PI * t / SINC_HALF as f32).cos();
                *v = sinc * w;
            }
            k
        })
        .collect();
    let mut peaks = vec![0.0f32; frames];
    for c in 0..ch {
        let at = |i: isize| {
            if i >= 0 && (i as usize) < frames {
                x[i as usize * ch + c]
            } else {
                0.0
            }
        };
        for i in 0..frames {
            let mut p = x[i * ch + c].abs();
            // Between frame i and i+1.
            for k in &kernel {
                let mut v = 0.0f32;
                for (j, w) in k.iter().enumerate() {
                    v += w * at(i as isize + j as isize - (SINC_HALF as isize - 1));
                }
                p = p.max(v.abs());
            }
            peaks[i] = peaks[i].max(p);
            if i + 1 < frames {
                peaks[i + 1] = peaks[i + 1].max(p);
            }
        }
    }
    peaks
}

/// A look-ahead limiter: the gain each frame needs to keep its 4×
/// oversampled peak under the ceiling, its minimum over ±5 ms, smoothed
/// over 5 ms, and released over 150 ms (slow enough not to colour the mix). The smoothing window is inside the
/// minimum's, so every frame gets at most the gain it needs.
pub fn limit(x: &mut [f32], ch: usize, rate: u32, ceiling_dbtp: f64) {
    // A small margin for what 4× oversampling still misses.
    let ceiling = 10f64.powf((ceiling_dbtp - 0.3) / 20.0) as f32;
    let frames = x.len() / ch;
    if frames == 0 {
        return;
    }
    let need: Vec<f32> = frame_peaks(x, ch)
        .into_iter()
        .map(|peak| if peak > ceiling { ceiling / peak } else { 1.0 })
        .collect();
    if need.iter().all(|&g| g >= 1.0) {
        return;
    }
    let r = ((f64::from(rate) * 0.005) as usize).max(1);
    // Minimum over ±r (a deque would be O(n); blocks of need are sparse, so
    // a direct scan around each reducing frame is enough).
    let mut minimum = vec![1.0f32; frames];
    for (i, &g) in need.iter().enumerate() {
        if g < 1.0 {
            for m in &mut minimum[i.saturating_sub(r)..(i + r + 1).min(frames)] {
                *m = m.min(g);
            }
        }
    }
    // Smooth over ±r/2 (each averaged value already covers the centre).
    let h = (r / 2).max(1);
    let mut prefix = vec![0.0f64; frames + 1];
    for i in 0..frames {
        prefix[i + 1] = prefix[i] + f64::from(minimum[i]);
    }
    let release = (-1.0 / (f64::from(rate) * 0.15)).exp() as f32;
    let mut held = 1.0f32;
    for i in 0..frames {
        let (lo, hi) = (i.saturating_sub(h), (i + h + 1).min(frames));
        let smooth = ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32;
        // Release: recover slowly, never above what is needed here.
        held = (held * release + (1.0 - release)).min(smooth.min(minimum[i]));
        for c in 0..ch {
            x[i * ch + c] *= held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mastering::measure;
    use sonica_schema::mastering::THIRD_OCTAVE_HZ;

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.5
            })
            .collect()
    }

    #[test]
    fn the_fir_realises_the_curve_within_a_decibel() {
        let rate = 44_100;
        let curve: Vec<EqPoint> = THIRD_OCTAVE_HZ
            .iter()
            .map(|&hz| EqPoint {
                hz,
                gain_db: if (80.0..=160.0).contains(&hz) {
                    4.0
                } else if hz >= 4000.0 {
                    -3.0
                } else {
                    0.0
                },
            })
            .collect();
        let x = noise(rate as usize * 10 * 2, 7);
        let y = render(&x, 2, rate, &curve, 0.0, 0.0);
        let (a, b) = (measure(&x, rate, 2).unwrap(), measure(&y, rate, 2).unwrap());
        for (i, (ba, bb)) in a.bands.iter().zip(&b.bands).enumerate().skip(2) {
            let want = gain_at(&curve, ba.centre_hz);
            let got = bb.mid_db - ba.mid_db;
            assert!(
                (got - want).abs() < 1.0,
                "band {i} {} Hz: {got:.2} dB, want {want:.2}",
                ba.centre_hz
            );
        }
    }

    #[test]
    fn the_limiter_holds_the_ceiling() {
        let rate = 44_100;
        let x: Vec<f32> = noise(rate as usize * 4, 3).iter().map(|s| s * 4.0).collect();
        let flat: Vec<EqPoint> = vec![EqPoint {
            hz: 1000.0,
            gain_db: 0.0,
        }];
        let y = render(&x, 1, rate, &flat, 6.0, -1.0);
        let p = measure(&y, rate, 1).unwrap();
        assert!(p.true_peak_dbtp <= -1.0 + 0.05, "{}", p.true_peak_dbtp);
        assert_eq!(y.len(), x.len());
        assert_eq!(gain_at(&[], 100.0), 0.0);
    }
}

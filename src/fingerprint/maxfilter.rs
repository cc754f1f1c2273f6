//! Sliding-window maximum (van Herk / Gil-Werman): three comparisons per
//! element whatever the window, which keeps 2-D peak picking linear. The
//! scratch buffers are reused across frames: this runs once per frame.

/// Reusable sliding-max state.
#[derive(Default)]
pub struct SlidingMax {
    g: Vec<f32>,
    h: Vec<f32>,
}

impl SlidingMax {
    /// `out[i] = max(x[i-r ..= i+r])`, with out-of-range positions ignored.
    pub fn run(&mut self, x: &[f32], r: usize, out: &mut Vec<f32>) {
        let n = x.len();
        out.clear();
        if n == 0 {
            return;
        }
        let w = 2 * r + 1;
        // g: running max from each block start; h: running max to each block end.
        self.g.clear();
        self.g.resize(n, 0.0);
        self.h.clear();
        self.h.resize(n, 0.0);
        let (g, h) = (&mut self.g, &mut self.h);
        let mut start = 0;
        while start < n {
            let end = (start + w).min(n);
            let mut m = f32::NEG_INFINITY;
            for i in start..end {
                m = max(m, x[i]);
                g[i] = m;
            }
            let mut m = f32::NEG_INFINITY;
            for i in (start..end).rev() {
                m = max(m, x[i]);
                h[i] = m;
            }
            start = end;
        }
        out.reserve(n);
        for i in 0..n {
            let lo = i.saturating_sub(r);
            let hi = (i + r).min(n - 1);
            // A full window [lo, hi] spans at most two blocks: h[lo] covers
            // lo..its block end, g[hi] covers hi's block start..hi. Windows
            // clipped by an edge may sit inside one block; a direct max is
            // exact there and only r elements per side take that path.
            let v = if hi - lo + 1 == w {
                max(h[lo], g[hi])
            } else {
                x[lo..=hi].iter().copied().fold(f32::NEG_INFINITY, f32::max)
            };
            out.push(v);
        }
    }
}

/// `f32::max` without its NaN handling (spectra are never NaN), which
/// lets the loops above compile to plain compares.
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive() {
        let x: Vec<f32> = (0..97).map(|i| ((i * 37 % 23) as f32).sin() * 10.0).collect();
        let mut sm = SlidingMax::default();
        #[allow(clippy::needless_range_loop)]
        for r in [0usize, 1, 3, 7, 50] {
            let mut out = Vec::new();
            sm.run(&x, r, &mut out);
            for i in 0..x.len() {
                let lo = i.saturating_sub(r);
                let hi = (i + r).min(x.len() - 1);
                let m = x[lo..=hi].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(out[i], m, "r={r} i={i}");
            }
        }
    }
}

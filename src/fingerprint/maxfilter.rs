//! Sliding-window maximum (van Herk / Gil-Werman): three comparisons per
//! element whatever the window, which keeps 2-D peak picking linear.

/// `out[i] = max(x[i-r ..= i+r])`, with out-of-range positions ignored.
pub fn sliding_max(x: &[f32], r: usize, out: &mut Vec<f32>) {
    let n = x.len();
    out.clear();
    out.resize(n, f32::NEG_INFINITY);
    if n == 0 {
        return;
    }
    let w = 2 * r + 1;
    // g: running max from each block start; h: running max to each block end.
    let mut g = vec![f32::NEG_INFINITY; n];
    let mut h = vec![f32::NEG_INFINITY; n];
    for i in 0..n {
        g[i] = if i % w == 0 { x[i] } else { g[i - 1].max(x[i]) };
    }
    for i in (0..n).rev() {
        h[i] = if i == n - 1 || (i + 1) % w == 0 { x[i] } else { h[i + 1].max(x[i]) };
    }
    for (i, o) in out.iter_mut().enumerate() {
        let lo = i.saturating_sub(r);
        let hi = (i + r).min(n - 1);
        // Window [lo, hi] spans at most two blocks: h[lo] covers lo..block end,
        // g[hi] covers block start..hi.
        *o = if hi - lo + 1 == w || lo / w != hi / w {
            h[lo].max(g[hi])
        } else {
            x[lo..=hi].iter().copied().fold(f32::NEG_INFINITY, f32::max)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive() {
        let x: Vec<f32> = (0..97).map(|i| ((i * 37 % 23) as f32).sin() * 10.0).collect();
        for r in [0usize, 1, 3, 7, 50] {
            let mut out = Vec::new();
            sliding_max(&x, r, &mut out);
            for i in 0..x.len() {
                let lo = i.saturating_sub(r);
                let hi = (i + r).min(x.len() - 1);
                let m = x[lo..=hi].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(out[i], m, "r={r} i={i}");
            }
        }
    }
}

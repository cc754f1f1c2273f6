//! What a mix is compared against: a target built from reference profiles
//! (one user's references, or a genre's), and how much the comparison
//! says. These are data: built-in genre targets ship as JSON in this
//! shape, and every stored analysis keeps the target it was judged by, so
//! reading it back later gives the same answer even after the references
//! change.

use serde::{Deserialize, Serialize};

/// How much the assistant says (`recommendation_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The differences only.
    Informative,
    /// What lies outside the target's range.
    Suggestive,
    /// Concrete moves in dB, with a confidence and the EQ curve.
    Prescriptive,
}

impl Level {
    /// Parses `informative`, `suggestive` or `prescriptive` (any case).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "informative" => Some(Level::Informative),
            "suggestive" => Some(Level::Suggestive),
            "prescriptive" => Some(Level::Prescriptive),
            _ => None,
        }
    }
}

/// A range of the references: median and 10th–90th percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

impl Spread {
    /// The spread of `xs` (non-finite values ignored; all zero when none
    /// is left). The range reaches at least `tolerance` either side of the
    /// median, whatever the count: one reference, or several that agree
    /// closely, must not make a range narrower than the measurement's own
    /// precision (0.1 LU apart would otherwise read as "outside").
    pub fn of(mut xs: Vec<f64>, tolerance: f64) -> Spread {
        xs.retain(|x| x.is_finite());
        if xs.is_empty() {
            return Spread {
                median: 0.0,
                p10: 0.0,
                p90: 0.0,
            };
        }
        xs.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = (xs.len() - 1) as f64 * p;
            let (i, f) = (pos.floor() as usize, pos.fract());
            xs[i] + (xs[(i + 1).min(xs.len() - 1)] - xs[i]) * f
        };
        let median = q(0.5);
        Spread {
            median,
            p10: q(0.1).min(median - tolerance),
            p90: q(0.9).max(median + tolerance),
        }
    }

    fn is_finite(&self) -> bool {
        self.median.is_finite() && self.p10.is_finite() && self.p90.is_finite()
    }
}

/// A band of the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandTarget {
    pub centre_hz: f64,
    /// Mid level minus integrated loudness, dB.
    pub level: Spread,
    /// Side minus mid, dB.
    pub side: Spread,
}

/// What a mix is compared against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// How many reference profiles it was built from.
    pub references: usize,
    pub lufs: Spread,
    pub lra_lu: Spread,
    pub crest_db: Spread,
    pub width: Spread,
    /// The DR figure's spread; `None` in targets made before it was kept.
    #[serde(default)]
    pub dr: Option<Spread>,
    /// One per third-octave band ([`crate::mastering::THIRD_OCTAVE_HZ`]).
    pub bands: Vec<BandTarget>,
}

impl Target {
    /// Whether the target is whole: one band per third octave and only
    /// finite numbers. Built-in targets and stored analyses are checked
    /// with it, so a damaged file cannot reach the comparison.
    pub fn is_valid(&self) -> bool {
        self.references > 0
            && self.bands.len() == crate::mastering::BANDS
            && [self.lufs, self.lra_lu, self.crest_db, self.width]
                .iter()
                .chain(self.dr.as_ref())
                .all(Spread::is_finite)
            && self
                .bands
                .iter()
                .all(|b| b.centre_hz.is_finite() && b.level.is_finite() && b.side.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_interpolate_and_widen_a_single_value() {
        let s = Spread::of(vec![4.0, 1.0, 3.0, 2.0, f64::NAN], 1.0);
        assert_eq!(s.median, 2.5);
        assert!((s.p10 - 1.3).abs() < 1e-9 && (s.p90 - 3.7).abs() < 1e-9);
        let one = Spread::of(vec![-10.0], 2.0);
        assert_eq!((one.p10, one.median, one.p90), (-12.0, -10.0, -8.0));
        let close = Spread::of(vec![0.8, 0.8, 0.81], 1.0);
        assert!(close.p10 <= -0.19 && close.p90 >= 1.79, "{close:?}");
        assert_eq!(Spread::of(vec![], 1.0).median, 0.0);
    }

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!(Level::parse(" Prescriptive "), Some(Level::Prescriptive));
        assert_eq!(Level::parse("loud"), None);
    }
}

//! A mix against a target: the target is built from reference profiles
//! (per third-octave band, the median and 10th–90th percentile range of
//! the loudness-normalised level), and the mix is compared band by band
//! and overall. The answer says as much as the `recommendation_level`
//! asks for, each recommendation with the numbers it rests on, and, when
//! prescriptive, the EQ curve and gain that would close the gap.

use serde::Serialize;
use sonica_schema::mastering::{band_edges, MasteringProfile, BANDS, THIRD_OCTAVE_HZ};
pub use sonica_schema::mastering_target::{BandTarget, Level, Spread, Target};

/// The most the EQ curve moves a band, dB.
pub const MAX_EQ_DB: f64 = 6.0;
/// Differences below this are not worth a word, dB.
pub const DEAD_ZONE_DB: f64 = 1.0;
/// A band's range reaches at least this either side of its median, dB
/// (one reference, or several that agree closely).
const BAND_TOLERANCE_DB: f64 = 1.0;
/// Bands more than this below the loudest band (of the target or the mix)
/// carry too little to judge (an MP3's empty top octave, say), dB.
const MEANINGFUL_DB: f64 = 50.0;
/// Harmonic distortion above this in steady tones is worth a word, %.
pub const MAX_THD_PCT: f64 = 1.0;
/// Streaming platforms' loudness norm and true-peak ceiling.
pub const PLATFORM_LUFS: f64 = -14.0;
pub const PLATFORM_TRUE_PEAK_DBTP: f64 = -1.0;

/// Loudness-normalised band levels of a profile: the mid signal's level
/// minus LUFS. The balance is read on the mid alone (as Matchering does):
/// a change of width moves the side, and must not read as an EQ move.
fn relative_levels(p: &MasteringProfile) -> Vec<f64> {
    p.bands.iter().map(|b| b.mid_db - p.lufs).collect()
}

/// A range of a quantity that cannot go below zero (width, LRA, crest):
/// the margin around the median stops at 0.
fn non_negative(s: Spread) -> Spread {
    Spread {
        p10: s.p10.max(0.0),
        ..s
    }
}

/// The target of a set of reference profiles (at least one).
pub fn target_of(refs: &[&MasteringProfile]) -> Target {
    let t = BAND_TOLERANCE_DB;
    let levels: Vec<Vec<f64>> = refs.iter().map(|r| relative_levels(r)).collect();
    let bands = (0..BANDS)
        .map(|b| BandTarget {
            centre_hz: THIRD_OCTAVE_HZ[b],
            level: Spread::of(
                levels.iter().map(|l| l.get(b).copied().unwrap_or(f64::NAN)).collect(),
                t,
            ),
            side: Spread::of(
                refs.iter()
                    .filter(|r| r.channels == 2)
                    .filter_map(|r| r.bands.get(b).map(|x| x.side_db - x.mid_db))
                    .collect(),
                3.0,
            ),
        })
        .collect();
    Target {
        references: refs.len(),
        lufs: Spread::of(refs.iter().map(|r| r.lufs).collect(), 1.0),
        lra_lu: non_negative(Spread::of(refs.iter().map(|r| r.lra_lu).collect(), 1.5)),
        crest_db: non_negative(Spread::of(refs.iter().map(|r| r.crest_db).collect(), 1.5)),
        dr: Some(non_negative(Spread::of(refs.iter().map(|r| r.dr).collect(), 1.0))),
        width: non_negative(Spread::of(
            refs.iter().filter(|r| r.channels == 2).map(|r| r.width).collect(),
            0.05,
        )),
        bands,
    }
}

/// One band of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct BandDiff {
    pub low_hz: f64,
    pub high_hz: f64,
    /// The mix's level, loudness-normalised and aligned with the target on
    /// the median band, dB.
    pub mix_db: f64,
    pub target: Spread,
    /// Mix minus the target's median, dB.
    pub diff_db: f64,
    /// Outside the target's 10th–90th percentile range.
    pub outside: bool,
    /// Carries enough energy to judge.
    pub meaningful: bool,
}

/// One thing to say, with the numbers it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// `band`, `loudness`, `true_peak`, `loudness_range`, `dynamic_range`, `crest`, `distortion`, `width`, `band_width`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_hz: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_hz: Option<f64>,
    pub value: f64,
    pub target: Spread,
    /// The move that would close the gap, dB (prescriptive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_db: Option<f64>,
    /// 0–1 (prescriptive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// A point of the EQ curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EqPoint {
    pub hz: f64,
    pub gain_db: f64,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub level: Level,
    pub references: usize,
    pub bands: Vec<BandDiff>,
    pub recommendations: Vec<Recommendation>,
    /// Prescriptive only: the gain per third octave (±6 dB, smoothed)…
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eq: Vec<EqPoint>,
    /// …and the loudness change, dB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain_db: Option<f64>,
}

impl Comparison {
    /// The EQ curve as lines an EQ takes by hand (third-octave peaks).
    pub fn preset(&self) -> String {
        self.eq
            .iter()
            .filter(|p| p.gain_db.abs() >= 0.1)
            .map(|p| format!("{:.0} Hz {:+.1} dB Q 4.3", p.hz, p.gain_db))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn hz_label(hz: f64) -> String {
    if hz >= 1000.0 {
        format!("{:.1} kHz", hz / 1000.0).replace(".0 kHz", " kHz")
    } else {
        format!("{hz:.0} Hz")
    }
}

/// Compares `mix` with `target`, saying as much as `level` asks.
pub fn compare(mix: &MasteringProfile, target: &Target, level: Level) -> Comparison {
    let rel = relative_levels(mix);
    let loudest_target = target.bands.iter().map(|b| b.level.median).fold(f64::MIN, f64::max);
    let loudest_mix = rel.iter().copied().fold(f64::MIN, f64::max);
    let meaningful = |b: usize, mix_db: f64| {
        target.bands[b].level.median > loudest_target - MEANINGFUL_DB && mix_db > loudest_mix - MEANINGFUL_DB
    };
    // Loudness normalisation leaves the balance tilted when one region
    // dominates the loudness (a bass boost makes the rest read low); the
    // balance is read against the median band instead, so an untouched
    // band reads 0 and the loudness is told apart.
    let mut offsets: Vec<f64> = (0..BANDS.min(rel.len()))
        .filter(|&b| meaningful(b, rel[b]))
        .map(|b| rel[b] - target.bands[b].level.median)
        .collect();
    offsets.sort_by(f64::total_cmp);
    let offset = offsets.get(offsets.len() / 2).copied().unwrap_or(0.0);
    let mut bands = Vec::with_capacity(BANDS);
    for (b, t) in target.bands.iter().enumerate() {
        let (low_hz, high_hz) = band_edges(b);
        let mix_db = rel.get(b).copied().unwrap_or(f64::NAN);
        let meaningful = meaningful(b, mix_db);
        let mix_db = mix_db - offset;
        bands.push(BandDiff {
            low_hz: round2(low_hz),
            high_hz: round2(high_hz),
            mix_db: round2(mix_db),
            target: t.level,
            diff_db: round2(mix_db - t.level.median),
            outside: meaningful && (mix_db < t.level.p10 || mix_db > t.level.p90),
            meaningful,
        });
    }
    // The curve: the gap per band, clipped, then lightly smoothed so no
    // single band swings against its neighbours.
    let raw: Vec<f64> = bands
        .iter()
        .map(|d| {
            if d.meaningful {
                (-d.diff_db).clamp(-MAX_EQ_DB, MAX_EQ_DB)
            } else {
                0.0
            }
        })
        .collect();
    let smooth: Vec<f64> = (0..raw.len())
        .map(|i| {
            let prev = raw[i.saturating_sub(1)];
            let next = raw[(i + 1).min(raw.len() - 1)];
            (0.2 * prev + 0.6 * raw[i] + 0.2 * next).clamp(-MAX_EQ_DB, MAX_EQ_DB)
        })
        .collect();
    let mut recs = Vec::new();
    let conf = |excess: f64| {
        let refs = (target.references as f64 / 5.0).min(1.0);
        round2((0.5 + excess / 6.0).clamp(0.5, 0.95) * (0.8 + 0.2 * refs))
    };
    for (i, d) in bands.iter().enumerate() {
        if !d.meaningful || d.diff_db.abs() < DEAD_ZONE_DB {
            continue;
        }
        let span = format!("{}–{}", hz_label(d.low_hz), hz_label(d.high_hz));
        let side = if d.diff_db > 0.0 { "above" } else { "below" };
        let message = match level {
            Level::Informative => format!("{span}: {:+.1} dB against the references' median", d.diff_db),
            Level::Suggestive if d.outside => {
                let pct = if d.diff_db > 0.0 { "90th" } else { "10th" };
                format!(
                    "{span}: your mix is {side} the {pct} percentile of the references ({:+.1} dB from the median)",
                    d.diff_db
                )
            }
            Level::Suggestive => continue,
            Level::Prescriptive if d.outside => {
                format!("{span}: {:+.1} dB (your mix is {side} the references' range)", raw[i])
            }
            Level::Prescriptive => continue,
        };
        let excess = if d.diff_db > 0.0 {
            d.mix_db - d.target.p90
        } else {
            d.target.p10 - d.mix_db
        };
        recs.push(Recommendation {
            kind: "band",
            message,
            low_hz: Some(d.low_hz),
            high_hz: Some(d.high_hz),
            value: d.mix_db,
            target: d.target,
            // The move this band needs; the curve is smoothed across its
            // neighbours, and where that pulls the other way (a narrow dip
            // among boosts) the advice is less certain.
            change_db: (level == Level::Prescriptive).then(|| round2(raw[i])),
            confidence: (level == Level::Prescriptive).then(|| {
                let agrees = smooth[i] * raw[i] > 0.0;
                round2(conf(excess.max(0.0)) * if agrees { 1.0 } else { 0.6 })
            }),
        });
    }
    overall(mix, target, level, &mut recs);
    let prescriptive = level == Level::Prescriptive;
    Comparison {
        level,
        references: target.references,
        bands,
        recommendations: recs,
        eq: if prescriptive {
            THIRD_OCTAVE_HZ
                .iter()
                .zip(&smooth)
                .map(|(&hz, &g)| EqPoint { hz, gain_db: round2(g) })
                .collect()
        } else {
            Vec::new()
        },
        gain_db: prescriptive.then(|| round2((target.lufs.median - mix.lufs).clamp(-24.0, 24.0))),
    }
}

/// Loudness, true peak, range, crest and width.
fn overall(mix: &MasteringProfile, t: &Target, level: Level, recs: &mut Vec<Recommendation>) {
    let prescriptive = level == Level::Prescriptive;
    // Fewer references, less certainty: 0.72 with one, 0.9 from five.
    let confidence = round2(0.9 * (0.8 + 0.2 * (t.references as f64 / 5.0).min(1.0)));
    let mut say = |kind: &'static str, value: f64, target: Spread, message: String, change: Option<f64>| {
        recs.push(Recommendation {
            kind,
            message,
            low_hz: None,
            high_hz: None,
            value: round2(value),
            target,
            change_db: if prescriptive { change.map(round2) } else { None },
            confidence: prescriptive.then_some(confidence),
        });
    };
    let outside = |v: f64, s: &Spread| v < s.p10 || v > s.p90;
    let tell = |v: f64, s: &Spread, margin: f64| match level {
        Level::Informative => (v - s.median).abs() >= margin,
        _ => outside(v, s),
    };
    if tell(mix.lufs, &t.lufs, 0.5) {
        say(
            "loudness",
            mix.lufs,
            t.lufs,
            format!(
                "loudness {:.1} LUFS against the references' {:.1} LUFS (streaming platforms play at {PLATFORM_LUFS:.0} LUFS)",
                mix.lufs, t.lufs.median
            ),
            Some(t.lufs.median - mix.lufs),
        );
    }
    if mix.true_peak_dbtp > PLATFORM_TRUE_PEAK_DBTP {
        let norm = Spread {
            median: PLATFORM_TRUE_PEAK_DBTP,
            p10: -120.0,
            p90: PLATFORM_TRUE_PEAK_DBTP,
        };
        say(
            "true_peak",
            mix.true_peak_dbtp,
            norm,
            format!(
                "true peak {:+.1} dBTP is above the platforms' {PLATFORM_TRUE_PEAK_DBTP:.0} dBTP ceiling",
                mix.true_peak_dbtp
            ),
            Some(PLATFORM_TRUE_PEAK_DBTP - mix.true_peak_dbtp),
        );
    }
    if tell(mix.lra_lu, &t.lra_lu, 1.0) {
        say(
            "loudness_range",
            mix.lra_lu,
            t.lra_lu,
            format!(
                "loudness range {:.1} LU against the references' {:.1} LU",
                mix.lra_lu, t.lra_lu.median
            ),
            None,
        );
    }
    // The DR figure sees compression that keeps the peaks (a fast
    // compressor leaves the crest factor nearly where it was).
    if let Some(dr) = t.dr.filter(|dr| tell(mix.dr, dr, 1.0)) {
        say(
            "dynamic_range",
            mix.dr,
            dr,
            format!(
                "dynamic range DR{:.1} against the references' DR{:.1}{}",
                mix.dr,
                dr.median,
                if mix.dr < dr.p10 {
                    " (more compressed or limited)"
                } else {
                    ""
                }
            ),
            None,
        );
    }
    if tell(mix.crest_db, &t.crest_db, 1.0) {
        say(
            "crest",
            mix.crest_db,
            t.crest_db,
            format!(
                "crest factor {:.1} dB against the references' {:.1} dB",
                mix.crest_db, t.crest_db.median
            ),
            None,
        );
    }
    if let Some(thd) = mix.harmonic_distortion_pct.filter(|&d| d > MAX_THD_PCT) {
        say(
            "distortion",
            thd,
            Spread {
                median: 0.0,
                p10: 0.0,
                p90: MAX_THD_PCT,
            },
            format!(
                "harmonic distortion {thd:.1} % in the steady tones (above {MAX_THD_PCT:.0} %): check for clipping or saturation"
            ),
            None,
        );
    }
    if mix.channels < 2 || t.width.median == 0.0 && t.width.p90 == 0.0 {
        return; // width does not apply to mono
    }
    if tell(mix.width, &t.width, 0.05) {
        say(
            "width",
            mix.width,
            t.width,
            format!(
                "stereo width {:.2} (side/mid power) against the references' {:.2}",
                mix.width, t.width.median
            ),
            None,
        );
    }
    for (b, band) in mix.bands.iter().enumerate() {
        let Some(tb) = t.bands.get(b) else { continue };
        let side = band.side_db - band.mid_db;
        // Below 150 Hz, side energy is what cutting heads and mono playback punish.
        let low = band.centre_hz < 150.0;
        let limit = if low { tb.side.p90.max(-12.0) } else { tb.side.p90 + 3.0 };
        if band.mid_db > -80.0 && side > limit && (low || level != Level::Informative) {
            say(
                "band_width",
                side,
                tb.side,
                format!(
                    "side energy around {} is high: {:+.1} dB against mid (references: {:+.1} dB)",
                    hz_label(band.centre_hz),
                    side,
                    tb.side.median
                ),
                Some(tb.side.median - side),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::mastering::{BandProfile, MASTERING_VERSION};

    fn profile(tilt: impl Fn(usize) -> f64, lufs: f64) -> MasteringProfile {
        MasteringProfile {
            version: MASTERING_VERSION,
            sample_rate: 44_100,
            channels: 2,
            duration_s: 60.0,
            lufs,
            lra_lu: 6.0,
            true_peak_dbtp: -1.5,
            crest_db: 12.0,
            dr: 9.0,
            width: 0.2,
            loud_share: 0.5,
            transients_per_s: 2.0,
            attack_db: 10.0,
            harmonic_distortion_pct: None,
            bands: THIRD_OCTAVE_HZ
                .iter()
                .enumerate()
                .map(|(i, &c)| BandProfile {
                    centre_hz: c,
                    mid_db: lufs - 10.0 + tilt(i),
                    side_db: lufs - 25.0 + tilt(i),
                    crest_db: 6.0,
                    dynamics_db: 8.0,
                    width: 0.03,
                    correlation: 0.9,
                })
                .collect(),
        }
    }

    #[test]
    fn a_boosted_band_is_named_with_its_sign_and_only_it() {
        let reference = profile(|_| 0.0, -14.0);
        // +4 dB from 63 to 125 Hz, and 4 dB louder overall.
        let mix = profile(|i| if (5..=8).contains(&i) { 4.0 } else { 0.0 }, -10.0);
        let c = compare(&mix, &target_of(&[&reference]), Level::Prescriptive);
        let named: Vec<f64> = c
            .recommendations
            .iter()
            .filter(|r| r.kind == "band")
            .filter_map(|r| r.low_hz)
            .collect();
        assert!(!named.is_empty());
        for r in c.recommendations.iter().filter(|r| r.kind == "band") {
            let centre = (r.low_hz.unwrap() * r.high_hz.unwrap()).sqrt();
            assert!((50.0..=160.0).contains(&centre), "{}", r.message);
            assert!(r.change_db.unwrap() < 0.0, "{}", r.message);
        }
        assert_eq!(c.gain_db, Some(-4.0));
        assert_eq!(c.eq.len(), BANDS);
        let at = |hz: f64| c.eq.iter().find(|p| p.hz == hz).unwrap().gain_db;
        assert!(at(1000.0).abs() < 0.01 && at(80.0) < -3.0, "{:?}", c.eq);
        // Informative says the difference; suggestive only outside the range.
        let info = compare(&mix, &target_of(&[&reference]), Level::Informative);
        assert!(info.recommendations.iter().all(|r| r.change_db.is_none()));
        assert!(info.eq.is_empty() && info.gain_db.is_none());
    }

    #[test]
    fn distortion_in_steady_tones_is_named_only_when_it_matters() {
        let t = target_of(&[&profile(|_| 0.0, -14.0)]);
        let mut p = profile(|_| 0.0, -14.0);
        p.harmonic_distortion_pct = Some(4.2);
        let c = compare(&p, &t, Level::Suggestive);
        let d: Vec<_> = c.recommendations.iter().filter(|r| r.kind == "distortion").collect();
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("4.2 %"), "{}", d[0].message);
        p.harmonic_distortion_pct = Some(0.3);
        assert!(compare(&p, &t, Level::Suggestive)
            .recommendations
            .iter()
            .all(|r| r.kind != "distortion"));
    }

    #[test]
    fn mono_gets_no_width_advice_and_spreads_are_ordered() {
        let mut mono = profile(|_| 0.0, -14.0);
        mono.channels = 1;
        mono.width = 0.0;
        let c = compare(&mono, &target_of(&[&profile(|_| 0.0, -14.0)]), Level::Prescriptive);
        assert!(c.recommendations.iter().all(|r| !r.kind.contains("width")));
        let s = Spread::of(vec![3.0, 1.0, 2.0, f64::NAN], 1.0);
        assert!(s.p10 <= s.median && s.median <= s.p90 && s.median == 2.0);
        assert_eq!(Level::parse(" Prescriptive"), Some(Level::Prescriptive));
        assert_eq!(Level::parse("loud"), None);
    }
}

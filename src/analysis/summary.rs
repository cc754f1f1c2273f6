//! The one-line JSON of `sonica analyze --json`: the figures people read,
//! rounded to what is meaningful, and the vectors on request.

use serde_json::{json, Map, Value};
use sonica_schema::{Band, Drum, TrackAnalysis};

use super::vector::mixed_vector;

fn r(x: f64, decimals: i32) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let s = 10f64.powi(decimals);
    json!((x * s).round() / s)
}

fn band(b: &Band) -> Value {
    json!({
        "low_hz": r(b.low_hz, 0),
        "high_hz": r(b.high_hz, 0),
        "energy_db": r(b.energy_db, 2),
        "energy_share": r(b.energy_share, 3),
        "centroid_hz": r(b.centroid_hz, 1),
        "flatness": r(b.flatness, 3),
        "rolloff_hz": r(b.rolloff_hz, 1),
    })
}

/// A step grid as text: `X` strong (≥ 0.5), `x` present (≥ 0.15), `.` empty.
pub fn steps_text(steps: &[f32]) -> String {
    steps
        .iter()
        .map(|&v| {
            if v >= 0.5 {
                'X'
            } else if v >= 0.15 {
                'x'
            } else {
                '.'
            }
        })
        .collect()
}

fn rounded(v: &[f32], decimals: i32) -> Value {
    Value::Array(v.iter().map(|&x| r(f64::from(x), decimals)).collect())
}

/// Summary of one analysis, as `sonica analyze --json` prints it (one line per file).
pub fn summary_json(file: &str, a: &TrackAnalysis, with_vectors: bool) -> Value {
    let count = |d: Drum| a.rhythm.hits.iter().filter(|h| h.drum == d).count();
    let p = &a.rhythm.pattern;
    let mut m = Map::new();
    m.insert("file".into(), json!(file));
    m.insert("start_s".into(), r(a.start_s, 3));
    m.insert("end_s".into(), r(a.end_s, 3));
    m.insert("duration_s".into(), r(a.duration_s(), 3));
    m.insert(
        "tempo_bpm".into(),
        if a.tempo.bpm > 0.0 {
            r(a.tempo.bpm, 2)
        } else {
            Value::Null
        },
    );
    m.insert("tempo_confidence".into(), r(a.tempo.confidence, 3));
    m.insert(
        "time_signature".into(),
        a.tempo
            .time_signature
            .map_or(Value::Null, |t| json!(format!("{}/{}", t.numerator, t.denominator))),
    );
    m.insert("beat_count".into(), json!(a.tempo.beats.len()));
    m.insert("key".into(), json!(a.key.key.name()));
    m.insert("key_strength".into(), r(a.key.strength, 3));
    m.insert("loudness_lufs".into(), r(a.loudness.integrated_lufs, 2));
    m.insert("loudness_range_lu".into(), r(a.loudness.range_lu, 2));
    m.insert("true_peak_dbtp".into(), r(a.loudness.true_peak_dbtp, 2));
    m.insert("sample_peak_dbfs".into(), r(a.loudness.sample_peak_dbfs, 2));
    m.insert(
        "dynamics".into(),
        json!({
            "rms_dbfs": r(a.dynamics.rms_dbfs, 2),
            "crest_factor_db": r(a.dynamics.crest_factor_db, 2),
            "dynamic_range_db": r(a.dynamics.dynamic_range_db, 2),
        }),
    );
    m.insert(
        "stereo".into(),
        json!({
            "width": r(a.stereo.width, 3),
            "phase_correlation": r(a.stereo.phase_correlation, 3),
        }),
    );
    m.insert(
        "bands".into(),
        json!({
            "low": band(&a.bands.low),
            "low_mid": band(&a.bands.low_mid),
            "mid": band(&a.bands.mid),
            "high_mid": band(&a.bands.high_mid),
            "high": band(&a.bands.high),
        }),
    );
    m.insert("onset_count".into(), json!(a.rhythm.onset_count));
    m.insert("onset_rate_per_s".into(), r(a.rhythm.onset_rate_per_s, 2));
    m.insert(
        "drums".into(),
        json!({
            "kick_hits": count(Drum::Kick),
            "snare_hits": count(Drum::Snare),
            "hihat_hits": count(Drum::Hihat),
            "steps_per_bar": p.steps_per_bar,
            "pattern": {
                "kick": rounded(&p.kick, 2),
                "snare": rounded(&p.snare, 2),
                "hihat": rounded(&p.hihat, 2),
            },
            "pattern_text": {
                "kick": steps_text(&p.kick),
                "snare": steps_text(&p.snare),
                "hihat": steps_text(&p.hihat),
            },
        }),
    );
    if with_vectors {
        m.insert("timbre".into(), rounded(&a.timbre, 4));
        m.insert("rhythm_vector".into(), rounded(&a.rhythm_vector, 4));
        m.insert("mixed_vector".into(), rounded(&mixed_vector(a), 4));
    }
    Value::Object(m)
}

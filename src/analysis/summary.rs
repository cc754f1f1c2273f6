//! The one-line JSON of `sonica analyze --json`: the figures people read,
//! rounded to what is meaningful, and the vectors on request.

use serde_json::{json, Map, Value};
use sonica_schema::{Band, Drum, Section, SectionPattern, TrackAnalysis};

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
    m.insert(
        "sections".into(),
        Value::Array(
            a.sections
                .iter()
                .enumerate()
                .map(|(i, s)| section_json(a, i, s, None))
                .collect(),
        ),
    );
    if with_vectors {
        m.insert("timbre".into(), rounded(&a.timbre, 4));
        m.insert("rhythm_vector".into(), rounded(&a.rhythm_vector, 4));
        m.insert("mixed_vector".into(), rounded(&mixed_vector(a), 4));
    }
    Value::Object(m)
}

/// Every drum hit as `[seconds from the start of the file, voice]`.
pub fn hits_json(a: &TrackAnalysis) -> Value {
    Value::Array(
        a.rhythm
            .hits
            .iter()
            .map(|h| json!([r(a.start_s + f64::from(h.t), 3), h.drum]))
            .collect(),
    )
}

/// One section with its pattern; times in seconds from the start of the
/// file. `pattern_id`: the stored pattern's id, when the section is a
/// library track's.
pub fn section_json(a: &TrackAnalysis, index: usize, s: &Section, pattern_id: Option<u64>) -> Value {
    json!({
        "index": index,
        "start_s": r(a.start_s + f64::from(s.start_s), 3),
        "end_s": r(a.start_s + f64::from(s.end_s), 3),
        "label": s.label,
        "function": s.function.name(),
        "function_confidence": r(f64::from(s.function_confidence), 2),
        "energy_db": r(f64::from(s.energy_db), 1),
        "pattern": s.pattern.as_ref().map_or(Value::Null, |p| pattern_json(p, pattern_id)),
    })
}

/// A section's pattern: the grid, the hits in beats (`midi_data`, as the
/// seed names it), tempo, key, metre and quality.
pub fn pattern_json(p: &SectionPattern, id: Option<u64>) -> Value {
    let beats = |d: Drum| -> Value {
        Value::Array(
            p.hits
                .iter()
                .filter(|h| h.drum == d)
                .map(|h| r(f64::from(h.beat), 2))
                .collect(),
        )
    };
    json!({
        "id": id,
        "tempo_bpm": r(p.tempo_bpm, 2),
        "key": p.key.map(|k| k.name()),
        "time_signature": p.time_signature.map(|t| format!("{}/{}", t.numerator, t.denominator)),
        "steps_per_bar": p.grid.steps_per_bar,
        "grid": {
            "kick": rounded(&p.grid.kick, 2),
            "snare": rounded(&p.grid.snare, 2),
            "hihat": rounded(&p.grid.hihat, 2),
        },
        "grid_text": {
            "kick": steps_text(&p.grid.kick),
            "snare": steps_text(&p.grid.snare),
            "hihat": steps_text(&p.grid.hihat),
        },
        "midi_data": {
            "kick": beats(Drum::Kick),
            "snare": beats(Drum::Snare),
            "hihat": beats(Drum::Hihat),
        },
        "quality": r(f64::from(p.quality), 2),
    })
}

//! Search parameters arrive from query strings, form fields, JSON bodies
//! and CLI flags, and src/search/params.rs is the one place that checks
//! them: every bad value must come back as a `ParamError` (a 400), never a
//! panic. This target feeds arbitrary text to `parse_number` and
//! `parse_count`, arbitrary JSON through `json_fields` →
//! `RawSimilar::from_fields` → `RawSimilar::parse` / `RawFilter::parse`,
//! and checks that what is accepted is what the docs promise:
//!
//! - `parse_number` gives only finite numbers;
//! - `parse_count` stays within its bounds;
//! - an accepted query has `top_k` in 1..=MAX_TOP_K, `min_similarity` in
//!   −1..=1, tempos in 0..=MAX_TEMPO with min ≤ max, a genre of at most 200
//!   characters;
//! - `json_fields` never keeps a list or an object, and leaves the fields
//!   `from_fields` does not take where they were.
//!
//! Input layout: `selector` `rest`. Selector bits choose whether the rest
//! is read as JSON or as `name=value` lines (one per field), and the count
//! bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica::search::params::{
    json_fields, parse_count, parse_number, Fields, RawFilter, RawSimilar, MAX_TEMPO, MAX_TOP_K,
};

fn check_similar(raw: &RawSimilar) {
    match raw.parse() {
        Ok(p) => {
            assert!((1..=MAX_TOP_K).contains(&p.top_k), "top_k {}", p.top_k);
            assert!((-1.0..=1.0).contains(&p.min_similarity), "min_similarity {}", p.min_similarity);
            let f = &p.filter;
            for t in [f.tempo_min, f.tempo_max].into_iter().flatten() {
                assert!((0.0..=MAX_TEMPO).contains(&t), "tempo {t}");
            }
            if let (Some(lo), Some(hi)) = (f.tempo_min, f.tempo_max) {
                assert!(lo <= hi, "tempo range {lo}..{hi}");
            }
            if let Some(g) = &f.genre {
                assert!(g.chars().count() <= 200 && !g.trim().is_empty(), "genre {g:?}");
            }
            // The filter part alone accepts what the whole accepted.
            raw.raw_filter().parse().expect("filter of an accepted query");
        }
        Err(e) => assert!(!e.0.is_empty(), "an empty error message"),
    }
    let _ = RawFilter {
        genre: raw.genre.clone(),
        key: raw.key.clone(),
        tempo_min: raw.tempo_min.clone(),
        tempo_max: raw.tempo_max.clone(),
    }
    .parse();
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);

    // The scalar parsers on the whole text.
    let v = Some(text.to_string());
    if let Ok(Some(x)) = parse_number("x", &v) {
        assert!(x.is_finite(), "parse_number gave {x}");
    }
    let (lo, hi) = match sel % 4 {
        0 => (1, MAX_TOP_K),
        1 => (0, 0),
        2 => (0, usize::MAX),
        _ => (usize::from(sel), usize::from(sel) * 3),
    };
    if let Ok(Some(n)) = parse_count("n", &v, lo, hi) {
        assert!((lo..=hi).contains(&n), "parse_count gave {n} outside {lo}..={hi}");
    }

    let mut fields = if sel & 4 == 0 {
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
        match json_fields(&json) {
            Ok(f) => {
                let obj = json.as_object().expect("json_fields accepted a non-object");
                for (k, val) in obj {
                    if matches!(k.as_str(), "filters" | "filter") && val.is_object() {
                        continue;
                    }
                    assert!(!val.is_array() && !val.is_object(), "kept a list or an object under {k}");
                }
                f
            }
            Err(e) => {
                assert!(!e.0.is_empty());
                return;
            }
        }
    } else {
        let mut f = Fields::new();
        for line in text.lines() {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            f.insert(k.to_string(), v.to_string());
        }
        f
    };
    let before = fields.len();
    let raw = RawSimilar::from_fields(&mut fields);
    let taken = [
        &raw.genre,
        &raw.key,
        &raw.tempo_min,
        &raw.tempo_max,
        &raw.top_k,
        &raw.min_similarity,
        &raw.kind,
    ]
    .iter()
    .filter(|v| v.is_some())
    .count();
    assert_eq!(fields.len() + taken, before, "from_fields lost or invented fields");
    check_similar(&raw);
});

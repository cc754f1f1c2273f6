//! Filters, facets and allow-lists of [`TextIndex`]: each filter alone and
//! combined, facet counts over every match, `matching_ids` against search,
//! and range filters against a plain scan in awkward segment layouts.

use super::tests::{doc, filtered, library, sorted, A_MINOR};
use super::*;

#[test]
fn each_filter_alone() {
    let idx = library();
    let f = Filter::default;
    assert_eq!(
        filtered(
            &idx,
            Filter {
                genre: Some("TECHNO".into()),
                ..f()
            }
        ),
        [2, 4]
    );
    assert!(
        filtered(
            &idx,
            Filter {
                genre: Some("tech".into()),
                ..f()
            }
        )
        .is_empty(),
        "whole genre only"
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                key: Some(A_MINOR),
                ..f()
            }
        ),
        [1, 3, 4]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                tempo_min: Some(120.0),
                tempo_max: Some(128.0),
                ..f()
            }
        ),
        [1, 2]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                tempo_min: Some(128.0),
                ..f()
            }
        ),
        [2, 4]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                tempo_max: Some(90.0),
                ..f()
            }
        ),
        [3]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                duration_min: Some(300.0),
                ..f()
            }
        ),
        [2]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                duration_max: Some(100.0),
                ..f()
            }
        ),
        [3]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                loudness_min: Some(-10.0),
                ..f()
            }
        ),
        [1, 4]
    );
    assert_eq!(
        filtered(
            &idx,
            Filter {
                loudness_min: Some(-15.0),
                loudness_max: Some(-7.0),
                ..f()
            }
        ),
        [1, 2]
    );
    assert!(filtered(
        &idx,
        Filter {
            tempo_min: Some(130.0),
            tempo_max: Some(120.0),
            ..f()
        }
    )
    .is_empty());
}

#[test]
fn filters_combine_with_each_other_and_with_text() {
    let idx = library();
    let techno_a_minor = Filter {
        genre: Some("techno".into()),
        key: Some(A_MINOR),
        ..Filter::default()
    };
    assert_eq!(filtered(&idx, techno_a_minor.clone()), [4]);
    let fast_loud = Filter {
        tempo_min: Some(100.0),
        loudness_min: Some(-10.0),
        duration_max: Some(250.0),
        ..Filter::default()
    };
    assert_eq!(filtered(&idx, fast_loud), [1, 4]);
    let q = TextQuery {
        text: Some("harb".into()),
        filter: Filter {
            key: Some(A_MINOR),
            ..Filter::default()
        },
        ..TextQuery::default()
    };
    assert_eq!(
        sorted(idx.search(&q).unwrap().hits.iter().map(|h| h.id).collect()),
        [1, 4]
    );
    let q = TextQuery {
        text: Some("quiet".into()),
        filter: techno_a_minor,
        ..TextQuery::default()
    };
    let r = idx.search(&q).unwrap();
    assert_eq!(
        (r.total, r.hits.len(), r.facets.clone()),
        (0, 0, Facets::default()),
        "empty result set"
    );
}

#[test]
fn facets_count_every_match_not_the_page() {
    let idx = library();
    let q = TextQuery {
        limit: 1,
        ..TextQuery::default()
    };
    let r = idx.search(&q).unwrap();
    assert_eq!(r.hits.len(), 1);
    assert_eq!(r.total, 6);
    let g = [("pop", 2), ("techno", 2), ("ambient", 1)].map(|(s, n)| (s.to_string(), n));
    assert_eq!(r.facets.genre, g);
    assert_eq!(r.facets.key, [("A minor".to_string(), 3), ("C major".to_string(), 1)]);
    let q = TextQuery {
        text: Some("harb".into()),
        limit: 1,
        ..TextQuery::default()
    };
    let r = idx.search(&q).unwrap();
    assert_eq!((r.total, r.hits.len()), (3, 1));
    assert_eq!(r.facets.genre, [("techno".to_string(), 2), ("pop".to_string(), 1)]);
}

#[test]
fn matching_ids_agree_with_search() {
    let idx = library();
    let cases = [
        (Filter::default(), None),
        (
            Filter {
                key: Some(A_MINOR),
                ..Filter::default()
            },
            None,
        ),
        (
            Filter {
                tempo_min: Some(100.0),
                ..Filter::default()
            },
            Some("harb"),
        ),
        (Filter::default(), Some("ana")),
        (Filter::default(), Some("!!")),
    ];
    for (filter, text) in cases {
        let q = TextQuery {
            text: text.map(String::from),
            filter: filter.clone(),
            limit: 100,
            offset: 0,
        };
        let from_search = sorted(idx.search(&q).unwrap().hits.iter().map(|h| h.id).collect());
        assert_eq!(
            idx.matching_ids(&filter, text).unwrap(),
            from_search,
            "{filter:?} {text:?}"
        );
    }
    assert_eq!(idx.matching_ids(&Filter::default(), None).unwrap(), [1, 2, 3, 4, 5, 6]);
}

/// splitmix64, for the randomised checks below.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Range filters against a plain scan of the documents, on the layouts
/// that trip column-scanning range queries: one-document segments (one
/// commit per track, as the service does), segments where every value is
/// the same, values missing in some tracks, deleted tracks, and a segment
/// of more than one block of 128 documents.
#[test]
fn range_filters_agree_with_a_scan_in_every_segment_layout() {
    let mut rng = 7u64;
    let idx = TextIndex::in_memory().unwrap();
    let mut docs: Vec<TextDoc> = Vec::new();
    let add = |idx: &TextIndex, docs: &mut Vec<TextDoc>, tempo: Option<f64>, loud: Option<f64>| {
        let id = docs.len() as TrackId;
        let d = TextDoc {
            tempo_bpm: tempo,
            loudness_lufs: loud,
            duration_s: 60.0 + id as f64,
            ..doc(id, "t", "a", "g")
        };
        idx.upsert(&d).unwrap();
        docs.push(d);
    };
    for _ in 0..5 {
        let t = 60.0 + (next(&mut rng) % 130) as f64;
        add(&idx, &mut docs, Some(t), None);
        idx.commit().unwrap(); // a segment of one document
    }
    for _ in 0..5 {
        add(&idx, &mut docs, Some(100.0), Some(-9.0)); // one value, many documents
    }
    idx.commit().unwrap();
    for i in 0..300 {
        let t = (i % 3 != 0).then(|| 60.0 + (next(&mut rng) % 1300) as f64 / 10.0);
        let l = (i % 5 != 0).then(|| -30.0 + (next(&mut rng) % 250) as f64 / 10.0);
        add(&idx, &mut docs, t, l);
    }
    idx.commit().unwrap();
    // Below the merge policy's 8, so the one-document segments stay.
    assert_eq!(idx.tantivy().searchable_segment_ids().unwrap().len(), 7);
    for id in [3, 13, 50, 51, 200] {
        idx.remove(id).unwrap();
        docs.retain(|d| d.id != id);
    }
    idx.commit().unwrap();

    let inside = |v: Option<f64>, lo: Option<f64>, hi: Option<f64>| {
        v.is_some_and(|v| lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi))
    };
    let mut bounds = vec![
        (Some(100.0), Some(100.0)),
        (Some(0.0), Some(1000.0)),
        (None, Some(59.0)),
    ];
    for _ in 0..60 {
        let a = 55.0 + (next(&mut rng) % 1400) as f64 / 10.0;
        let b = a + (next(&mut rng) % 600) as f64 / 10.0;
        bounds.push(match next(&mut rng) % 3 {
            0 => (Some(a), None),
            1 => (None, Some(b)),
            _ => (Some(a), Some(b)),
        });
    }
    for (lo, hi) in bounds {
        let f = Filter {
            tempo_min: lo,
            tempo_max: hi,
            ..Filter::default()
        };
        let want: Vec<TrackId> = docs
            .iter()
            .filter(|d| inside(d.tempo_bpm, lo, hi))
            .map(|d| d.id)
            .collect();
        assert_eq!(idx.matching_ids(&f, None).unwrap(), want, "tempo {lo:?}..{hi:?}");
        let f = Filter {
            // Mirrored onto −39…−11 LUFS: the upper tempo bound is the lower loudness one.
            loudness_min: hi.map(|v| v / -5.0),
            loudness_max: lo.map(|v| v / -5.0),
            ..Filter::default()
        };
        let (llo, lhi) = (f.loudness_min, f.loudness_max);
        let want: Vec<TrackId> = docs
            .iter()
            .filter(|d| inside(d.loudness_lufs, llo, lhi))
            .map(|d| d.id)
            .collect();
        assert_eq!(
            idx.matching_ids(&f, Some("t")).unwrap(),
            want,
            "loudness {llo:?}..{lhi:?} with text"
        );
    }
}

//! Behaviour of [`TextIndex`] as a caller sees it: matching and ranking
//! rules, odd input, writes and persistence, on a handful of hand-made
//! tracks (shared with `filter_tests.rs`).

use sonica_schema::{Key, Mode};

use super::*;

pub(super) const A_MINOR: Key = Key {
    tonic: 9,
    mode: Mode::Minor,
};
const C_MAJOR: Key = Key {
    tonic: 0,
    mode: Mode::Major,
};

pub(super) fn doc(id: TrackId, title: &str, artist: &str, genre: &str) -> TextDoc {
    TextDoc {
        id,
        title: title.into(),
        artist: Some(artist.into()),
        album: Some(format!("{title} (album)")),
        genre: Some(genre.into()),
        key: None,
        tempo_bpm: None,
        duration_s: 200.0,
        loudness_lufs: None,
    }
}

/// Six tracks with varied text, keys and numbers.
pub(super) fn library() -> TextIndex {
    let idx = TextIndex::in_memory().unwrap();
    let docs = [
        TextDoc {
            key: Some(A_MINOR),
            tempo_bpm: Some(120.0),
            loudness_lufs: Some(-8.0),
            ..doc(1, "Harbor Lights", "Beyoncé", "Pop")
        },
        TextDoc {
            key: Some(C_MAJOR),
            tempo_bpm: Some(128.0),
            loudness_lufs: Some(-12.0),
            duration_s: 400.0,
            ..doc(2, "Midnight Train", "The Harbors", "Techno")
        },
        TextDoc {
            key: Some(A_MINOR),
            tempo_bpm: Some(90.0),
            loudness_lufs: Some(-20.0),
            duration_s: 90.0,
            ..doc(3, "Quiet Morning", "Ana", "Ambient")
        },
        TextDoc {
            key: Some(A_MINOR),
            tempo_bpm: Some(130.0),
            loudness_lufs: Some(-6.0),
            ..doc(4, "Harbour Nights", "DJ Ray", "techno")
        },
        doc(5, "Sunrise", "Ana", "Pop"),
        TextDoc {
            genre: None,
            artist: None,
            album: None,
            ..doc(6, "Untagged", "", "")
        },
    ];
    for d in &docs {
        idx.upsert(d).unwrap();
    }
    idx.commit().unwrap();
    idx
}

pub(super) fn find(idx: &TextIndex, text: &str) -> Vec<TrackId> {
    let q = TextQuery {
        text: Some(text.into()),
        ..TextQuery::default()
    };
    idx.search(&q).unwrap().hits.iter().map(|h| h.id).collect()
}

pub(super) fn filtered(idx: &TextIndex, filter: Filter) -> Vec<TrackId> {
    let q = TextQuery {
        filter,
        limit: 100,
        ..TextQuery::default()
    };
    idx.search(&q).unwrap().hits.iter().map(|h| h.id).collect()
}

pub(super) fn sorted(mut v: Vec<TrackId>) -> Vec<TrackId> {
    v.sort_unstable();
    v
}

#[test]
fn the_last_word_matches_as_a_prefix() {
    let idx = library();
    assert_eq!(find(&idx, "midn"), [2]);
    assert_eq!(sorted(find(&idx, "harb")), [1, 2, 4]);
    assert!(find(&idx, "midn ").is_empty(), "a finished word is matched whole");
    assert!(find(&idx, "midn train").is_empty(), "only the last word is a prefix");
}

#[test]
fn one_typo_is_tolerated_in_words_of_five_letters() {
    let idx = library();
    assert_eq!(find(&idx, "midnigth"), [2], "swap");
    assert_eq!(find(&idx, "morninq"), [3], "substitution");
    assert_eq!(find(&idx, "sunrse "), [5], "deletion");
    assert!(find(&idx, "trian ").contains(&2));
    assert!(find(&idx, "ama ").is_empty(), "short words must be exact");
    assert!(find(&idx, "mdnigth ").is_empty(), "two typos in a short word");
}

#[test]
fn exact_words_rank_above_typos() {
    let idx = library();
    // "harbor" is exact for 1 (title), a typo of "harbour" for 4.
    let hits = find(&idx, "harbor ");
    assert_eq!(hits.first(), Some(&1), "{hits:?}");
    assert!(hits.contains(&4), "{hits:?}");
    let hits = find(&idx, "harbour ");
    assert_eq!(hits.first(), Some(&4), "{hits:?}");
}

#[test]
fn title_ranks_above_artist() {
    let idx = library();
    idx.upsert(&doc(7, "Ana", "Someone", "Pop")).unwrap();
    idx.commit().unwrap();
    let hits = find(&idx, "ana ");
    assert_eq!(hits.first(), Some(&7), "{hits:?}");
    assert_eq!(sorted(hits), [3, 5, 7]);
}

#[test]
fn every_word_must_match_in_some_field() {
    let idx = library();
    assert_eq!(find(&idx, "harbor beyonce"), [1], "title and artist");
    assert_eq!(find(&idx, "ana sunrise"), [5]);
    assert!(find(&idx, "harbor sunrise").is_empty());
}

#[test]
fn accents_and_case_are_folded() {
    let idx = library();
    assert_eq!(find(&idx, "BEYONCE"), [1]);
    assert_eq!(find(&idx, "beyoncé"), [1]);
}

#[test]
fn odd_user_strings_never_fail() {
    let idx = library();
    for text in [
        "?!",
        "\"",
        "title:harbor",
        "((harb",
        "[]{}^~*",
        "\u{0}",
        "-harb",
        "AND OR NOT",
    ] {
        idx.search(&TextQuery {
            text: Some(text.into()),
            ..TextQuery::default()
        })
        .unwrap();
    }
    assert!(find(&idx, "?!…").is_empty(), "only punctuation finds nothing");
    assert_eq!(
        find(&idx, "title:\"harbor"),
        Vec::<TrackId>::new(),
        "'title' is a word like any other"
    );
    // "Harbour Nights" is one typo from each word.
    assert_eq!(find(&idx, "(harbor) [lights]"), [1, 4]);
    let long = "harbor ".repeat(10_000);
    assert_eq!(
        find(&idx, &long),
        find(&idx, "harbor "),
        "capped; the last kept word is whole"
    );
}

#[test]
fn blank_text_is_no_constraint_and_lists_by_id() {
    let idx = library();
    let q = TextQuery {
        text: Some("   ".into()),
        limit: 3,
        offset: 1,
        ..TextQuery::default()
    };
    let r = idx.search(&q).unwrap();
    assert_eq!(r.total, 6);
    assert_eq!(r.hits.iter().map(|h| h.id).collect::<Vec<_>>(), [2, 3, 4]);
}

#[test]
fn upsert_replaces_and_remove_deletes() {
    let idx = library();
    idx.upsert(&doc(3, "Loud Evening", "Ana", "Rock")).unwrap();
    idx.remove(5).unwrap();
    idx.remove(999).unwrap();
    assert_eq!(find(&idx, "evening"), Vec::<TrackId>::new(), "invisible before commit");
    idx.commit().unwrap();
    assert_eq!(find(&idx, "evening"), [3]);
    assert!(find(&idx, "quiet").is_empty());
    assert!(find(&idx, "sunrise").is_empty());
    assert_eq!(idx.len(), 5);
    assert_eq!(idx.ids().unwrap(), [1, 2, 3, 4, 6]);
}

#[test]
fn an_index_on_disk_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text");
    {
        let idx = TextIndex::open(&path).unwrap();
        assert!(idx.is_empty());
        idx.upsert(&doc(42, "Harbor Lights", "Ana", "Pop")).unwrap();
        idx.commit().unwrap();
    }
    let idx = TextIndex::open(&path).unwrap();
    assert_eq!(find(&idx, "harbor"), [42]);
    assert_eq!(idx.ids().unwrap(), [42]);
}

#[test]
fn a_damaged_folder_asks_for_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text");
    drop(TextIndex::open(&path).unwrap());
    std::fs::write(path.join("meta.json"), b"{ not json").unwrap();
    let err = TextIndex::open(&path).err().expect("a damaged meta.json must not open");
    assert!(err.needs_rebuild(), "{err}");
    let idx = TextIndex::recreate(&path).unwrap();
    assert!(idx.is_empty());
    idx.upsert(&doc(1, "Back", "Again", "Pop")).unwrap();
    idx.commit().unwrap();
    assert_eq!(find(&idx, "back"), [1]);
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<TextIndex>();
}

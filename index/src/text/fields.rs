//! The tantivy schema of the text index and how a track becomes a document.
//!
//! One place names every field and its options so that the writer, the query
//! builder, the filters and the collectors cannot disagree. Nothing is
//! stored: the caller has the canonical records, so the index keeps only what
//! it needs to match (inverted text fields) and to filter or count (fast
//! fields, tantivy's columns).

use sonica_schema::{Key, TrackId};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STRING,
};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, TantivyDocument};

/// Name under which [`analyzer`] is registered on every opened index
/// (tantivy persists the name in the schema, not the tokenizer itself).
pub(crate) const TOKENIZER: &str = "sonica_text";

/// Tokens longer than this (in bytes) are dropped when indexing and when
/// querying: no title word is that long, and a huge token would only make
/// the typo automata slow to build.
const MAX_TOKEN_BYTES: usize = 48;

/// What the text index knows about one track.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextDoc {
    pub id: TrackId,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    /// `None` until the track is analysed.
    pub key: Option<Key>,
    /// `None` until the track is analysed.
    pub tempo_bpm: Option<f64>,
    pub duration_s: f64,
    /// `None` until the track is analysed.
    pub loudness_lufs: Option<f64>,
}

/// The searchable text fields, with the boost each one gives a match: a
/// word of the title says more about what the user looks for than a word of
/// the genre.
pub(crate) const TEXT_FIELDS: [(&str, f32); 4] = [("title", 4.0), ("artist", 3.0), ("album", 2.0), ("genre", 1.0)];

/// Handles of every field of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    /// Same order as [`TEXT_FIELDS`].
    pub text: [Field; 4],
    pub genre_exact: Field,
    pub key: Field,
    pub tempo_bpm: Field,
    pub duration_s: Field,
    pub loudness_lufs: Field,
}

/// Fast-field (column) names the collectors read.
pub(crate) const ID: &str = "id";
pub(crate) const GENRE_EXACT: &str = "genre_exact";
pub(crate) const KEY: &str = "key";

impl Fields {
    /// The schema every text index is created with. Changing it makes old
    /// folders fail to open with [`TextError::ForeignSchema`](super::TextError::ForeignSchema),
    /// which the caller answers by rebuilding.
    pub fn schema() -> Schema {
        let mut b = Schema::builder();
        // Indexed for delete-by-id, fast for the collectors.
        b.add_u64_field(ID, INDEXED | FAST);
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        for (name, _) in TEXT_FIELDS {
            b.add_text_field(name, text.clone());
        }
        // Raw (one term per value): exact filtering and facet ordinals.
        b.add_text_field(GENRE_EXACT, STRING | FAST);
        b.add_text_field(KEY, STRING | FAST);
        // Range filters scan the column; no inverted index is needed.
        let number = NumericOptions::default().set_fast();
        for name in ["tempo_bpm", "duration_s", "loudness_lufs"] {
            b.add_f64_field(name, number.clone());
        }
        b.build()
    }

    /// Resolves the handles from an index's schema.
    pub fn from_schema(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            id: f(ID)?,
            text: [f("title")?, f("artist")?, f("album")?, f("genre")?],
            genre_exact: f(GENRE_EXACT)?,
            key: f(KEY)?,
            tempo_bpm: f("tempo_bpm")?,
            duration_s: f("duration_s")?,
            loudness_lufs: f("loudness_lufs")?,
        })
    }

    /// The tantivy document of a track. Missing values and non-finite
    /// numbers are left out, so range filters never match them.
    pub fn document(&self, doc: &TextDoc) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_u64(self.id, u64::from(doc.id));
        let texts = [
            Some(&doc.title),
            doc.artist.as_ref(),
            doc.album.as_ref(),
            doc.genre.as_ref(),
        ];
        for (field, text) in self.text.iter().zip(texts) {
            if let Some(t) = text {
                d.add_text(*field, t);
            }
        }
        if let Some(g) = doc.genre.as_deref() {
            d.add_text(self.genre_exact, normalise_genre(g));
        }
        if let Some(k) = doc.key {
            d.add_text(self.key, k.name());
        }
        let numbers = [
            (self.tempo_bpm, doc.tempo_bpm),
            (self.duration_s, Some(doc.duration_s)),
            (self.loudness_lufs, doc.loudness_lufs),
        ];
        for (field, value) in numbers {
            if let Some(v) = value.filter(|v| v.is_finite()) {
                d.add_f64(field, v);
            }
        }
        d
    }
}

/// The one spelling of a genre used both when indexing and when filtering,
/// so that "Hip Hop" and " hip hop" are the same genre.
pub(crate) fn normalise_genre(genre: &str) -> String {
    genre.trim().to_lowercase()
}

/// Words of a title or a query: split on anything not alphanumeric, lower
/// case, accents folded to ASCII ("Beyoncé" → "beyonce").
pub(crate) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers [`analyzer`] on an index just created or opened.
pub(crate) fn register_analyzer(index: &Index) {
    index.tokenizers().register(TOKENIZER, analyzer());
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::Mode;
    use tantivy::schema::Value;

    fn words(text: &str) -> Vec<String> {
        let mut a = analyzer();
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn analyzer_splits_lowercases_and_folds() {
        assert_eq!(words("Beyoncé — Déjà Vu!"), ["beyonce", "deja", "vu"]);
        assert_eq!(words("AC/DC: Back_in Black"), ["ac", "dc", "back", "in", "black"]);
        assert!(words("?!… \"'").is_empty());
        assert!(words(&"x".repeat(200)).is_empty());
    }

    #[test]
    fn document_leaves_out_what_is_missing() {
        let schema = Fields::schema();
        let fields = Fields::from_schema(&schema).unwrap();
        let full = TextDoc {
            id: 7,
            title: "T".into(),
            genre: Some(" Hip Hop ".into()),
            key: Some(Key {
                tonic: 9,
                mode: Mode::Minor,
            }),
            tempo_bpm: Some(120.0),
            duration_s: f64::NAN,
            ..TextDoc::default()
        };
        let d = fields.document(&full);
        assert_eq!(d.get_first(fields.id).and_then(|v| v.as_u64()), Some(7));
        assert_eq!(
            d.get_first(fields.genre_exact).and_then(|v| v.as_str()),
            Some("hip hop")
        );
        assert_eq!(d.get_first(fields.key).and_then(|v| v.as_str()), Some("A minor"));
        assert_eq!(d.get_first(fields.tempo_bpm).and_then(|v| v.as_f64()), Some(120.0));
        assert!(d.get_first(fields.duration_s).is_none(), "NaN is not indexed");
        assert!(d.get_first(fields.loudness_lufs).is_none());
        assert!(d.get_first(fields.text[1]).is_none(), "no artist");
    }
}

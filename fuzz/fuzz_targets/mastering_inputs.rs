//! What the mastering assistant reads from a stranger or from disk: a
//! genre name (routes, CLI), a `references` list, and stored references,
//! analyses and preview audio (schema/src/mastering_record.rs), plus a
//! built-in target's JSON. Each is accepted whole or refused; nothing
//! panics, a normalised genre is stable, and what decodes re-encodes to
//! the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica_schema::mastering_record::{normalise_genre, AnalysisRecord, PreviewAudio, ReferenceRecord};
use sonica_schema::mastering_target::Target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(g) = normalise_genre(&text) {
        assert!(!g.is_empty() && g.len() <= 64);
        assert_eq!(normalise_genre(&g).as_deref(), Some(g.as_str()));
    }
    if let Ok(a) = PreviewAudio::decode(data) {
        assert_eq!(PreviewAudio::decode(&a.encode()).unwrap(), a);
    }
    if let Ok(r) = ReferenceRecord::decode(data) {
        let _ = r.profile.vector();
        let _ = ReferenceRecord::decode(&r.encode()).unwrap();
    }
    if let Ok(r) = AnalysisRecord::decode(data) {
        let _ = r.profile.vector();
        let _ = r.target.is_valid();
    }
    if let Ok(t) = serde_json::from_slice::<Target>(data) {
        let _ = t.is_valid();
    }
});

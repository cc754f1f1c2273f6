//! Title, artist, album and genre, read from the container's tags, with the
//! file name as the title of last resort.

use std::path::Path;

use symphonia::core::meta::{MetadataRevision, StandardTagKey};

/// Longest tag value kept, in bytes: a 20 MB "title" is an attack or an
/// accident, and either way would bloat every record and index it reaches.
pub const MAX_TAG_BYTES: usize = 4096;

/// `v` trimmed and cut to [`MAX_TAG_BYTES`] on a character boundary.
fn clip(v: &str) -> String {
    let v = v.trim();
    let mut end = v.len().min(MAX_TAG_BYTES);
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    v[..end].trim_end().to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
}

impl Tags {
    /// Fills empty fields from a symphonia metadata revision.
    pub fn absorb(&mut self, rev: &MetadataRevision) {
        for tag in rev.tags() {
            let Some(key) = tag.std_key else { continue };
            let slot = match key {
                StandardTagKey::TrackTitle => &mut self.title,
                StandardTagKey::Artist => &mut self.artist,
                StandardTagKey::AlbumArtist if self.artist.is_none() => &mut self.artist,
                StandardTagKey::Album => &mut self.album,
                StandardTagKey::Genre => &mut self.genre,
                _ => continue,
            };
            if slot.is_none() {
                // Text is cut where it lies; only other values are formatted.
                let v = match &tag.value {
                    symphonia::core::meta::Value::String(text) => clip(text),
                    other => clip(&other.to_string()),
                };
                if !v.is_empty() {
                    *slot = Some(v);
                }
            }
        }
    }

    /// Sets a field by its common name (ffprobe keys, any case).
    pub fn set_named(&mut self, key: &str, value: &str) {
        let v = clip(value);
        if v.is_empty() {
            return;
        }
        let slot = match key.to_ascii_lowercase().as_str() {
            "title" => &mut self.title,
            "artist" => &mut self.artist,
            "album" => &mut self.album,
            "genre" => &mut self.genre,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }

    /// The title to show: the tag, else the file name without extension.
    pub fn title_or_file_name(&self, path: &Path) -> String {
        self.title.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_file_name() {
        let t = Tags::default();
        assert_eq!(t.title_or_file_name(Path::new("/a/b/My Song.flac")), "My Song");
        let mut t = Tags::default();
        t.set_named("TITLE", "Real");
        t.set_named("title", "Ignored");
        assert_eq!(t.title_or_file_name(Path::new("x.flac")), "Real");
    }

    #[test]
    fn huge_tags_are_cut_on_a_character_boundary() {
        let mut t = Tags::default();
        t.set_named("artist", &"é".repeat(10_000_000));
        let a = t.artist.unwrap();
        assert!(a.len() <= MAX_TAG_BYTES && a.len() >= MAX_TAG_BYTES - 1, "{}", a.len());
        assert!(a.chars().all(|c| c == 'é'));
    }
}

//! The musical vocabulary the records share: keys and modes, metre, drum
//! voices and the step pattern of a bar. The analysis record and the
//! section record both speak it, so it sits below both.

use serde::{Deserialize, Serialize};

/// Pitch-class names, as keys are written: "A minor", "Eb major".
pub const PITCH_CLASSES: [&str; 12] = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Major,
    Minor,
}

/// A musical key: tonic pitch class (0 = C) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

impl Key {
    /// "A minor", "Eb major".
    pub fn name(&self) -> String {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        format!("{} {mode}", PITCH_CLASSES[usize::from(self.tonic % 12)])
    }

    /// Parses a key name as users write it: tonic with `#`/`b` (or ♯/♭),
    /// any spelling of the same pitch class ("D#" = "Eb"), then "major",
    /// "minor", "maj", "min" or "m"; case-insensitive. `None` if it is not a key.
    pub fn parse(s: &str) -> Option<Key> {
        let s = s.trim();
        let mut chars = s.chars();
        let letter = chars.next()?.to_ascii_uppercase();
        let base: i32 = match letter {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return None,
        };
        let rest: String = chars.collect();
        let (shift, rest) = match rest.chars().next() {
            Some('#') | Some('♯') => (1, &rest[rest.chars().next().map_or(0, char::len_utf8)..]),
            Some('b') | Some('♭') => (-1, &rest[rest.chars().next().map_or(0, char::len_utf8)..]),
            _ => (0, rest.as_str()),
        };
        let mode = match rest.trim().to_ascii_lowercase().as_str() {
            "major" | "maj" | "" => Mode::Major,
            "minor" | "min" | "m" => Mode::Minor,
            _ => return None,
        };
        Some(Key {
            tonic: (base + shift).rem_euclid(12) as u8,
            mode,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub numerator: u8,
    pub denominator: u8,
}

/// A drum voice, told apart by band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drum {
    Kick,
    Snare,
    Hihat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrumPattern {
    pub steps_per_bar: u8,
    pub kick: Vec<f32>,
    pub snare: Vec<f32>,
    pub hihat: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_round_trip() {
        for tonic in 0..12u8 {
            for mode in [Mode::Major, Mode::Minor] {
                let k = Key { tonic, mode };
                assert_eq!(Key::parse(&k.name()), Some(k));
            }
        }
    }

    #[test]
    fn key_parse_spellings() {
        let a_min = Key {
            tonic: 9,
            mode: Mode::Minor,
        };
        assert_eq!(Key::parse("a minor"), Some(a_min));
        assert_eq!(Key::parse("Am"), Some(a_min));
        assert_eq!(Key::parse("A min"), Some(a_min));
        assert_eq!(Key::parse("D# major"), Key::parse("Eb major"));
        assert_eq!(
            Key::parse("C"),
            Some(Key {
                tonic: 0,
                mode: Mode::Major
            })
        );
        assert_eq!(Key::parse("H minor"), None);
        assert_eq!(Key::parse("A dorian"), None);
        assert_eq!(Key::parse(""), None);
    }
}

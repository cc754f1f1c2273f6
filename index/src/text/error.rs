//! Errors of the text index.
//!
//! The text index is derived data: every document in it can be rebuilt from
//! the canonical records in the store. So the one failure a caller must be
//! able to tell apart is "this folder does not hold an index we can read"
//! ([`TextError::needs_rebuild`]): the answer to it is to wipe the folder with
//! [`TextIndex::recreate`](super::TextIndex::recreate) and re-index, not to
//! stop the service. Everything else is reported as it is.

use std::path::{Path, PathBuf};

use tantivy::directory::error::{LockError, OpenDirectoryError, OpenReadError};
use tantivy::TantivyError;

/// Failures of [`TextIndex`](super::TextIndex).
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The folder holds files that are not a readable text index (truncated,
    /// damaged, or from another program or tantivy version).
    #[error("the text index at {path} is corrupt or unreadable ({reason}); recreate it and re-index the tracks")]
    Corrupt { path: PathBuf, reason: String },
    /// The folder holds a text index of an older or newer Sonica with other fields.
    #[error("the text index at {path} was written with another layout of fields; recreate it and re-index the tracks")]
    ForeignSchema { path: PathBuf },
    /// Another process writes to the same folder.
    #[error("the text index at {path} is in use by another process (its writer lock is held)")]
    Locked { path: PathBuf },
    /// A filter that cannot mean anything (a NaN bound).
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// A file-system failure (permissions, full disk).
    #[error("I/O error on the text index: {0}")]
    Io(#[from] std::io::Error),
    /// Any other failure inside tantivy.
    #[error("text index error: {0}")]
    Tantivy(#[from] TantivyError),
}

impl TextError {
    /// True when the folder should be wiped and the index rebuilt from the
    /// canonical records (see [`TextIndex::recreate`](super::TextIndex::recreate)).
    pub fn needs_rebuild(&self) -> bool {
        matches!(self, TextError::Corrupt { .. } | TextError::ForeignSchema { .. })
    }

    /// Sorts an error met while opening the index in `path` into the
    /// variants a caller acts on: damaged data, other layout, lock, I/O.
    pub(crate) fn from_open(path: &Path, err: TantivyError) -> TextError {
        let corrupt = |reason: String| TextError::Corrupt {
            path: path.to_path_buf(),
            reason: one_line(&reason),
        };
        match err {
            TantivyError::LockFailure(LockError::LockBusy, _) => TextError::Locked {
                path: path.to_path_buf(),
            },
            TantivyError::SchemaError(_) => TextError::ForeignSchema {
                path: path.to_path_buf(),
            },
            TantivyError::DataCorruption(c) => corrupt(format!("{c:?}")),
            TantivyError::IncompatibleIndex(i) => corrupt(format!("incompatible tantivy index: {i:?}")),
            TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(f)) => {
                corrupt(format!("missing file {}", f.display()))
            }
            TantivyError::OpenReadError(OpenReadError::IncompatibleIndex(i)) => {
                corrupt(format!("incompatible tantivy index: {i:?}"))
            }
            TantivyError::OpenDirectoryError(OpenDirectoryError::NotADirectory(p)) => {
                TextError::Io(std::io::Error::other(format!("{} is not a directory", p.display())))
            }
            TantivyError::DeserializeError(e) => corrupt(format!("{e}")),
            // Reading meta.json or a segment hit a damaged file: tantivy reports
            // a JSON or footer failure as an I/O error of kind InvalidData.
            TantivyError::IoError(e) if e.kind() == std::io::ErrorKind::InvalidData => corrupt(e.to_string()),
            TantivyError::OpenReadError(OpenReadError::IoError { io_error, filepath })
                if io_error.kind() == std::io::ErrorKind::InvalidData =>
            {
                corrupt(format!("{}: {io_error}", filepath.display()))
            }
            other => TextError::Tantivy(other),
        }
    }
}

/// Keeps a reason to one short line: tantivy quotes whole damaged files in
/// its messages, which would flood a log.
fn one_line(reason: &str) -> String {
    const MAX_CHARS: usize = 200;
    let flat: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match flat.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_are_sorted_for_the_caller() {
        let p = Path::new("/x");
        let e = TextError::from_open(p, TantivyError::SchemaError("no".into()));
        assert!(matches!(e, TextError::ForeignSchema { .. }) && e.needs_rebuild());
        let e = TextError::from_open(p, TantivyError::LockFailure(LockError::LockBusy, None));
        assert!(matches!(e, TextError::Locked { .. }) && !e.needs_rebuild());
        let e = TextError::from_open(
            p,
            TantivyError::OpenReadError(OpenReadError::FileDoesNotExist("a".into())),
        );
        assert!(e.needs_rebuild());
        let e = TextError::from_open(p, TantivyError::InvalidArgument("x".into()));
        assert!(matches!(e, TextError::Tantivy(_)) && !e.needs_rebuild());
        assert!(e.to_string().contains("x"));
    }

    #[test]
    fn corrupt_reasons_stay_one_short_line() {
        let long = format!("line one\n{}", "é".repeat(1000));
        let r = one_line(&long);
        assert!(!r.contains('\n'));
        assert_eq!(r.chars().count(), 201);
    }
}

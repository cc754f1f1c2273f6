//! Opening the on-disk library: where the store lives and how it is opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sonica_index::{FingerprintIndex, Hasher, KvStore, SledStore};

use crate::fingerprint::hashes::index_hashes;
use crate::fingerprint::FingerprintParams;

use crate::SonicaError;

/// The data directory used when neither `--data-dir` nor `SONICA_DATA_DIR`
/// is given.
pub const DEFAULT_DATA_DIR: &str = "sonica-data";

/// Resolves the data directory: explicit, else environment, else default.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os("SONICA_DATA_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// Opens (creating if needed) the fingerprint index stored in `dir`.
pub fn open_library(dir: &Path) -> Result<FingerprintIndex, SonicaError> {
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.join("store"))?);
    Ok(FingerprintIndex::open(store, index_hasher())?)
}

/// The rule that turns stored peaks into index postings.
pub fn index_hasher() -> Hasher {
    let pairs = FingerprintParams::index().pairs;
    Arc::new(move |peaks| index_hashes(peaks, &pairs))
}

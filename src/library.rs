//! Opening the on-disk library: where the store lives and how it is opened.

use std::path::Path;
use std::sync::Arc;

use sonica_index::{FingerprintIndex, Hasher, KvStore, SledStore};

use crate::fingerprint::hashes::index_hashes;
use crate::fingerprint::FingerprintParams;

use crate::SonicaError;

/// The data directory used when neither `--data-dir` nor `SONICA_DATA_DIR`
/// is given (the CLI resolves the three in that order).
pub const DEFAULT_DATA_DIR: &str = "sonica-data";

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

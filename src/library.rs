//! Opening the on-disk library: where the store lives and how it is opened.

use std::path::Path;
use std::sync::Arc;

use sonica_index::music::Mixer;
use sonica_index::{FingerprintIndex, Hasher, KvStore, MusicIndex, SledStore};

use crate::fingerprint::hashes::index_hashes;
use crate::fingerprint::FingerprintParams;

use crate::SonicaError;

/// The data directory used when neither `--data-dir` nor `SONICA_DATA_DIR`
/// is given (the CLI resolves the three in that order).
pub const DEFAULT_DATA_DIR: &str = "sonica-data";

/// Opens (creating if needed) the fingerprint index stored in `dir`, with
/// the store's default cache (sized for short CLI runs).
pub fn open_library(dir: &Path) -> Result<FingerprintIndex, SonicaError> {
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.join("store"))?);
    Ok(FingerprintIndex::open(store, index_hasher())?)
}

/// [`open_library`] with a page cache of `cache_bytes`: a long-running
/// service answers most bucket reads from memory this way.
pub fn open_library_with_cache(dir: &Path, cache_bytes: u64) -> Result<FingerprintIndex, SonicaError> {
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open_with_cache(&dir.join("store"), cache_bytes)?);
    Ok(FingerprintIndex::open(store, index_hasher())?)
}

/// The rule that turns stored peaks into index postings.
pub fn index_hasher() -> Hasher {
    let pairs = FingerprintParams::index().pairs;
    Arc::new(move |peaks| index_hashes(peaks, &pairs))
}

/// Opens the music indexes (vector graphs and text) beside the store in
/// `dir`, repairs them from the store, and registers them so that every
/// later add and remove reaches them.
pub fn open_music(dir: &Path, index: &FingerprintIndex) -> Result<Arc<MusicIndex>, SonicaError> {
    let (music, report) = MusicIndex::open(dir, index, mixer())?;
    if report.vectors_repaired > 0 || report.text_repaired > 0 {
        tracing::info!(
            vectors_loaded = report.vectors_loaded,
            vectors_repaired = report.vectors_repaired,
            text_repaired = report.text_repaired,
            "music indexes repaired from the store"
        );
    }
    let music = Arc::new(music);
    index.set_observer(music.clone());
    Ok(music)
}

/// The rule that builds the mixed vector from an analysis.
pub fn mixer() -> Mixer {
    Arc::new(crate::analysis::mixed_vector)
}

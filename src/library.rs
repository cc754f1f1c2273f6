//! A Sonica library on disk, opened in one call.
//!
//! [`Library::open`] opens the store, the fingerprint index over it and
//! the search indexes beside it (vector graphs and text), repairs the
//! search indexes from the store, and registers them as the store's
//! observer, so every later add and remove reaches them. It is the only way
//! the crate opens a library: no caller can forget the wiring.
//!
//! ```no_run
//! use sonica::{Library, OpenOptions};
//!
//! let library = Library::open("my-library".as_ref(), &OpenOptions::default())?;
//! println!("{} tracks", library.index().len());
//! # Ok::<(), sonica::SonicaError>(())
//! ```

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sonica_index::Mixer;
use sonica_index::{
    FingerprintIndex, Hasher, JobQueue, KvStore, MasteringLibrary, MemStore, MusicIndex, RedisStore, SledStore,
};

use crate::SonicaError;

/// The data directory used when neither `--data-dir` nor `SONICA_DATA_DIR`
/// is given.
pub const DEFAULT_DATA_DIR: &str = "sonica-data";

/// How a library is opened.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// sled's page cache; `None`: the store's default, sized for short
    /// command-line runs.
    pub page_cache_bytes: Option<u64>,
    /// Parsed compacted blocks kept in memory (what recognition reads);
    /// 0: none.
    pub block_cache_bytes: usize,
    /// Open the search indexes too. Off only for commands that just
    /// recognise (they start faster); writes through such a library are
    /// caught up by the search indexes at the next full open.
    pub search_indexes: bool,
    /// Also open a store of the older format a rebuild upgrades
    /// (`sonica-reindex --rebuild`, which completes the upgrade); every
    /// other command refuses it with that advice.
    pub upgrade: bool,
    /// Redis Cluster seeds (`redis://host:port,…`): the records, peaks,
    /// buckets and jobs live there, shared with every node opened on it;
    /// the search indexes stay in `dir`, following the cluster's changes.
    /// `None`: the embedded sled store in `dir/store`.
    pub cluster: Option<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            page_cache_bytes: None,
            block_cache_bytes: 0,
            search_indexes: true,
            upgrade: false,
            cluster: None,
        }
    }
}

/// The key prefix of a library on a cluster; `SONICA_CLUSTER_NAMESPACE`
/// gives several libraries one cluster (tests use it).
pub fn cluster_namespace() -> String {
    std::env::var("SONICA_CLUSTER_NAMESPACE")
        .ok()
        .filter(|n| {
            !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(|| "sonica".to_string())
}

impl OpenOptions {
    /// For commands that only recognise: no search indexes.
    pub fn recognition_only() -> Self {
        OpenOptions {
            search_indexes: false,
            ..OpenOptions::default()
        }
    }
}

/// An open library: the fingerprint index (records, peaks, hash tiers,
/// analyses) and, unless opened for recognition only, the search indexes
/// wired to it. Dereferences to the fingerprint index.
pub struct Library {
    dir: PathBuf,
    index: Arc<FingerprintIndex>,
    music: Option<Arc<MusicIndex>>,
    mastering: Arc<MasteringLibrary>,
    /// The cluster's job queue; `None` on the embedded store.
    job_queue: Option<JobQueue>,
}

impl Library {
    /// Opens the library in `dir`, creating an empty one if there is none.
    pub fn open(dir: &Path, options: &OpenOptions) -> Result<Library, SonicaError> {
        // On a cluster, where the change stream ends is taken before
        // anything is read: whatever other nodes write from then on is
        // replayed once this node is open (replays are harmless).
        let (store, cursor, job_queue): (Arc<dyn KvStore>, Option<String>, Option<JobQueue>) = match &options.cluster {
            Some(urls) => {
                let store = RedisStore::open(urls, &cluster_namespace())?;
                let cursor = store.change_cursor()?;
                let queue = store.job_queue();
                (Arc::new(store), Some(cursor), Some(queue))
            }
            None => {
                let store_dir = dir.join("store");
                let store = match options.page_cache_bytes {
                    Some(bytes) => SledStore::open_with_cache(&store_dir, bytes)?,
                    None => SledStore::open(&store_dir)?,
                };
                (Arc::new(store), None, None)
            }
        };
        let index = FingerprintIndex::open_with(store, index_hasher(), options.upgrade)?;
        let index = Arc::new(if options.block_cache_bytes > 0 {
            index.with_block_cache(options.block_cache_bytes)
        } else {
            index
        });
        let music = match options.search_indexes {
            true => Some(wire_music(dir, &index)?),
            false => None,
        };
        if let Some(cursor) = cursor {
            index.follow_from(cursor)?;
        }
        let mastering = Arc::new(MasteringLibrary::open(index.clone())?);
        Ok(Library {
            dir: dir.to_path_buf(),
            index,
            music,
            mastering,
            job_queue,
        })
    }

    /// A library held in memory only (a dry run, tests): nothing touches
    /// the disk.
    pub fn in_memory() -> Result<Library, SonicaError> {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let index = Arc::new(FingerprintIndex::open(store, index_hasher())?);
        let music = Arc::new(MusicIndex::in_memory(mixer())?);
        index.set_observer(music.clone());
        let mastering = Arc::new(MasteringLibrary::open(index.clone())?);
        Ok(Library {
            dir: PathBuf::new(),
            index,
            music: Some(music),
            mastering,
            job_queue: None,
        })
    }

    /// The folder the library lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fingerprint index (also reachable through `Deref`).
    pub fn index(&self) -> &FingerprintIndex {
        &self.index
    }

    /// The fingerprint index, shared.
    pub fn shared_index(&self) -> &Arc<FingerprintIndex> {
        &self.index
    }

    /// The search indexes; `None` for a library opened for recognition only.
    pub fn music(&self) -> Option<&Arc<MusicIndex>> {
        self.music.as_ref()
    }

    /// The job queue every node's workers share, when the library lives
    /// on a cluster.
    pub fn job_queue(&self) -> Option<&JobQueue> {
        self.job_queue.as_ref()
    }

    /// The mastering assistant's references and stored analyses.
    pub fn mastering(&self) -> &Arc<MasteringLibrary> {
        &self.mastering
    }

    /// Writes the search indexes' pending changes to disk.
    pub fn sync(&self) -> Result<(), SonicaError> {
        if let Some(m) = &self.music {
            m.sync()?;
        }
        Ok(())
    }
}

impl Deref for Library {
    type Target = FingerprintIndex;

    fn deref(&self) -> &FingerprintIndex {
        &self.index
    }
}

/// Opens the search indexes beside the store in `dir`, repairs them from
/// the store, and registers them so that every later add and remove
/// reaches them.
fn wire_music(dir: &Path, index: &FingerprintIndex) -> Result<Arc<MusicIndex>, SonicaError> {
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

/// The rule that turns stored peaks into index postings.
pub fn index_hasher() -> Hasher {
    Arc::new(crate::fingerprint::track_hashes)
}

/// The rule that builds the mixed vector from an analysis.
pub fn mixer() -> Mixer {
    Arc::new(crate::analysis::mixed_vector)
}

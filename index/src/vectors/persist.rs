//! Saving and loading a vector index, kill-safely.
//!
//! Layout of an index folder:
//! ```text
//! manifest.json            the commit point: names the current generation
//! gen-000000000007/        one complete save
//!     vectors.bin          our raw vectors, ids and tombstones (below)
//!     graph.hnsw.graph     hnsw_rs's dump of the graph …
//!     graph.hnsw.data      … and of its copy of the vectors
//! ```
//! A save writes a new `gen-N` folder, fsyncs every file and the folder,
//! then replaces `manifest.json` by writing `manifest.json.tmp`, fsyncing
//! and renaming it (atomic on POSIX). A kill before the rename leaves the
//! old manifest naming the old, intact generation; the half-written folder
//! is ignored and removed by the next open or save. The manifest also holds
//! each file's length and checksum, so a torn or bit-rotted file is caught
//! before hnsw_rs (which asserts and panics on bad bytes) ever reads it.
//!
//! The byte format of `vectors.bin` and the checksum are in `format.rs`.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::VectorError;
use super::format::{checksum, decode, encode};
use super::graph::Graph;
use super::store::SlotStore;
use super::tuning::Tuning;

/// Bumped whenever any file of the layout changes meaning.
pub const FORMAT_VERSION: u32 = 1;
pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const MANIFEST_TMP: &str = "manifest.json.tmp";
pub(crate) const VECTORS: &str = "vectors.bin";
const GRAPH_BASENAME: &str = "graph";
pub(crate) const GEN_PREFIX: &str = "gen-";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    dim: usize,
    generation: u64,
    folder: String,
    live: usize,
    slots: usize,
    tombstones: usize,
    /// `None` for an empty index (hnsw_rs cannot dump an empty graph).
    graph: Option<GraphInfo>,
    files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct GraphInfo {
    basename: String,
    points: usize,
    m: usize,
    ef_construction: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    name: String,
    len: u64,
    checksum: u64,
}

/// What `load` found.
pub(crate) enum Loaded {
    /// No manifest: a new index.
    Absent,
    /// Vectors read; the graph loaded (`None`: the save was empty and has
    /// no graph), or the reason it could not be.
    Found {
        store: SlotStore,
        graph: Result<Option<Box<Graph>>, VectorError>,
        generation: u64,
    },
    /// Nothing usable (corrupt manifest or vectors, other dim or version).
    Discarded(VectorError),
}

pub(crate) fn gen_folder(generation: u64) -> String {
    format!("{GEN_PREFIX}{generation:012}")
}

/// Reads the save in `dir`, checking every promise the manifest makes.
pub(crate) fn load(dir: &Path, dim: usize) -> Loaded {
    let path = dir.join(MANIFEST);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Absent,
        Err(e) => return Loaded::Discarded(VectorError::io(path, e)),
    };
    let manifest: Manifest = match serde_json::from_slice(&text) {
        Ok(m) => m,
        Err(e) => return Loaded::Discarded(VectorError::corrupt(path, format!("unreadable manifest: {e}"))),
    };
    if manifest.format_version != FORMAT_VERSION || manifest.dim != dim {
        let reason = format!(
            "saved with format {} dim {}, this index uses format {FORMAT_VERSION} dim {dim}",
            manifest.format_version, manifest.dim
        );
        return Loaded::Discarded(VectorError::corrupt(path, reason));
    }
    if manifest.folder != gen_folder(manifest.generation) {
        return Loaded::Discarded(VectorError::corrupt(
            path,
            format!("unexpected folder {:?}", manifest.folder),
        ));
    }
    let folder = dir.join(&manifest.folder);
    let store =
        match read_checked(&folder, &manifest, VECTORS).and_then(|bytes| decode(&bytes, dim, &folder.join(VECTORS))) {
            Ok(store) => store,
            Err(e) => return Loaded::Discarded(e),
        };
    if (store.live(), store.slots()) != (manifest.live, manifest.slots) {
        let reason = format!(
            "holds {} live of {} slots, manifest says {}",
            store.live(),
            store.slots(),
            manifest.live
        );
        return Loaded::Discarded(VectorError::corrupt(folder.join(VECTORS), reason));
    }
    let graph = load_graph(&folder, &manifest, &store);
    Loaded::Found {
        store,
        graph,
        generation: manifest.generation,
    }
}

fn load_graph(folder: &Path, manifest: &Manifest, store: &SlotStore) -> Result<Option<Box<Graph>>, VectorError> {
    if store.slots() == 0 && manifest.graph.is_none() {
        return Ok(None);
    }
    let info = manifest
        .graph
        .as_ref()
        .ok_or_else(|| VectorError::corrupt(folder, "manifest lists no graph"))?;
    for suffix in [".hnsw.graph", ".hnsw.data"] {
        read_checked(folder, manifest, &format!("{}{suffix}", info.basename))?;
    }
    let graph = Graph::load(folder, &info.basename, store.dim())?;
    if graph.points() != store.slots() || info.points != store.slots() {
        let reason = format!("graph has {} points for {} slots", graph.points(), store.slots());
        return Err(VectorError::corrupt(folder, reason));
    }
    Ok(Some(Box::new(graph)))
}

/// Reads a file the manifest lists and checks its length and checksum.
fn read_checked(folder: &Path, manifest: &Manifest, name: &str) -> Result<Vec<u8>, VectorError> {
    let path = folder.join(name);
    let entry = manifest
        .files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| VectorError::corrupt(&path, "not listed in the manifest"))?;
    let bytes = fs::read(&path).map_err(|e| VectorError::io(&path, e))?;
    if bytes.len() as u64 != entry.len || checksum(&bytes) != entry.checksum {
        return Err(VectorError::corrupt(
            &path,
            "length or checksum differs from the manifest",
        ));
    }
    Ok(bytes)
}

/// Writes a new generation and commits it; returns its number. An empty
/// store is saved without graph files (hnsw_rs cannot dump an empty graph).
pub(crate) fn save(dir: &Path, store: &SlotStore, graph: &Graph, tuning: &Tuning) -> Result<u64, VectorError> {
    fs::create_dir_all(dir).map_err(|e| VectorError::io(dir, e))?;
    let generation = last_generation(dir) + 1;
    let name = gen_folder(generation);
    let folder = dir.join(&name);
    if folder.exists() {
        fs::remove_dir_all(&folder).map_err(|e| VectorError::io(&folder, e))?;
    }
    fs::create_dir(&folder).map_err(|e| VectorError::io(&folder, e))?;

    let mut files = vec![write_synced(&folder, VECTORS, &encode(store))?];
    let graph_info = if store.slots() > 0 {
        if graph.points() != store.slots() {
            let reason = format!("graph has {} points for {} slots", graph.points(), store.slots());
            return Err(VectorError::Hnsw {
                operation: "dump",
                reason,
            });
        }
        graph.dump(&folder, GRAPH_BASENAME)?;
        for suffix in [".hnsw.graph", ".hnsw.data"] {
            files.push(sync_and_describe(&folder, &format!("{GRAPH_BASENAME}{suffix}"))?);
        }
        let (m, ef_construction) = (tuning.m, tuning.ef_construction);
        Some(GraphInfo {
            basename: GRAPH_BASENAME.into(),
            points: graph.points(),
            m,
            ef_construction,
        })
    } else {
        None
    };
    sync_dir(&folder)?;

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        dim: store.dim(),
        generation,
        folder: name.clone(),
        live: store.live(),
        slots: store.slots(),
        tombstones: store.tombstones(),
        graph: graph_info,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_synced(dir, MANIFEST_TMP, &json)?;
    let (tmp, fin) = (dir.join(MANIFEST_TMP), dir.join(MANIFEST));
    fs::rename(&tmp, &fin).map_err(|e| VectorError::io(&fin, e))?;
    sync_dir(dir)?;
    clean(dir, Some(&name));
    Ok(generation)
}

/// Removes generation folders other than `keep` and a stray temp manifest:
/// leftovers of crashed or superseded saves. Best effort: a folder that
/// cannot be removed now is retried next time. With `keep = None` (no
/// manifest) every generation folder is stale.
pub(crate) fn clean(dir: &Path, keep: Option<&str>) {
    let _ = fs::remove_file(dir.join(MANIFEST_TMP));
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(GEN_PREFIX) && Some(name.as_str()) != keep {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Highest generation number in a folder name (0 when none): a new save
/// never reuses a number, even after a corrupt manifest.
fn last_generation(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix(GEN_PREFIX)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

fn write_synced(folder: &Path, name: &str, bytes: &[u8]) -> Result<FileEntry, VectorError> {
    let path = folder.join(name);
    let file = File::create(&path).map_err(|e| VectorError::io(&path, e))?;
    let mut out = BufWriter::new(file);
    out.write_all(bytes).map_err(|e| VectorError::io(&path, e))?;
    let file = out.into_inner().map_err(|e| VectorError::io(&path, e.into_error()))?;
    file.sync_all().map_err(|e| VectorError::io(&path, e))?;
    Ok(FileEntry {
        name: name.into(),
        len: bytes.len() as u64,
        checksum: checksum(bytes),
    })
}

fn sync_and_describe(folder: &Path, name: &str) -> Result<FileEntry, VectorError> {
    let path = folder.join(name);
    let mut file = File::open(&path).map_err(|e| VectorError::io(&path, e))?;
    file.sync_all().map_err(|e| VectorError::io(&path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| VectorError::io(&path, e))?;
    Ok(FileEntry {
        name: name.into(),
        len: bytes.len() as u64,
        checksum: checksum(&bytes),
    })
}

fn sync_dir(dir: &Path) -> Result<(), VectorError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| VectorError::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_keeps_the_current_generation_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [gen_folder(3), gen_folder(4), gen_folder(5)] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        fs::write(dir.path().join(MANIFEST_TMP), b"{").unwrap();
        fs::write(dir.path().join("README"), b"not ours").unwrap();
        assert_eq!(last_generation(dir.path()), 5);
        clean(dir.path(), Some(&gen_folder(4)));
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["README".to_string(), gen_folder(4)]);
        assert_eq!(last_generation(dir.path()), 4);
        clean(dir.path(), None);
        assert_eq!(last_generation(dir.path()), 0);
    }

    #[test]
    fn a_missing_manifest_is_absent_and_a_missing_file_discards() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load(dir.path(), 4), Loaded::Absent));
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            dim: 4,
            generation: 1,
            folder: gen_folder(1),
            live: 0,
            slots: 0,
            tombstones: 0,
            graph: None,
            files: Vec::new(),
        };
        fs::write(dir.path().join(MANIFEST), serde_json::to_vec(&manifest).unwrap()).unwrap();
        let Loaded::Discarded(e) = load(dir.path(), 4) else {
            panic!("expected Discarded")
        };
        assert!(e.to_string().contains("not listed"), "{e}");
        let escaping = Manifest {
            folder: "../elsewhere".into(),
            ..manifest
        };
        fs::write(dir.path().join(MANIFEST), serde_json::to_vec(&escaping).unwrap()).unwrap();
        assert!(matches!(load(dir.path(), 4), Loaded::Discarded(_)));
    }
}

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
//! `vectors.bin` (little-endian): magic `SNVEC\0\0\x01`, dim u32, 4 zero
//! bytes, slot count u64, ids `[u32; n]`, alive flags `[u8; n]` (0/1) padded
//! with zeros to a multiple of 4, vectors `[f32; n * dim]`.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::VectorError;
use super::graph::Graph;
use super::store::SlotStore;
use super::tuning::Tuning;

/// Bumped whenever any file of the layout changes meaning.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const MANIFEST_TMP: &str = "manifest.json.tmp";
const VECTORS: &str = "vectors.bin";
const GRAPH_BASENAME: &str = "graph";
const GEN_PREFIX: &str = "gen-";
const MAGIC: &[u8; 8] = b"SNVEC\0\0\x01";
const HEADER_LEN: usize = 24;

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
    let store = match read_checked(&folder, &manifest, VECTORS).and_then(|bytes| decode(&bytes, dim, &folder)) {
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

/// 64-bit checksum over 8-byte words (FxHash's mix plus a final avalanche):
/// not cryptographic, only meant to catch torn writes and bit rot, at
/// several GB/s so checking a 100 MB save costs tens of milliseconds.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    for word in words {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word.try_into().expect("8 bytes"))).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn padded(n: usize) -> usize {
    n.div_ceil(4) * 4
}

fn encode(store: &SlotStore) -> Vec<u8> {
    let (ids, alive, data) = store.parts();
    let n = ids.len();
    let mut out = Vec::with_capacity(HEADER_LEN + 4 * n + padded(n) + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(store.dim() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(n as u64).to_le_bytes());
    ids.iter().for_each(|id| out.extend_from_slice(&id.to_le_bytes()));
    alive.iter().for_each(|&a| out.push(a as u8));
    out.resize(out.len() + padded(n) - n, 0);
    data.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    out
}

fn decode(bytes: &[u8], dim: usize, folder: &Path) -> Result<SlotStore, VectorError> {
    let bad = |reason: String| VectorError::corrupt(folder.join(VECTORS), reason);
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(bad("missing header".into()));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    if word(8) as usize != dim {
        return Err(bad(format!("holds dim {}, expected {dim}", word(8))));
    }
    let n = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let expected = usize::try_from(n)
        .ok()
        .and_then(|n| Some((n, n.checked_mul(4 + 4 * dim)?.checked_add(padded(n) + HEADER_LEN)?)));
    let Some((n, len)) = expected.filter(|&(_, len)| len == bytes.len()) else {
        return Err(bad(format!("{} bytes do not fit {n} slots of dim {dim}", bytes.len())));
    };
    let ids: Vec<u32> = (0..n).map(|i| word(HEADER_LEN + 4 * i)).collect();
    let flags = &bytes[HEADER_LEN + 4 * n..HEADER_LEN + 5 * n];
    if flags.iter().any(|&f| f > 1) {
        return Err(bad("alive flag other than 0 or 1".into()));
    }
    let start = HEADER_LEN + 4 * n + padded(n);
    let data: Vec<f32> = bytes[start..len]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    if data.iter().any(|x| !x.is_finite()) {
        return Err(bad("non-finite vector value".into()));
    }
    let alive = flags.iter().map(|&f| f == 1).collect();
    SlotStore::from_parts(dim, ids, alive, data).ok_or_else(|| bad("an id is live in two slots".into()))
}

#[cfg(test)]
mod tests {
    use super::super::test_data::clustered;
    use super::super::{LoadOutcome, Strategy, VectorIndex, VectorStats};
    use super::*;

    fn top(index: &VectorIndex, q: &[f32], strategy: Strategy) -> Vec<u32> {
        index
            .search_with(q, 10, None, strategy)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect()
    }

    /// A saved index of 1500 vectors with one removal and one replacement.
    fn saved(dir: &Path) -> (VectorIndex, Vec<(u32, Vec<f32>)>) {
        let index = VectorIndex::open(dir, 12).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Created);
        let data = clustered(1500, 12, 31);
        index.insert_many(&data).unwrap();
        index.remove(4);
        index.insert(6, &data[700].1).unwrap();
        assert!(index.is_dirty());
        index.save().unwrap();
        assert!(!index.is_dirty());
        (index, data)
    }

    fn gen_folders(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(GEN_PREFIX))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_then_open_loads_the_graph_without_rebuilding() {
        let dir = tempfile::tempdir().unwrap();
        let (before, data) = saved(dir.path());
        let again = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!(again.load_outcome(), &LoadOutcome::Loaded);
        assert!(again.loaded_from_disk() && !again.is_dirty());
        let stats = again.stats();
        assert_eq!(stats.graph_origin, super::super::GraphOrigin::Loaded);
        assert_eq!((stats.graph_builds, stats.generation), (0, 1));
        assert_eq!(
            stats,
            VectorStats {
                graph_origin: stats.graph_origin,
                graph_builds: 0,
                ..before.stats()
            }
        );
        assert_eq!(again.ids(), before.ids());
        assert_eq!(again.get(6), before.get(6));
        for (_, q) in data.iter().step_by(101) {
            let graph = Strategy::Graph { ef: None };
            assert_eq!(top(&again, q, graph), top(&before, q, graph));
            assert!(!top(&again, q, graph).contains(&4));
        }
        // A loaded graph keeps growing and saves again as generation 2.
        again.insert(9000, &data[3].1).unwrap();
        assert!(top(&again, &data[3].1, Strategy::Graph { ef: None })[..2].contains(&9000));
        again.save().unwrap();
        assert_eq!(gen_folders(dir.path()), vec![gen_folder(2)]);
        let third = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!((third.len(), third.stats().generation), (1500, 2));
    }

    #[test]
    fn empty_index_saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        VectorIndex::open(dir.path(), 5).unwrap().save().unwrap();
        let index = VectorIndex::open(dir.path(), 5).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Loaded);
        assert!(index.is_empty());
        index.insert(1, &[1.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
        assert_eq!(index.search(&[1.0, 0.0, 0.0, 0.0, 0.0], 3, None).unwrap()[0].id, 1);
    }

    #[test]
    fn corrupt_manifest_or_vectors_give_an_empty_index() {
        let dir = tempfile::tempdir().unwrap();
        saved(dir.path());
        let other_dim = VectorIndex::open(dir.path(), 13).unwrap();
        assert!(matches!(other_dim.load_outcome(), LoadOutcome::Discarded { .. }));
        assert!(other_dim.is_empty() && !other_dim.loaded_from_disk());

        let vectors = dir.path().join(gen_folder(1)).join(VECTORS);
        let mut bytes = fs::read(&vectors).unwrap();
        bytes[HEADER_LEN + 40] ^= 0x55;
        fs::write(&vectors, &bytes).unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        let LoadOutcome::Discarded { reason } = index.load_outcome() else {
            panic!("{:?}", index.load_outcome())
        };
        assert!(reason.contains("checksum"), "{reason}");
        assert!(index.is_empty());

        fs::write(dir.path().join(MANIFEST), b"{\"format_version\": 1, \"dim\": ").unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert!(matches!(index.load_outcome(), LoadOutcome::Discarded { .. }));
        // The caller re-inserts and saves; the bad generation is replaced.
        index.insert(1, &[1.0; 12]).unwrap();
        index.save().unwrap();
        assert_eq!(gen_folders(dir.path()), vec![gen_folder(2)]);
        assert_eq!(VectorIndex::open(dir.path(), 12).unwrap().ids(), vec![1]);
    }

    #[test]
    fn bad_graph_files_are_rebuilt_from_the_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let (before, data) = saved(dir.path());
        let folder = dir.path().join(gen_folder(1));
        let graph_file = folder.join("graph.hnsw.graph");
        let len = fs::metadata(&graph_file).unwrap().len();
        File::options()
            .write(true)
            .open(&graph_file)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert!(
            matches!(index.load_outcome(), LoadOutcome::RebuiltGraph { .. }),
            "{:?}",
            index.load_outcome()
        );
        assert!(index.loaded_from_disk() && index.is_dirty());
        assert_eq!(index.ids(), before.ids());
        assert_eq!(index.stats().graph_builds, 1);
        assert_eq!(top(&index, &data[20].1, Strategy::Auto)[0], 20);

        // Garbage that passes the checksum (manifest rewritten to match)
        // reaches hnsw_rs, which panics; the panic is caught.
        let garbage = vec![0xAB; 4096];
        fs::write(&graph_file, &garbage).unwrap();
        let path = dir.path().join(MANIFEST);
        let mut manifest: Manifest = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let entry = manifest
            .files
            .iter_mut()
            .find(|f| f.name == "graph.hnsw.graph")
            .unwrap();
        (entry.len, entry.checksum) = (garbage.len() as u64, checksum(&garbage));
        fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert!(
            matches!(index.load_outcome(), LoadOutcome::RebuiltGraph { .. }),
            "{:?}",
            index.load_outcome()
        );
        assert_eq!(index.len(), before.len());
    }

    #[test]
    fn leftovers_of_a_crashed_save_are_ignored_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let (before, _) = saved(dir.path());
        // A save killed after writing its folder but before the manifest
        // rename: a newer generation folder with a half-written file, and a
        // temp manifest pointing at it.
        let crashed = dir.path().join(gen_folder(2));
        fs::create_dir(&crashed).unwrap();
        fs::write(crashed.join(VECTORS), b"SNVEC\0\0\x01 half").unwrap();
        fs::write(dir.path().join(MANIFEST_TMP), b"{\"format_version\":1,\"generation\":2").unwrap();
        let index = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Loaded);
        assert_eq!(index.ids(), before.ids());
        assert_eq!(gen_folders(dir.path()), vec![gen_folder(1)]);
        assert!(!dir.path().join(MANIFEST_TMP).exists());
        // The next save does not reuse anything of the crashed one.
        index.remove(1);
        index.save().unwrap();
        let reopened = VectorIndex::open(dir.path(), 12).unwrap();
        assert_eq!(reopened.len(), before.len() - 1);
        // Before any manifest, every generation folder is a leftover.
        let fresh = tempfile::tempdir().unwrap();
        fs::create_dir(fresh.path().join(gen_folder(1))).unwrap();
        let index = VectorIndex::open(fresh.path(), 12).unwrap();
        assert_eq!(index.load_outcome(), &LoadOutcome::Created);
        assert!(gen_folders(fresh.path()).is_empty());
    }

    #[test]
    fn vectors_file_round_trips_and_rejects_damage() {
        let mut store = SlotStore::new(3);
        store.push(4, &[1.0, 0.0, 0.0]);
        store.push(9, &[0.0, 1.0, 0.0]);
        store.push(4, &[0.0, 0.0, 1.0]);
        let bytes = encode(&store);
        let back = decode(&bytes, 3, Path::new("/f")).unwrap();
        assert_eq!(back.parts(), store.parts());
        assert_eq!(back.slot_of(4), Some(2));
        assert!(decode(&bytes, 4, Path::new("/f")).is_err());
        assert!(decode(&bytes[..bytes.len() - 1], 3, Path::new("/f")).is_err());
        let mut flag = bytes.clone();
        flag[HEADER_LEN + 12] = 7;
        assert!(decode(&flag, 3, Path::new("/f")).is_err());
        let mut huge = bytes;
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge, 3, Path::new("/f")).is_err());
    }

    #[test]
    fn checksum_sees_every_byte_and_the_length() {
        let a = vec![7u8; 1001];
        let base = checksum(&a);
        for at in [0, 500, 999, 1000] {
            let mut b = a.clone();
            b[at] ^= 1;
            assert_ne!(checksum(&b), base, "byte {at}");
        }
        assert_ne!(checksum(&a[..1000]), base);
        assert_ne!(checksum(&[]), checksum(&[0]));
    }
}

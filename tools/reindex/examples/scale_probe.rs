//! Bench helper, not part of the tool: the measuring half of
//! `benches/scale.sh`. Opens a library as `sonica identify` does, then
//! identifies clip files one at a time through the same path
//! (`identify_file`: decode, then the one `Identifier`), and prints one
//! JSON line: the library's size, open time, resident memory after the
//! open and after the queries, wall time per clip (p50/p99) for clips of
//! known tracks and of unknown audio, the known clips' accuracy, and the
//! hash bucket reads per clip. Each clip's CPU time (the thread's, which a
//! busy shared machine does not inflate as it does wall time) is reported
//! beside its wall time, with the mean CPU per stage (decode, resample,
//! peaks, hash, lookup, vote) from `sonica::cpu_stages`.
//!
//! Bucket reads are counted by a store wrapper that passes every call to
//! sled and counts `get`s of the `buckets` tree (and their bytes): each is
//! one compacted block read, which is what a lookup costs. The open mirrors
//! `Library::open` with `OpenOptions::recognition_only()` (store, index,
//! mastering references; no search indexes, no block cache), only with the
//! wrapper between the index and sled.
//!
//!     scale_probe DATA_DIR --known KNOWN.tsv --unknown UNKNOWN.txt [--warmup 10] [--max-unknown N]
//!
//! KNOWN.tsv: `CLIP<TAB>PATH` a line, PATH the track's stored path (the
//! right answer); UNKNOWN.txt: one clip a line, of audio not in the
//! library (any answer is a false positive). An unknown clip reads nearly
//! every bucket (see SCALING.md), so at large sizes `--max-unknown` keeps
//! the run short by timing only the first N of them.
//!
//! `--cluster URLS` measures the same library on a Redis Cluster (copied
//! there by the `copy_to_cluster` example, namespace
//! `SONICA_CLUSTER_NAMESPACE`): the wrapper then sits over the Redis store
//! and also counts the buckets of its batched reads (`get_many`, one
//! pipeline per lookup pass).

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sonica::cpu_stages;
use sonica::identify::identify_file;
use sonica::library::index_hasher;
use sonica::Identifier;
use sonica_index::{
    Batch, Changes, FingerprintIndex, KvStore, MasteringLibrary, RedisStore, SledStore, StoreError, WriterLease,
};
use sonica_schema::Tree;

/// mimalloc, as in `sonica`: the memory figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error>;

/// sled or the cluster, with the bucket reads counted.
struct Counting {
    inner: Box<dyn KvStore>,
    reads: AtomicU64,
    bytes: AtomicU64,
}

impl Counting {
    fn snapshot(&self) -> (u64, u64) {
        (self.reads.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }
}

type Scan<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a>;

impl KvStore for Counting {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.inner.get(tree, key)?;
        if tree == Tree::Buckets {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let n = v.as_ref().map_or(0, Vec::len) as u64;
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        Ok(v)
    }
    fn get_many(&self, tree: Tree, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let v = self.inner.get_many(tree, keys)?;
        if tree == Tree::Buckets {
            self.reads.fetch_add(keys.len() as u64, Ordering::Relaxed);
            let n: u64 = v.iter().map(|x| x.as_ref().map_or(0, Vec::len) as u64).sum();
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        Ok(v)
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    fn writer_lease(&self) -> Result<Option<Box<dyn WriterLease>>, StoreError> {
        self.inner.writer_lease()
    }
    fn change_cursor(&self) -> Result<String, StoreError> {
        self.inner.change_cursor()
    }
    fn changes(&self, cursor: &str, wait: std::time::Duration) -> Result<Option<Changes>, StoreError> {
        self.inner.changes(cursor, wait)
    }
    fn scan(&self, tree: Tree) -> Scan<'_> {
        self.inner.scan(tree)
    }
    fn scan_range(&self, tree: Tree, from: &[u8], to: &[u8]) -> Scan<'_> {
        self.inner.scan_range(tree, from, to)
    }
    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.inner.commit(batch)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn len(&self, tree: Tree) -> Result<usize, StoreError> {
        self.inner.len(tree)
    }
    fn logical_bytes(&self, tree: Tree) -> Result<u64, StoreError> {
        self.inner.logical_bytes(tree)
    }
    fn disk_bytes(&self) -> Result<u64, StoreError> {
        self.inner.disk_bytes()
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let (Some(dir), Some(known), Some(unknown)) = (args.first(), value("--known"), value("--unknown")) else {
        eprintln!("usage: scale_probe DATA_DIR --known KNOWN.tsv --unknown UNKNOWN.txt [--warmup N]");
        return ExitCode::from(2);
    };
    let warmup = value("--warmup").and_then(|v| v.parse().ok()).unwrap_or(10);
    let max_unknown = value("--max-unknown")
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let cluster = value("--cluster").cloned();
    match probe(
        cluster.as_deref(),
        Path::new(dir),
        Path::new(known),
        Path::new(unknown),
        warmup,
        max_unknown,
    ) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scale_probe: {e}");
            ExitCode::from(3)
        }
    }
}

/// One clip's outcome.
struct Sample {
    ms: f64,
    cpu_ms: f64,
    /// CPU seconds per stage spent on this clip.
    stages: [f64; 6],
    reads: u64,
    bytes: u64,
    /// The answer's stored path, if any.
    answer: Option<String>,
}

fn probe(
    cluster: Option<&str>,
    dir: &Path,
    known: &Path,
    unknown: &Path,
    warmup: usize,
    max_unknown: usize,
) -> Result<serde_json::Value, Error> {
    let known: Vec<(String, String)> = std::fs::read_to_string(known)?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    let unknown: Vec<String> = std::fs::read_to_string(unknown)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .take(max_unknown)
        .collect();
    if known.is_empty() || unknown.is_empty() {
        return Err("no clips to run".into());
    }

    // The open, as Library::open(recognition_only) does it.
    let started = Instant::now();
    let inner: Box<dyn KvStore> = match cluster {
        Some(urls) => Box::new(RedisStore::open(urls, &sonica::library::cluster_namespace())?),
        None => Box::new(SledStore::open(&dir.join("store"))?),
    };
    let store = Arc::new(Counting {
        inner,
        reads: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });
    let index = Arc::new(FingerprintIndex::open_with(store.clone(), index_hasher(), false)?);
    let _mastering = MasteringLibrary::open(index.clone())?;
    let open_s = started.elapsed().as_secs_f64();
    let rss_open = rss_mb("VmRSS");

    let records = index.list()?;
    let hours: f64 = records.iter().map(|r| r.duration_s).sum::<f64>() / 3600.0;
    let postings: u64 = records.iter().map(|r| u64::from(r.hashes)).sum();

    let identifier = Identifier::new(&index);
    let run = |clip: &str| -> Result<Sample, Error> {
        let before = store.snapshot();
        let stages_before = cpu_stages::totals();
        let cpu = cpu_stages::thread_cpu_ns();
        let t = Instant::now();
        let (m, _) = identify_file(&identifier, Path::new(clip))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let cpu_ms = cpu_stages::thread_cpu_ns().saturating_sub(cpu) as f64 / 1e6;
        let stages_after = cpu_stages::totals();
        let after = store.snapshot();
        Ok(Sample {
            ms,
            cpu_ms,
            stages: std::array::from_fn(|i| stages_after[i].1 - stages_before[i].1),
            reads: after.0 - before.0,
            bytes: after.1 - before.1,
            answer: m.map(|m| m.track.path),
        })
    };
    // Warm-up: the first clips of each kind, untimed.
    for (clip, _) in known.iter().take(warmup) {
        run(clip)?;
    }
    for clip in unknown.iter().take(warmup) {
        run(clip)?;
    }
    // Interleaved, so neither kind runs on a cache the other left colder.
    let (mut ks, mut us) = (Vec::new(), Vec::new());
    for i in 0..known.len().max(unknown.len()) {
        if let Some((clip, want)) = known.get(i) {
            ks.push((run(clip)?, want.as_str()));
        }
        if let Some(clip) = unknown.get(i) {
            us.push(run(clip)?);
        }
    }
    let rss_end = rss_mb("VmRSS");

    let (mut correct, mut copy, mut wrong, mut none) = (0, 0, 0, 0);
    for (s, want) in &ks {
        match s.answer.as_deref() {
            Some(p) if p == *want => correct += 1,
            Some(p) if p.starts_with("synthetic/") && p.ends_with(want.trim_start_matches('/')) => copy += 1,
            Some(_) => wrong += 1,
            None => none += 1,
        }
    }
    let known_samples: Vec<&Sample> = ks.iter().map(|(s, _)| s).collect();
    let unknown_samples: Vec<&Sample> = us.iter().collect();
    let mut k = summary(&known_samples);
    k["correct"] = correct.into();
    k["copy_of_right"] = copy.into();
    k["wrong"] = wrong.into();
    k["no_answer"] = none.into();
    k["accuracy"] = (f64::from(correct) / ks.len() as f64).into();
    let mut u = summary(&unknown_samples);
    u["false_positives"] = us.iter().filter(|s| s.answer.is_some()).count().into();

    Ok(serde_json::json!({
        "tracks": records.len(),
        "audio_hours": hours,
        "postings": postings,
        "store_bytes": store.disk_bytes()?,
        "open_s": open_s,
        "rss_open_mb": rss_open,
        "rss_end_mb": rss_end,
        "rss_peak_mb": rss_mb("VmHWM"),
        "known": k,
        "unknown": u,
    }))
}

/// Times (p50, p99, max; wall and CPU), CPU per stage and bucket reads
/// (mean, max) of some samples.
fn summary(samples: &[&Sample]) -> serde_json::Value {
    let sorted = |f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(|s| f(s)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (ms, cpu) = (sorted(|s| s.ms), sorted(|s| s.cpu_ms));
    let n = samples.len().max(1) as f64;
    let stages: serde_json::Map<String, serde_json::Value> = cpu_stages::totals()
        .iter()
        .enumerate()
        .map(|(i, (stage, _))| {
            let mean_ms = samples.iter().map(|s| s.stages[i]).sum::<f64>() / n * 1e3;
            (stage.name().to_string(), mean_ms.into())
        })
        .collect();
    let reads: u64 = samples.iter().map(|s| s.reads).sum();
    let bytes: u64 = samples.iter().map(|s| s.bytes).sum();
    serde_json::json!({
        "n": samples.len(),
        "p50_ms": percentile(&ms, 50.0),
        "p99_ms": percentile(&ms, 99.0),
        "max_ms": ms.last().copied().unwrap_or(0.0),
        "cpu_p50_ms": percentile(&cpu, 50.0),
        "cpu_p99_ms": percentile(&cpu, 99.0),
        "stage_cpu_ms_mean": stages,
        "lookups_mean": reads as f64 / n,
        "lookups_max": samples.iter().map(|s| s.reads).max().unwrap_or(0),
        "bucket_kb_mean": bytes as f64 / n / 1024.0,
    })
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A line of /proc/self/status in MB (0 where there is none).
fn rss_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

//! Where a store's bytes go: per tree, the entries, the logical bytes (keys
//! plus values) and what sled takes on disk for that tree alone, written in
//! one pass into a fresh database. Then the whole store copied the same way
//! under other sled settings (segment size). Issue 16 asks for the index
//! size per hour of audio; this is the measurement behind the levers.
//!
//! `cargo bench -p sonica-index --bench store_size -- STORE_DIR [HOURS]`
//! (`STORE_DIR` is a library's `store/` folder, not in use by another
//! process; `HOURS` the audio it holds, for the MB/h column.)
//! `benches/store-size.sh` builds the library and runs this.

use std::path::Path;

use sonica_index::{KvStore, SledStore, SledTuning};
use sonica_schema::Tree;

/// Bytes the files under `dir` occupy (allocated blocks, as `du` counts).
fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    for e in rd.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            n += du(&e.path());
        } else {
            n += m.blocks() * 512;
        }
    }
    n
}

/// Copies `trees` of `src` into a fresh store under `tuning`, flushes,
/// closes and returns its size on disk.
fn copy_size(src: &SledStore, trees: &[Tree], tuning: SledTuning) -> u64 {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let dst = SledStore::open_tuned(dir.path(), tuning).expect("open copy");
        for &t in trees {
            let mut batch = sonica_index::Batch::new();
            for e in src.scan(t) {
                let (k, v) = e.expect("scan");
                batch.put(t, k, v);
                if batch.len() >= 256 {
                    dst.commit(std::mem::take(&mut batch)).expect("commit");
                }
            }
            dst.commit(batch).expect("commit");
        }
        dst.flush().expect("flush");
    }
    // sled's I/O threads finish after the drop; wait for the lock to go.
    drop(SledStore::open_tuned(dir.path(), tuning).expect("reopen"));
    du(dir.path())
}

fn mb(b: u64) -> String {
    format!("{:.2}", b as f64 / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: store_size STORE_DIR [HOURS]");
        std::process::exit(2);
    };
    let hours: f64 = args.get(1).and_then(|h| h.parse().ok()).unwrap_or(0.0);
    let per_h = |b: u64| {
        if hours > 0.0 {
            format!("{:.3}", b as f64 / 1e6 / hours)
        } else {
            "-".into()
        }
    };
    let src = SledStore::open(Path::new(dir)).expect("open the store");
    println!(
        "store {dir}: {} MB on disk (du), {hours:.2} h of audio",
        mb(du(Path::new(dir)))
    );
    println!();
    println!(
        "| tree | entries | key bytes | value bytes | largest value | fresh copy on disk | MB/h (data) | MB/h (disk) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut tk, mut tv, mut td) = (0u64, 0u64, 0u64);
    let mut live = Vec::new();
    for &t in Tree::ALL.iter() {
        let (mut n, mut kb, mut vb, mut max) = (0u64, 0u64, 0u64, 0usize);
        for e in src.scan(t) {
            let (k, v) = e.expect("scan");
            n += 1;
            kb += k.len() as u64;
            vb += v.len() as u64;
            max = max.max(v.len());
        }
        if n == 0 {
            continue;
        }
        live.push(t);
        let disk = copy_size(&src, &[t], SledTuning::default());
        tk += kb;
        tv += vb;
        td += disk;
        println!(
            "| {} | {n} | {} | {} | {max} | {} MB | {} | {} |",
            t.name(),
            kb,
            vb,
            mb(disk),
            per_h(kb + vb),
            per_h(disk)
        );
    }
    println!(
        "| all (sum) | | {tk} | {tv} | | {} MB | {} | {} |",
        mb(td),
        per_h(tk + tv),
        per_h(td)
    );
    println!();
    println!("Whole store copied in one pass under other sled settings:");
    println!();
    println!("| segment size | on disk | MB/h |");
    println!("|---|---|---|");
    for seg in [512usize << 10, 1 << 20, 4 << 20, 16 << 20] {
        let tuning = SledTuning {
            segment_bytes: seg,
            ..SledTuning::default()
        };
        let d = copy_size(&src, &live, tuning);
        println!("| {} KiB | {} MB | {} |", seg >> 10, mb(d), per_h(d));
    }
}

//! Bench helper, not part of the tool: copies a library's embedded store
//! into a Redis Cluster, every tree as it is, so `benches/scale.sh` can
//! measure the same synthetic library on both backends without growing it
//! twice. The search indexes are not copied: a node rebuilds its own from
//! the records when it opens with them.
//!
//!     cargo run --release -p sonica-reindex --example copy_to_cluster -- DATA_DIR redis://127.0.0.1:7000[,…]
//!
//! The namespace is `SONICA_CLUSTER_NAMESPACE` (default `sonica`), as for
//! `sonica --cluster`. Prints the entries and bytes copied per tree.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use sonica_index::{Batch, KvStore, RedisStore, SledStore};
use sonica_schema::Tree;

/// Bytes per batch: large enough to pipeline well, small enough that one
/// journal entry stays a few MB.
const BATCH_BYTES: usize = 4 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(urls)) = (args.first(), args.get(1)) else {
        eprintln!("usage: copy_to_cluster DATA_DIR redis://host:port[,…]");
        return ExitCode::from(2);
    };
    match copy(&PathBuf::from(dir), urls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("copy_to_cluster: {e}");
            ExitCode::from(3)
        }
    }
}

fn copy(dir: &std::path::Path, urls: &str) -> Result<(), Box<dyn std::error::Error>> {
    let from = SledStore::open(&dir.join("store"))?;
    let ns = sonica::library::cluster_namespace();
    let to = RedisStore::open(urls, &ns)?;
    let start = Instant::now();
    for tree in Tree::ALL {
        let (mut n, mut bytes) = (0usize, 0usize);
        let mut batch = Batch::new();
        let mut batch_bytes = 0;
        for e in from.scan(tree) {
            let (k, v) = e?;
            n += 1;
            bytes += k.len() + v.len();
            batch_bytes += k.len() + v.len();
            batch.put(tree, k, v);
            if batch_bytes >= BATCH_BYTES {
                to.commit(std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
        }
        if !batch.is_empty() {
            to.commit(batch)?;
        }
        if n > 0 {
            println!("{:<16} {n:>10} entries {:>10.1} MB", tree.name(), bytes as f64 / 1e6);
        }
    }
    to.flush()?;
    println!("copied in {:.1} s into namespace {ns}", start.elapsed().as_secs_f64());
    Ok(())
}

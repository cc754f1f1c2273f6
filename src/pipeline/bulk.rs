//! Many files, every core, one writer: the run shared by `sonica ingest`
//! and `sonica-reindex`.
//!
//! Paths go to worker threads over a queue, largest first (so no core sits
//! idle at the end behind one long file); each worker does the CPU-heavy
//! part of one file on its own; results come back over a bounded channel
//! (fast workers cannot pile fingerprints up in memory) to the caller's
//! thread, which writes them one at a time. A write that fails stops the
//! run: the workers stop after the file in hand.

use std::thread;

use crossbeam_channel::{bounded, unbounded};

/// Threads to use when the caller does not say: every core.
pub fn default_jobs() -> usize {
    thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Runs `work` on each of `files` on `jobs` threads and hands every result
/// to `write` on the calling thread, in the order they finish.
pub fn run<T: Send, E>(
    files: Vec<String>,
    jobs: usize,
    work: impl Fn(&str) -> T + Sync,
    mut write: impl FnMut(String, T) -> Result<(), E>,
) -> Result<(), E> {
    let mut todo: Vec<(u64, String)> = files
        .into_iter()
        .map(|f| (std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0), f))
        .collect();
    todo.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let jobs = jobs.max(1).min(todo.len().max(1));
    let (work_tx, work_rx) = unbounded::<String>();
    for (_, f) in todo {
        let _ = work_tx.send(f);
    }
    drop(work_tx);
    let (done_tx, done_rx) = bounded::<(String, T)>(jobs * 2);
    let work = &work;
    thread::scope(|scope| {
        for _ in 0..jobs {
            let (rx, tx) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                for path in rx.iter() {
                    let r = work(&path);
                    if tx.send((path, r)).is_err() {
                        break; // the writer stopped
                    }
                }
            });
        }
        drop(done_tx);
        let mut result = Ok(());
        for (path, r) in done_rx.iter() {
            if let Err(e) = write(path, r) {
                result = Err(e);
                break;
            }
        }
        // Dropping the receiver makes every worker stop at its next send;
        // draining the queue makes them stop at their next take.
        drop(done_rx);
        while work_rx.try_recv().is_ok() {}
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_worked_once_and_written_on_the_caller() {
        let files: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
        let caller = thread::current().id();
        let mut seen = Vec::new();
        run(
            files.clone(),
            4,
            |p| p.len(),
            |p, n| {
                assert_eq!(thread::current().id(), caller);
                assert_eq!(p.len(), n);
                seen.push(p);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        seen.sort();
        let mut want = files;
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_failed_write_stops_the_run() {
        let files: Vec<String> = (0..200).map(|i| format!("f{i}")).collect();
        let worked = std::sync::atomic::AtomicUsize::new(0);
        let mut written = 0;
        let r = run(
            files,
            2,
            |_| {
                worked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
            |_, ()| {
                written += 1;
                if written == 3 {
                    Err("disk full")
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r, Err("disk full"));
        assert_eq!(written, 3);
        assert!(worked.load(std::sync::atomic::Ordering::SeqCst) < 200);
    }
}

//! The watched songs folder: files added or replaced there are ingested,
//! files removed are removed from the library (unless configured off).
//!
//! A file is taken only once it has stopped changing for `settle_ms`
//! (same size and modification time at both ends of the wait), so a file
//! still being copied is not fingerprinted half-way. Events only say
//! *which* paths to look at; what to do is decided by comparing the file
//! with the store (`reconcile`), which is also what the scan at start does
//! for changes made while the service was down.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, unbounded, Receiver, Sender};
use notify::{RecursiveMode, Watcher};
use sonica_schema::JobSource;

use crate::pipeline::is_audio_name;
use crate::pipeline::writer::file_stamp;
use crate::service::state::AppState;

type Stamp = (Option<u64>, Option<u64>);

pub struct FolderWatcher {
    _watcher: notify::RecommendedWatcher,
    stop: Sender<()>,
    handle: JoinHandle<()>,
}

impl FolderWatcher {
    /// Starts watching `state.songs_dir` and scans it once.
    pub fn start(state: Arc<AppState>) -> Result<FolderWatcher, notify::Error> {
        let (tx, events) = unbounded::<PathBuf>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            // Access events (opens, reads) change nothing, and our own scans
            // cause them: following them would loop.
            Ok(ev) if matches!(ev.kind, notify::EventKind::Access(_)) => {}
            Ok(ev) => {
                tracing::debug!(?ev, "folder event");
                for p in ev.paths {
                    let _ = tx.send(p);
                }
            }
            Err(e) => tracing::warn!(error = %e, "folder watch error"),
        })?;
        watcher.watch(&state.songs_dir, RecursiveMode::Recursive)?;
        let (stop, stopped) = unbounded();
        let handle = std::thread::Builder::new()
            .name("sonica-watch".into())
            .spawn(move || run(state, events, stopped))
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(FolderWatcher {
            _watcher: watcher,
            stop,
            handle,
        })
    }

    pub fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.handle.join();
    }
}

struct Pending {
    since: Instant,
    stamp: Stamp,
}

/// How often a scan that found the folder gone looks again.
const RECHECK: Duration = Duration::from_secs(5);

fn run(state: Arc<AppState>, events: Receiver<PathBuf>, stop: Receiver<()>) {
    use std::sync::atomic::Ordering::Relaxed;
    state.watch.running.store(true, Relaxed);
    let scanned = |state: &AppState, held_back: bool| {
        state.watch.held_back.store(held_back, Relaxed);
        state
            .watch
            .last_scan_s
            .store(crate::pipeline::writer::unix_now_s(), Relaxed);
    };
    let mut held_back = !scan(&state);
    scanned(&state, held_back);
    let mut last_check = Instant::now();
    let settle = Duration::from_millis(state.config.settle_ms);
    let tick = (settle / 4).clamp(Duration::from_millis(20), Duration::from_millis(250));
    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    loop {
        select! {
            recv(stop) -> _ => {
                state.watch.running.store(false, Relaxed);
                return;
            }
            recv(events) -> p => match p {
                Ok(p) => note(&state, &mut pending, p),
                Err(_) => return,
            },
            default(tick) => {}
        }
        while let Ok(p) = events.try_recv() {
            note(&state, &mut pending, p);
        }
        let now = Instant::now();
        let mut ready = Vec::new();
        for (p, pend) in pending.iter_mut() {
            if now.duration_since(pend.since) < settle {
                continue;
            }
            let stamp = file_stamp(p);
            if stamp == pend.stamp {
                ready.push(p.clone());
            } else {
                // Still changing: wait for a quiet spell from now.
                pend.stamp = stamp;
                pend.since = now;
            }
        }
        for p in ready {
            pending.remove(&p);
            reconcile(&state, &p);
        }
        state.watch.settling.store(pending.len(), Relaxed);
        if held_back && last_check.elapsed() >= RECHECK {
            last_check = Instant::now();
            held_back = !scan(&state);
            scanned(&state, held_back);
            if !held_back {
                tracing::info!(folder = %state.songs_dir.display(), "the songs folder is back; scan complete");
            }
        }
    }
}

/// True when `p` (a file or folder, symlinks resolved) lies inside the songs
/// folder: a symlink out of it is never followed, read or ingested.
fn inside_folder(state: &AppState, p: &Path) -> bool {
    p.canonicalize().is_ok_and(|c| c.starts_with(&state.songs_dir))
}

/// Whether the folder is there with something in it. An unmounted disk or
/// a folder emptied by mistake must not empty the library.
fn folder_present(state: &AppState) -> bool {
    std::fs::read_dir(&state.songs_dir)
        .is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))))
}

/// The start-up scan holds back its removals when the folder is empty or
/// most of its stored files are missing: it looks like a missing disk, not
/// a user deleting songs.
pub fn looks_gone(present: bool, stored: usize, missing: usize) -> bool {
    missing > 0 && (!present || (stored >= 4 && missing * 2 > stored))
}

/// Marks a path (or every file of a folder moved in) as changed.
fn note(state: &AppState, pending: &mut HashMap<PathBuf, Pending>, p: PathBuf) {
    if is_hidden(&state.songs_dir, &p) {
        return;
    }
    if p.is_dir() {
        if !inside_folder(state, &p) {
            tracing::warn!(path = %p.display(), "a folder symlink out of the songs folder is not followed");
            return;
        }
        for f in walk(&p) {
            note(state, pending, f);
        }
        return;
    }
    let stamp = file_stamp(&p);
    pending.insert(
        p,
        Pending {
            since: Instant::now(),
            stamp,
        },
    );
}

/// The audio files under `dir`, by Sonica's one walker, symbolic links not
/// followed: a link cannot pull a file from elsewhere into the library.
fn walk(dir: &Path) -> Vec<PathBuf> {
    crate::pipeline::walk::walk_with(&[dir.to_string_lossy().into_owned()], 2, false)
        .files
        .into_iter()
        .map(PathBuf::from)
        .collect()
}

/// True for paths inside a hidden folder (or hidden files) under `root`:
/// uploads in progress and editors' temporary files.
fn is_hidden(root: &Path, p: &Path) -> bool {
    p.strip_prefix(root)
        .map(|rel| {
            rel.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        })
        .unwrap_or(true)
}

/// The scan at start: every file against the store, then every stored
/// track of the folder against the files. Returns false when it held its
/// removals back because the folder looks gone ([`looks_gone`]); the
/// watcher then scans again every few seconds until it is back.
fn scan(state: &AppState) -> bool {
    for f in walk(&state.songs_dir) {
        if !is_hidden(&state.songs_dir, &f) {
            reconcile(state, &f);
        }
    }
    if !state.config.watch_remove {
        return true;
    }
    let views = match state.all_views() {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the library for the folder scan");
            return true;
        }
    };
    let ours: Vec<PathBuf> = views
        .iter()
        .map(|v| PathBuf::from(&v.path))
        .filter(|p| p.starts_with(&state.songs_dir))
        .collect();
    let missing: Vec<&PathBuf> = ours.iter().filter(|p| !p.exists()).collect();
    if looks_gone(folder_present(state), ours.len(), missing.len()) {
        tracing::error!(
            folder = %state.songs_dir.display(),
            missing = missing.len(),
            stored = ours.len(),
            "THE SONGS FOLDER LOOKS UNMOUNTED OR EMPTIED: its tracks are kept, not removed; waiting for it to come back"
        );
        return false;
    }
    for p in missing {
        reconcile(state, p);
    }
    true
}

/// Brings the store in line with the file at `p` (present or not).
pub fn reconcile(state: &AppState, p: &Path) {
    if is_hidden(&state.songs_dir, p) || !is_audio_name(p) || state.is_claimed(p) {
        return;
    }
    let key = p.to_string_lossy();
    let known = match state.index.id_by_path(&key) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, path = %key, "cannot look the file up");
            return;
        }
    };
    // Job before track: an id moves only from job to track, so this order
    // cannot miss one that a worker finishes meanwhile.
    let stored_stamp = known.and_then(|id| match state.index.job(id) {
        Ok(Some(j)) => Some((j.file_len, j.file_mtime_ms)),
        _ => match state.index.get(id) {
            Ok(Some(r)) => Some((r.file_len, r.file_mtime_ms)),
            _ => None,
        },
    });
    if p.is_file() && !inside_folder(state, p) {
        tracing::warn!(path = %key, "a symlink out of the songs folder is not ingested");
        return;
    }
    if !p.is_file() {
        if let (Some(id), true) = (known, state.config.watch_remove) {
            if !folder_present(state) {
                tracing::error!(id, path = %key, "the songs folder is empty or gone; the track is kept");
                return;
            }
            if stored_stamp.is_some() {
                match state.forget(id) {
                    Ok(()) => tracing::info!(id, path = %key, "file removed from the songs folder; track removed"),
                    Err(e) => tracing::error!(id, error = %e, "cannot remove the track of a deleted file"),
                }
            }
        }
        return;
    }
    let now = file_stamp(p);
    match (known, stored_stamp) {
        (Some(_), Some(s)) if s == now => return, // unchanged (or our own upload)
        (Some(id), Some(_)) => {
            tracing::info!(id, path = %key, "file replaced; fingerprinting it again");
            if let Err(e) = state.forget(id) {
                tracing::error!(id, error = %e, "cannot remove the replaced track");
                return;
            }
        }
        _ => {}
    }
    match state.accept(p, JobSource::Watch, &[]) {
        Ok(job) => tracing::info!(id = job.id, path = %key, "new file in the songs folder; queued"),
        Err(e) => tracing::error!(error = %e, path = %key, "cannot queue a file of the songs folder"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_foreign_paths_are_ignored() {
        let root = Path::new("/srv/songs");
        assert!(!is_hidden(root, Path::new("/srv/songs/a/b.mp3")));
        assert!(is_hidden(root, Path::new("/srv/songs/.sonica-incoming/x.mp3")));
        assert!(is_hidden(root, Path::new("/srv/songs/a/.b.mp3.part")));
        assert!(is_hidden(root, Path::new("/elsewhere/b.mp3")));
        assert!(is_audio_name(Path::new("x.MP3")));
        assert!(!is_audio_name(Path::new("x.txt")));
    }

    #[test]
    fn an_emptied_or_missing_folder_does_not_empty_the_library() {
        assert!(!looks_gone(true, 10, 0));
        assert!(!looks_gone(true, 10, 3), "ordinary removals go ahead");
        assert!(looks_gone(true, 10, 6), "most files missing");
        assert!(looks_gone(false, 10, 1), "folder empty or unmounted");
        assert!(!looks_gone(true, 2, 2), "a tiny library may lose everything for real");
    }
}

//! Finding the audio files under the arguments, on every core: the one
//! folder walker of `sonica ingest`, `sonica-reindex` and the watched
//! folder.
//!
//! A library of tens of thousands of files on a network share spends
//! seconds listing folders, so folders are listed in parallel: a shared
//! queue of folders, each worker reading one and queueing its subfolders.
//! Paths are spelled from the argument as the user gave it (`music/./a`
//! stays so), because the store records paths exactly as given. Symbolic
//! links are followed for the command line, with each root's folders
//! visited once (no loops); the watched folder does not follow them, so a
//! link cannot pull a file from elsewhere into the library.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crossbeam_channel::unbounded;

/// What the walk found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walked {
    /// Audio files under folder arguments plus every file argument, sorted
    /// and distinct.
    pub files: Vec<String>,
    /// Folder arguments, as given (the roots `--prune` looks under).
    pub folders: Vec<String>,
    /// Arguments that do not exist.
    pub missing: Vec<String>,
    /// Folders that could not be listed, with the reason.
    pub unreadable: Vec<(String, String)>,
}

enum Msg {
    /// A folder to list: which root it belongs to, and its path.
    Dir(usize, PathBuf),
    Stop,
}

/// File extensions picked up when walking folders. Explicit file arguments
/// are always tried, whatever their name.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "wav", "wave", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "alac", "aif", "aiff", "aifc", "caf",
    "mkv", "mka", "webm", "wma", "asf",
];

/// Whether a file name has one of [`AUDIO_EXTENSIONS`].
pub fn is_audio_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Walks `args` with `threads` workers, following symbolic links. File
/// arguments are taken whatever their name; files in folders only when
/// [`is_audio_name`] says so.
pub fn walk(args: &[String], threads: usize) -> Walked {
    walk_with(args, threads, true)
}

/// [`walk`], choosing whether symbolic links (to files or folders) are
/// followed; when not, they are skipped.
pub fn walk_with(args: &[String], threads: usize, follow_links: bool) -> Walked {
    let mut out = Walked::default();
    let mut roots = Vec::new();
    for a in args {
        let p = Path::new(a);
        if p.is_dir() {
            out.folders.push(a.clone());
            roots.push(PathBuf::from(a));
        } else if p.exists() {
            out.files.push(a.clone());
        } else {
            out.missing.push(a.clone());
        }
    }
    let threads = threads.max(1);
    let (tx, rx) = unbounded::<Msg>();
    let pending = AtomicUsize::new(roots.len());
    let visited: Mutex<HashSet<(usize, PathBuf)>> = Mutex::new(HashSet::new());
    let found: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let unreadable: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    if roots.is_empty() {
        return finish(out);
    }
    for (i, r) in roots.into_iter().enumerate() {
        let _ = tx.send(Msg::Dir(i, r));
    }
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (tx, rx) = (tx.clone(), rx.clone());
            let (pending, visited, found, unreadable) = (&pending, &visited, &found, &unreadable);
            scope.spawn(move || {
                while let Ok(Msg::Dir(root, dir)) = rx.recv() {
                    let first = std::fs::canonicalize(&dir)
                        .map(|c| lock(visited).insert((root, c)))
                        .unwrap_or(true);
                    if first {
                        let (files, dirs) = list(&dir, follow_links, unreadable);
                        lock(found).extend(files);
                        pending.fetch_add(dirs.len(), Ordering::SeqCst);
                        for d in dirs {
                            let _ = tx.send(Msg::Dir(root, d));
                        }
                    }
                    if pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                        for _ in 0..threads {
                            let _ = tx.send(Msg::Stop);
                        }
                    }
                }
            });
        }
    });
    out.files.extend(found.into_inner().unwrap_or_else(|p| p.into_inner()));
    out.unreadable = unreadable.into_inner().unwrap_or_else(|p| p.into_inner());
    finish(out)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn finish(mut out: Walked) -> Walked {
    out.files.sort();
    out.files.dedup();
    out.unreadable.sort();
    out
}

/// One folder's audio files and subfolders (links followed or skipped).
fn list(dir: &Path, follow_links: bool, unreadable: &Mutex<Vec<(String, String)>>) -> (Vec<String>, Vec<PathBuf>) {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            lock(unreadable).push((dir.to_string_lossy().into_owned(), e.to_string()));
            return (files, dirs);
        }
    };
    for e in entries.flatten() {
        let path = dir.join(e.file_name());
        let is_dir = match e.file_type() {
            Ok(t) if t.is_symlink() && !follow_links => continue,
            Ok(t) if t.is_symlink() => std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false),
            Ok(t) => t.is_dir(),
            Err(_) => false,
        };
        if is_dir {
            dirs.push(path);
        } else if is_audio_name(&path) && path.is_file() {
            files.push(path.to_string_lossy().into_owned());
        }
    }
    (files, dirs)
}

/// Whether `path` lies under the folder `root`, comparing components and
/// ignoring `.` ones (so `./music/a.wav` is under `music`).
pub fn is_under(path: &str, root: &str) -> bool {
    fn parts(p: &str) -> Vec<Component<'_>> {
        Path::new(p).components().filter(|c| *c != Component::CurDir).collect()
    }
    let (path, root) = (parts(path), parts(root));
    path.len() > root.len() && path.starts_with(&root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn finds_audio_in_nested_folders_keeping_the_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "a/1.wav",
            "a/b/2.MP3",
            "a/b/c/d/3.ogg",
            "a/notes.txt",
            "a/b/4.flac",
            "e/5.wav",
        ] {
            touch(&d.join(f));
        }
        let root = format!("{}/./a", d.display());
        let explicit = d.join("a/notes.txt").to_string_lossy().into_owned();
        let missing = d.join("nope").to_string_lossy().into_owned();
        for threads in [1, 4] {
            let w = walk(&[root.clone(), explicit.clone(), missing.clone()], threads);
            let mut want = vec![
                format!("{root}/1.wav"),
                format!("{root}/b/2.MP3"),
                format!("{root}/b/4.flac"),
                format!("{root}/b/c/d/3.ogg"),
                explicit.clone(),
            ];
            want.sort();
            assert_eq!(w.files, want, "{threads} threads");
            assert_eq!(w.folders, vec![root.clone()]);
            assert_eq!(w.missing, vec![missing.clone()]);
        }
    }

    #[test]
    fn many_folders_are_all_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut want = Vec::new();
        for i in 0..30 {
            for j in 0..5 {
                let p = dir.path().join(format!("f{i}/g{j}/t.wav"));
                touch(&p);
                want.push(p.to_string_lossy().into_owned());
            }
        }
        want.sort();
        let root = dir.path().to_string_lossy().into_owned();
        // Two roots naming one tree still give each file once.
        let w = walk(&[root.clone(), root], 3);
        assert_eq!(w.files, want);
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        touch(&d.join("a/x.wav"));
        std::os::unix::fs::symlink(d.join("a"), d.join("a/loop")).unwrap();
        let w = walk(&[d.join("a").to_string_lossy().into_owned()], 2);
        assert_eq!(w.files.len(), 1, "{:?}", w.files);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_skipped_when_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        touch(&d.join("elsewhere/secret.wav"));
        touch(&d.join("songs/own.wav"));
        std::os::unix::fs::symlink(d.join("elsewhere"), d.join("songs/dir-link")).unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere/secret.wav"), d.join("songs/file-link.wav")).unwrap();
        let songs = d.join("songs").to_string_lossy().into_owned();
        assert_eq!(
            walk_with(std::slice::from_ref(&songs), 2, false).files,
            vec![format!("{songs}/own.wav")]
        );
        assert_eq!(walk_with(&[songs], 2, true).files.len(), 3);
    }

    #[test]
    fn audio_names_by_extension() {
        assert!(is_audio_name(Path::new("x.MP3")));
        assert!(is_audio_name(Path::new("a/b.flac")));
        assert!(!is_audio_name(Path::new("x.txt")));
        assert!(!is_audio_name(Path::new("mp3")));
    }

    #[test]
    fn empty_argument_lists_and_empty_folders() {
        assert_eq!(walk(&[], 2), Walked::default());
        let dir = tempfile::tempdir().unwrap();
        let w = walk(&[dir.path().to_string_lossy().into_owned()], 2);
        assert!(w.files.is_empty() && w.missing.is_empty());
        assert_eq!(w.folders.len(), 1);
    }

    #[test]
    fn under_compares_components() {
        assert!(is_under("music/a.wav", "music"));
        assert!(is_under("music/a.wav", "music/"));
        assert!(is_under("./music/sub/a.wav", "music"));
        assert!(is_under("music/a.wav", "./music"));
        assert!(!is_under("music2/a.wav", "music"));
        assert!(!is_under("music", "music"));
        assert!(!is_under("/abs/music/a.wav", "music"));
    }
}

//! `sonica-reindex` end to end: adding, changing and removing files,
//! reruns, a kill and resume, rebuilding lost indexes, verification, and
//! refusing a store another process holds.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use sonica_index::{Batch, KvStore, SledStore};
use sonica_schema::Tree;

use crate::audio;
use crate::common::{bin, sonica, stderr, stdout};

const RATE: u32 = 22_050;

/// The `sonica-reindex` binary, next to `sonica` in the same target folder.
/// It belongs to another package, so Cargo does not build it for these
/// tests: it is built here once per test run (a no-op when up to date).
/// `SONICA_REINDEX_BIN` overrides the lookup.
fn tool() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| {
        if let Some(p) = std::env::var_os("SONICA_REINDEX_BIN") {
            return PathBuf::from(p);
        }
        let profile_dir = Path::new(bin()).parent().expect("sonica lives in a folder");
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo
            .args(["build", "--quiet", "-p", "sonica-reindex", "--bin", "sonica-reindex"])
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("a target folder"))
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                cargo.arg("--release");
            }
            Some(other) => {
                cargo.args(["--profile", other]);
            }
            None => {}
        }
        let status = cargo.status().expect("run cargo to build sonica-reindex");
        assert!(status.success(), "building sonica-reindex failed");
        let exe = profile_dir.join(format!("sonica-reindex{}", std::env::consts::EXE_SUFFIX));
        assert!(exe.exists(), "{} missing after the build", exe.display());
        exe
    })
}

pub fn reindex(data: &Path, args: &[&str]) -> Output {
    Command::new(tool())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("SONICA_DATA_DIR")
        .output()
        .expect("run sonica-reindex")
}

/// Runs with `--json` and returns the report, checking the exit code.
fn report(data: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = reindex(data, &all);
    assert_eq!(out.status.code(), Some(code), "{}\n{}", stdout(&out), stderr(&out));
    serde_json::from_str(stdout(&out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn write_song(p: &Path, seed: u32) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    audio::wav(p, &audio::song(seed, 20.0, RATE), RATE);
}

/// The path `sonica identify` names for a 5 s clip of song `seed`.
fn identify(data: &Path, dir: &Path, seed: u32) -> Option<String> {
    let clip = dir.join(format!("clip{seed}.wav"));
    audio::wav(
        &clip,
        &audio::slice(&audio::song(seed, 20.0, RATE), RATE, 6.0, 5.0),
        RATE,
    );
    let out = sonica(data, &["identify", "--json", clip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    v["match"]["path"].as_str().map(str::to_string)
}

fn paths(data: &Path) -> Vec<(u32, String)> {
    let index = sonica::Library::open(data, &sonica::OpenOptions::default()).unwrap();
    let mut v: Vec<_> = index.list().unwrap().into_iter().map(|r| (r.id, r.path)).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

fn verify_clean(data: &Path) {
    let out = reindex(data, &["--verify"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("consistent:"), "{}", stdout(&out));
}

#[test]
fn adds_changes_prunes_and_reruns_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (data, music) = (d.join("db"), d.join("music"));
    for s in 0..3 {
        write_song(&music.join(format!("sub/t{s}.wav")), 300 + s);
    }
    let root = music.to_str().unwrap();
    let r = report(&data, &[root], 0);
    assert_eq!(
        (r["files_seen"].as_u64(), r["added"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert!(r["audio_hours"].as_f64().unwrap() > 0.015 && r["x_realtime"].as_f64().unwrap() > 1.0);
    let before = paths(&data);
    assert_eq!(before[1].1, format!("{root}/sub/t1.wav"), "paths as walked");

    let r = report(&data, &[root], 0);
    assert_eq!(
        (r["added"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(3)),
        "{r}"
    );
    assert_eq!(r["restamped"], 0);
    assert_eq!(paths(&data), before);

    // Same bytes, new mtime: only the stamp is refreshed.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let t0 = music.join("sub/t0.wav");
    std::fs::write(&t0, std::fs::read(&t0).unwrap()).unwrap();
    // New audio in t1: replaced, the old id gone. t2 deleted. t3 new.
    write_song(&music.join("sub/t1.wav"), 999);
    std::fs::remove_file(music.join("sub/t2.wav")).unwrap();
    write_song(&music.join("t3.wav"), 303);
    let dry = report(&data, &["--dry-run", "--prune", root], 0);
    assert_eq!(
        [&dry["added"], &dry["updated"], &dry["restamped"], &dry["pruned"]],
        [1, 1, 1, 1],
        "{dry}"
    );
    assert_eq!(paths(&data), before, "a dry run writes nothing");

    let r = report(&data, &[root], 0);
    assert_eq!(
        [&r["added"], &r["updated"], &r["restamped"], &r["pruned"]],
        [1, 1, 1, 0],
        "{r}"
    );
    let after = paths(&data);
    assert!(after.contains(&before[0]), "restamped track keeps its id");
    assert!(!after.iter().any(|(id, _)| *id == before[1].0), "replaced id is gone");
    assert!(after.contains(&before[2]), "no --prune: the deleted file's track stays");
    assert_eq!(identify(&data, d, 999).as_deref(), Some(before[1].1.as_str()));
    assert_eq!(identify(&data, d, 300).as_deref(), Some(before[0].1.as_str()));

    let r = report(&data, &["--prune", root], 0);
    assert_eq!([&r["pruned"], &r["unchanged"], &r["added"]], [1, 3, 0], "{r}");
    assert_eq!(r["restamped"], 0, "the new stamp was stored: {r}");
    assert!(!paths(&data).iter().any(|(_, p)| p.ends_with("t2.wav")));
    assert_eq!(identify(&data, d, 302), None);
    verify_clean(&data);
}

#[test]
fn duplicates_failures_and_old_tracks_without_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (data, music) = (d.join("db"), d.join("music"));
    write_song(&music.join("a.wav"), 410);
    write_song(&music.join("b.wav"), 411);
    std::fs::copy(music.join("a.wav"), music.join("a-copy.wav")).unwrap();
    std::fs::write(music.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEnot really").unwrap();
    let failures = d.join("failed.jsonl");
    let r = report(
        &data,
        &[
            "--on-duplicate",
            "reject",
            "--failures",
            failures.to_str().unwrap(),
            music.to_str().unwrap(),
        ],
        1,
    );
    assert_eq!(
        [&r["added"], &r["failed"], &r["duplicates"]["rejected"]],
        [2, 1, 1],
        "{r}"
    );
    assert_eq!(r["failures_file"], failures.to_str().unwrap());
    let listed: Value = serde_json::from_str(std::fs::read_to_string(&failures).unwrap().trim()).unwrap();
    assert!(listed["path"].as_str().unwrap().ends_with("broken.wav"), "{listed}");
    assert!(!listed["message"].as_str().unwrap().is_empty());

    // The copy again, flagged this time; human output names the failures file.
    let out = reindex(&data, &[music.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("1 flagged") && text.contains("reindex-failures.txt"),
        "{text}"
    );
    assert!(stderr(&out).contains("broken.wav"), "{}", stderr(&out));
    let index = sonica::Library::open(&data, &sonica::OpenOptions::default()).unwrap();
    // Whichever of the two copies came second is the flagged one.
    let flagged: Vec<_> = index
        .list()
        .unwrap()
        .into_iter()
        .filter(|r| r.duplicate_of.is_some())
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    let p = &flagged[0].path;
    assert!(p.ends_with("/a.wav") || p.ends_with("/a-copy.wav"), "{p}");
    assert_eq!(
        flagged[0].duplicate_of.as_ref().unwrap().kind,
        sonica_schema::DuplicateKind::Exact
    );

    // A library from before analysis: drop the analysis rows.
    let ids: Vec<u32> = index.list().unwrap().iter().map(|r| r.id).collect();
    let mut b = Batch::new();
    for id in &ids {
        b.remove(Tree::Analysis, id.to_be_bytes());
    }
    index.store().commit(b).unwrap();
    index.flush().unwrap();
    drop(index);
    std::fs::remove_file(music.join("broken.wav")).unwrap();
    let r = report(&data, &[music.to_str().unwrap()], 0);
    assert_eq!([&r["analysed"], &r["unchanged"], &r["added"]], [3, 3, 0], "{r}");
    let index = sonica::Library::open(&data, &sonica::OpenOptions::default()).unwrap();
    assert!(ids.iter().all(|id| index.analysis(*id).unwrap().is_some()));
    drop(index);
    verify_clean(&data);
}

#[test]
fn a_killed_run_resumes_with_every_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (data, music) = (d.join("db"), d.join("music"));
    let n = 12;
    std::fs::create_dir_all(&music).unwrap();
    for s in 0..n {
        audio::wav(
            &music.join(format!("k{s:02}.wav")),
            &audio::song(500 + s, 30.0, RATE),
            RATE,
        );
    }
    let mut child = Command::new(tool())
        .args(["--data-dir", data.to_str().unwrap(), "--jobs", "1", "--verbose"])
        .arg(&music)
        .env_remove("SONICA_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("added ") => break l,
            Some(Ok(_)) => continue,
            other => panic!("no file reported before the end: {other:?}"),
        }
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let reported = first.split(": ").nth(1).unwrap().to_string();
    let found = paths(&data);
    assert!(
        !found.is_empty() && found.len() < n as usize,
        "{} tracks after the kill",
        found.len()
    );
    assert!(
        found.iter().any(|(_, p)| *p == reported),
        "{reported} reported but missing"
    );
    {
        let index = sonica::Library::open(&data, &sonica::OpenOptions::default()).unwrap();
        for (id, _) in &found {
            assert!(!index.peaks(*id).unwrap().is_empty(), "track {id} is whole");
        }
    }

    let r = report(&data, &[music.to_str().unwrap()], 0);
    assert_eq!(
        r["added"].as_u64().unwrap() + r["unchanged"].as_u64().unwrap(),
        u64::from(n),
        "{r}"
    );
    assert_eq!(r["unchanged"].as_u64().unwrap(), found.len() as u64);
    let all = paths(&data);
    assert_eq!(all.len(), n as usize);
    let mut distinct: Vec<_> = all.iter().map(|(_, p)| p.clone()).collect();
    distinct.dedup();
    assert_eq!(distinct.len(), n as usize, "every file exactly once");
    verify_clean(&data);
}

/// Deletes every bucket block through the storage API.
/// Deletes every entry of `trees`; returns how many there were.
fn drop_trees(data: &Path, trees: &[Tree]) -> usize {
    let store = SledStore::open(&data.join("store")).unwrap();
    let mut b = Batch::new();
    for &tree in trees {
        for e in store.scan(tree) {
            b.remove(tree, e.unwrap().0);
        }
    }
    let n = b.len();
    store.commit(b).unwrap();
    store.flush().unwrap();
    n
}

#[test]
fn rebuild_restores_deleted_indexes_and_verify_finds_planted_damage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (data, music) = (d.join("db"), d.join("music"));
    for s in 0..3 {
        write_song(&music.join(format!("r{s}.wav")), 700 + s);
    }
    report(&data, &[music.to_str().unwrap()], 0);
    verify_clean(&data);
    assert!(drop_trees(&data, &[Tree::Buckets]) > 100);
    assert_eq!(drop_trees(&data, &[Tree::Paths, Tree::Digests]), 6);
    std::fs::remove_dir_all(data.join("vectors")).unwrap();
    std::fs::remove_dir_all(data.join("text")).unwrap();
    assert_eq!(identify(&data, d, 701), None, "nothing answers without buckets");
    let v = report(&data, &["--verify"], 1);
    assert!(v["counts"]["missing_postings"].as_u64().unwrap() > 100, "{v}");
    assert_eq!(v["counts"]["missing_text"], 3);
    assert_eq!(v["counts"]["missing_vector"], 9, "three graphs × three tracks");
    assert_eq!(
        [&v["counts"]["missing_path"], &v["counts"]["missing_digest"]],
        [3, 3],
        "{v}"
    );

    let r = report(&data, &["--rebuild"], 0);
    assert_eq!(r["hash_tiers"]["tracks"], 3, "{r}");
    assert!(r["hash_tiers"]["buckets_written"].as_u64().unwrap() > 100);
    assert_eq!([&r["vectors"], &r["text_documents"]], [3, 3]);
    // Last, the store was rewritten into a fresh database (issue 16).
    assert!(r["store"]["bytes_after"].as_u64().unwrap() > 0, "{r}");
    assert!(!data.join("store.rewrite").exists());
    assert_eq!(
        [&r["lookups"]["paths_written"], &r["lookups"]["digests_written"]],
        [3, 3],
        "{r}"
    );
    for s in 0..3 {
        let want = format!("{}/r{s}.wav", music.display());
        assert_eq!(identify(&data, d, 700 + s).as_deref(), Some(want.as_str()));
    }
    let out = sonica(&data, &["search", "--json", ""]);
    let s: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(s["total"], 3, "{s}");
    verify_clean(&data);
    // With the paths back, a rerun knows every file: nothing is re-added.
    let again = report(&data, &[music.to_str().unwrap()], 0);
    assert_eq!([&again["unchanged"], &again["added"]], [3, 0], "{again}");

    // Plant a dangling path entry and lose one bucket block.
    let bucket = {
        let store = SledStore::open(&data.join("store")).unwrap();
        let (key, _) = store.scan(Tree::Buckets).nth(7).unwrap().unwrap();
        let mut b = Batch::new();
        b.put(Tree::Paths, &b"ghost/track.wav"[..], 4242u32.to_be_bytes());
        b.remove(Tree::Buckets, key.clone());
        store.commit(b).unwrap();
        store.flush().unwrap();
        u32::from_be_bytes(key.try_into().unwrap())
    };
    let out = reindex(&data, &["--verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ghost/track.wav") && text.contains("dangling_path"),
        "{text}"
    );
    assert!(text.contains(&format!("bucket {bucket} is missing")), "{text}");
}

#[test]
fn a_store_in_use_is_refused_before_anything_happens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (data, music) = (d.join("db"), d.join("music"));
    write_song(&music.join("x.wav"), 800);
    let held = sonica::Library::open(&data, &sonica::OpenOptions::recognition_only()).unwrap();
    for args in [vec![music.to_str().unwrap()], vec!["--rebuild"], vec!["--verify"]] {
        let out = reindex(&data, &args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(
                "in use by another process (a running `sonica serve`?); stop it first, or ingest through its API"
            ),
            "{err}"
        );
        assert!(stdout(&out).is_empty());
    }
    assert!(held.is_empty(), "nothing was ingested");
    assert!(!data.join("vectors").exists());
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    for args in [
        vec![],
        vec!["--rebuild", "music"],
        vec!["--verify", "--prune"],
        vec!["--rebuild", "--verify"],
        vec!["--on-duplicate", "sometimes", "music"],
        vec!["--jobs", "many", "music"],
    ] {
        let out = reindex(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = reindex(&data, &["--verify"]);
    assert_eq!(out.status.code(), Some(3), "no library to verify");
    assert!(stderr(&out).contains("no library"), "{}", stderr(&out));
    assert!(!data.exists(), "nothing was created");
}

//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sonica::decode::load_clip;
use sonica::Identifier;
use sonica_index::FingerprintIndex;

/// Path of the built `sonica` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sonica")
}

/// Runs `sonica` with the given data dir and arguments.
pub fn sonica(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("SONICA_DATA_DIR")
        .output()
        .expect("run sonica")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Identifies a file with the library API; returns the matched path.
pub fn identify_path(index: &FingerprintIndex, clip: &Path) -> Option<String> {
    let (pcm, _) = load_clip(clip).expect("clip decodes");
    Identifier::new(index)
        .identify_pcm(&pcm)
        .expect("lookup works")
        .map(|m| m.track.path)
}

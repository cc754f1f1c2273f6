#![allow(dead_code)]
#[path = "integration/audio.rs"]
mod audio;
#[path = "integration/common.rs"]
mod common;
#[path = "integration/reindex.rs"]
mod reindex;

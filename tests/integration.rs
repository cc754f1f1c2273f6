//! Whole-flow tests, built as one binary: generated audio in, the CLI and
//! the library out. They never need the network or the corpus.

#[path = "integration/audio.rs"]
mod audio;
#[path = "integration/bad_input.rs"]
mod bad_input;
#[path = "integration/cli.rs"]
mod cli;
#[path = "integration/common.rs"]
mod common;
#[path = "integration/fixtures.rs"]
mod fixtures;
#[path = "integration/kill.rs"]
mod kill;
#[path = "integration/recognition.rs"]
mod recognition;

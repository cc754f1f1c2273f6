//! The `sonica-reindex` binary: parses the command line and hands it to
//! [`sonica_reindex::run`]. Usage errors exit 2 (clap's code).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, as in `sonica`: decoding churns through short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ExitCode::from(sonica_reindex::run(sonica_reindex::Cli::parse()))
}

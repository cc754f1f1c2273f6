//! Command-line subcommands that have grown past a few lines, one file each.

pub mod analyze;
pub mod duplicates;
pub mod ingest;
pub mod similar;

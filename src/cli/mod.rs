//! The command line's pieces, one file each: the flags ([`args`]), the
//! service start ([`serve`]) and every subcommand longer than a line.

pub mod analyze;
pub mod args;
pub mod duplicates;
pub mod identify;
pub mod ingest;
pub mod keys;
pub mod library;
pub mod master;
pub mod monitor;
pub mod reference;
pub mod serve;
pub mod similar;

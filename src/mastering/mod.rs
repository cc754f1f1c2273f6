//! The mastering assistant: measure a mix ([`measure`]), compare it with
//! references or a genre target ([`compare`]), say what to change, render
//! the suggestion so it can be heard ([`render`]), and keep references and
//! analyses in the library ([`assistant`], [`builtin`]).

pub mod assistant;
pub mod builtin;
pub mod compare;
pub mod distortion;
mod error;
pub mod file;
pub mod measure;
pub mod render;

pub use error::MasteringError;
pub use file::{load, measure_and_keep, measure_file, write_wav, MAX_MASTER_S};
pub use measure::{measure, MasteringMeter};

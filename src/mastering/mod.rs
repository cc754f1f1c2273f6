//! The mastering assistant: measure a mix ([`measure`]), compare it with
//! references or a genre target ([`compare`]), say what to change, and
//! render the suggestion so it can be heard ([`render`]).

pub mod compare;
pub mod file;
pub mod measure;
pub mod render;

pub use file::{load, measure_file, write_wav, MAX_MASTER_S};
pub use measure::{measure, MasteringMeter};

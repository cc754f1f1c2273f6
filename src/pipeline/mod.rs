//! From files to stored tracks: the one path every way in shares.
//!
//! - [`walk`]: the folder walker (command line, reindex, watched folder);
//! - [`decode_once`]: one decode of a file fanned out to the fingerprint
//!   and the music analysis, each on a [`stage`] thread beside the decoder;
//!   the fingerprint can be taken first and the analysis after;
//! - [`section`]: the music of one range of a file, alone;
//! - [`bulk`]: many files on every core into one writer (`sonica ingest`
//!   and `sonica-reindex`);
//! - [`writer`]: the one ingest writer (admit under the duplicate policy,
//!   flush, compact, log), used by the bulk runs and the service's jobs.

pub mod bulk;
pub mod decode_once;
pub mod excerpt;
pub mod section;
pub mod stage;
pub mod walk;
pub mod writer;

pub use decode_once::{
    analyse_file, fingerprint_first, music_of_file, Analysed, Fingerprinted, Music, MusicPass, PendingMusic,
    MIN_DURATION_S,
};
pub use section::analyse_music;
pub use walk::{is_audio_name, walk, Walked, AUDIO_EXTENSIONS};
pub use writer::{new_track, GivenTags, IngestWriter, Ingested, Slot, Written, COMPACT_FRESH_POSTINGS};

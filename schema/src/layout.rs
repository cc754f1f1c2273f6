//! The key layout of every tree in the store, and the format version.
//!
//! | tree         | key                         | value                                   |
//! |--------------|-----------------------------|-----------------------------------------|
//! | `meta`       | `format_version`            | u32 big-endian: [`FORMAT_VERSION`]      |
//! | `tracks`     | track id, u32 BE            | [`TrackRecord`](crate::TrackRecord) JSON |
//! | `paths`      | path as given, UTF-8        | track id, u32 BE                        |
//! | `peaks`      | track id, u32 BE            | peak list ([`crate::peaks`] codec)      |
//! | `buckets`    | bucket id, u32 BE           | postings of all compacted tracks whose hash falls in the bucket, one block ([`crate::postings`] codec) |
//! | `tombstones` | track id, u32 BE            | empty: a deleted track whose compacted postings still await purging |
//! | `jobs`       | track id, u32 BE            | [`JobRecord`](crate::JobRecord) JSON: a track accepted but not yet fingerprinted (queued, processing or failed) |
//! | `analysis`   | track id, u32 BE            | [`TrackAnalysis`](crate::TrackAnalysis) JSON packed with zstd ([`crate::packed`]; plain JSON in version 1), with its own analysis version |
//! | `digests`    | sha256 of the file, 32 bytes | track id, u32 BE: finds exact copies without decoding |
//! | `duplicates` | new id, u32 BE ++ existing id, u32 BE | [`Duplicate`](crate::Duplicate) JSON: a track added although it duplicates another |
//! | `chromaprints` | track id, u32 BE          | compressed Chromaprint fingerprint (AcoustID format, before base64) |
//! | `waveforms`  | track id, u32 BE            | [`Waveform`](crate::Waveform): the peak envelope the web app draws |
//! | `references` | track id, u32 BE            | [`ReferenceRecord`](crate::mastering_record::ReferenceRecord) JSON: a track marked as a mastering reference, with its genre and profile |
//! | `analyses`   | analysis id, u64 BE         | [`AnalysisRecord`](crate::mastering_record::AnalysisRecord) JSON: a stored mastering analysis |
//! | `analysis_audio` | analysis id, u64 BE     | [`PreviewAudio`](crate::mastering_record::PreviewAudio): the mix's opening, for the preview |
//! | `api_keys`   | key id, u64 BE              | [`KeyRecord`](crate::api_key::KeyRecord) JSON: an API key's name, tier, overrides and sha256 (never the key) |
//! | `quota_counters` | key id, u64 BE ++ quota tag, u8 | [`Counter`](crate::quota::Counter): the window a key's quota counts in and its count so far |
//! | `monitors`   | monitor id, u64 BE          | a registered live source (URL, state), JSON |
//! | `plays`      | monitor id, u64 BE ++ start ms, u64 BE ++ seq, u32 BE | one play or gap of a monitor's log, JSON |
//! | `webhooks`   | subscription id, u64 BE     | a webhook subscription (URL, event kinds, secret), JSON |
//! | `outbox`     | event id, u64 BE            | an event awaiting delivery to its subscribers, JSON |
//! | `deliveries` | event id, u64 BE ++ subscription id, u64 BE | the delivery log: attempts, last status, delivered or given up, JSON |
//!
//! Big-endian ids make sled's byte order equal numeric order, so scans come
//! back sorted. The peak list is the canonical fingerprint: both hash tiers
//! are derived from it and can be rebuilt without decoding audio again. The
//! fresh tier has no tree of its own: it is the tracks whose record says
//! `fresh`, with postings derived from their peaks into memory at open.
//!
//! A track id lives in exactly one of `jobs` (not ready yet) and `tracks`
//! (ready): the batch that stores a fingerprinted track also deletes its
//! job. The `jobs` tree was added after version 1 shipped without changing
//! any existing layout; a version-1 store simply has it empty. The same goes
//! for `analysis`: a track without a record there is one ingested before
//! analysis existed, and `sonica-reindex` fills it in. `digests`,
//! `duplicates`, `chromaprints`, `waveforms`, `references`, `analyses` and
//! `analysis_audio` are additive in the same
//! way: a track ingested before them simply has no entry (and no `sha256`
//! in its record); its waveform is computed from the file when first asked
//! for, and stored. `api_keys` and `quota_counters` hold no track data: a
//! store without them has no stored keys and nothing counted. `monitors`,
//! `plays`, `webhooks`, `outbox` and `deliveries` are additive the same way:
//! a store without them has no monitors and no subscriptions.
//!
//! The vector (HNSW) and text (tantivy) indexes are not trees: they live in
//! folders beside the store (`vectors/`, `text/`) and are derived from the
//! `tracks` and `analysis` trees, so they can always be rebuilt from them.

/// Bumped whenever any layout or value encoding here changes incompatibly.
/// A store with another version is refused with a clear message.
///
/// Version 2 added the tolerant hash family (triplet hashes, `>= 2^31`)
/// to the `buckets` tree and packs the analysis records with zstd
/// ([`crate::packed`]; a plain-JSON record of version 1 still decodes).
pub const FORMAT_VERSION: u32 = 2;

/// A store of this version holds every canonical record this version
/// does; only postings derived from the stored peaks are missing (and its
/// analysis records are not packed yet). `sonica-reindex --rebuild`
/// derives them, repacks the records and stamps the store
/// [`FORMAT_VERSION`]; anything else refuses it with that advice.
pub const REBUILDS_FROM: u32 = 1;

/// Key in the `meta` tree holding the format version.
pub const META_FORMAT_VERSION: &[u8] = b"format_version";

/// A hash's bucket is `hash >> BUCKET_SHIFT`: 256 neighbouring hash values
/// share one compacted block, so a block holds enough postings for zstd and
/// delta coding to pay while a lookup still decodes only a few hundred.
pub const BUCKET_SHIFT: u32 = 8;

/// Every tree in the store. The enum is the single list the backends iterate,
/// so adding a tree here is enough for every backend to create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tree {
    Meta,
    Tracks,
    Paths,
    Peaks,
    Buckets,
    Tombstones,
    Jobs,
    Analysis,
    Digests,
    Duplicates,
    Chromaprints,
    Waveforms,
    References,
    Analyses,
    AnalysisAudio,
    ApiKeys,
    QuotaCounters,
    Monitors,
    Plays,
    Webhooks,
    Outbox,
    Deliveries,
}

impl Tree {
    pub const ALL: [Tree; 22] = [
        Tree::Meta,
        Tree::Tracks,
        Tree::Paths,
        Tree::Peaks,
        Tree::Buckets,
        Tree::Tombstones,
        Tree::Jobs,
        Tree::Analysis,
        Tree::Digests,
        Tree::Duplicates,
        Tree::Chromaprints,
        Tree::Waveforms,
        Tree::References,
        Tree::Analyses,
        Tree::AnalysisAudio,
        Tree::ApiKeys,
        Tree::QuotaCounters,
        Tree::Monitors,
        Tree::Plays,
        Tree::Webhooks,
        Tree::Outbox,
        Tree::Deliveries,
    ];

    /// The tree's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Tracks => "tracks",
            Tree::Paths => "paths",
            Tree::Peaks => "peaks",
            Tree::Buckets => "buckets",
            Tree::Tombstones => "tombstones",
            Tree::Jobs => "jobs",
            Tree::Analysis => "analysis",
            Tree::Digests => "digests",
            Tree::Duplicates => "duplicates",
            Tree::Chromaprints => "chromaprints",
            Tree::Waveforms => "waveforms",
            Tree::References => "references",
            Tree::Analyses => "analyses",
            Tree::AnalysisAudio => "analysis_audio",
            Tree::ApiKeys => "api_keys",
            Tree::QuotaCounters => "quota_counters",
            Tree::Monitors => "monitors",
            Tree::Plays => "plays",
            Tree::Webhooks => "webhooks",
            Tree::Outbox => "outbox",
            Tree::Deliveries => "deliveries",
        }
    }

    /// Position in [`Tree::ALL`], for backends that keep trees in an array.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Key for a track id in `tracks`, `peaks` and `tombstones`.
pub fn track_key(id: crate::TrackId) -> [u8; 4] {
    id.to_be_bytes()
}

/// Decodes a track-id key.
pub fn parse_track_key(key: &[u8]) -> Option<crate::TrackId> {
    Some(u32::from_be_bytes(key.try_into().ok()?))
}

/// The bucket a hash belongs to.
pub fn bucket_of(hash: u32) -> u32 {
    hash >> BUCKET_SHIFT
}

/// Key for a bucket in `buckets`.
pub fn bucket_key(bucket: u32) -> [u8; 4] {
    bucket.to_be_bytes()
}

/// Encodes the format version value.
pub fn encode_version(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// Decodes the format version value.
pub fn decode_version(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_index_matches_all_order() {
        for (i, t) in Tree::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
    }

    #[test]
    fn keys_sort_numerically() {
        assert!(track_key(1) < track_key(256));
        assert_eq!(parse_track_key(&track_key(0xdead_beef)), Some(0xdead_beef));
        assert_eq!(parse_track_key(b"abc"), None);
    }

    #[test]
    fn neighbouring_hashes_share_a_bucket() {
        assert_eq!(bucket_of(0x0012_3400), bucket_of(0x0012_34ff));
        assert_ne!(bucket_of(0x0012_34ff), bucket_of(0x0012_3500));
    }
}

//! What `verify` reports: the kinds of difference, the report, and the
//! checker each pass of `verify` and `verify_buckets` notes differences in.

use std::collections::{BTreeMap, BTreeSet};

use sonica_schema::TrackId;

/// The kinds of difference `verify` finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    UnreadableRecord,
    TrackIsAlsoJob,
    DanglingPath,
    PathMismatch,
    MissingPath,
    DanglingDigest,
    DigestMismatch,
    MissingDigest,
    MalformedDuplicateLink,
    DanglingDuplicateLink,
    MissingPeaks,
    UnreadablePeaks,
    OrphanPeaks,
    TombstoneOfLiveTrack,
    UnreadableBucket,
    MissingPostings,
    UnexpectedPostings,
    OrphanPostings,
    OrphanAnalysis,
    OrphanChromaprint,
    OrphanWaveform,
    OrphanReference,
    MissingVector,
    StaleVector,
    MissingText,
    StaleText,
}

/// One difference, in words.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Difference {
    pub problem: Problem,
    pub message: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    pub consistent: bool,
    pub tracks: usize,
    pub jobs: usize,
    pub buckets: usize,
    /// Bucket postings read and compared.
    pub postings_checked: usize,
    /// Every difference found, by kind.
    pub counts: BTreeMap<Problem, usize>,
    /// The first differences of each kind.
    pub differences: Vec<Difference>,
    /// Differences counted but not listed.
    pub not_listed: usize,
}

/// Limits of a verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// At most about this many derived postings are held at once.
    pub postings_per_pass: usize,
    /// Differences listed in full per kind (all are counted).
    pub max_listed: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            postings_per_pass: super::rebuild::DEFAULT_POSTINGS_PER_PASS,
            max_listed: 20,
        }
    }
}

pub(super) struct Checker {
    pub(super) report: VerifyReport,
    pub(super) max_listed: usize,
}

impl Checker {
    pub(super) fn note(&mut self, problem: Problem, message: impl FnOnce() -> String) {
        let n = self.report.counts.entry(problem).or_default();
        *n += 1;
        if *n <= self.max_listed {
            self.report.differences.push(Difference {
                problem,
                message: message(),
            });
        } else {
            self.report.not_listed += 1;
        }
    }
}

/// A few ids for a message: "1, 2, 3, … (7 tracks)".
pub(super) fn some_ids(ids: &BTreeSet<TrackId>) -> String {
    let shown: Vec<String> = ids.iter().take(5).map(u32::to_string).collect();
    if ids.len() > 5 {
        format!("{}, … ({} tracks)", shown.join(", "), ids.len())
    } else {
        shown.join(", ")
    }
}

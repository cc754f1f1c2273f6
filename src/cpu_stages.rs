//! CPU time spent by recognitions, per stage, summed over the process:
//! where a recognition's cost goes (decode, resample, peaks, hash,
//! lookup, vote), read by `/metrics` and by the load bench, which divides
//! the change over a run by the recognitions it made.
//!
//! Times are the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so
//! a thread preempted under load is not charged for the wait. Reading the
//! clock costs a system call (well under a microsecond), so spans are
//! taken around whole stages, never per hash or per hit.

use std::sync::atomic::{AtomicU64, Ordering};

/// The stages of one recognition, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Container and codec decoding to mono samples.
    Decode,
    /// Resampling to the fingerprint rate.
    Resample,
    /// Spectra and spectral peaks.
    Peaks,
    /// Hashes (pairs, speed hypotheses, triplets) made from the peaks.
    Hash,
    /// Fetching and decoding postings, each hit tallied to its track.
    Lookup,
    /// Choosing candidates from the tallies: offset histograms, the
    /// tolerant stage's scale vote and its checks on stored peaks.
    Vote,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Decode,
        Stage::Resample,
        Stage::Peaks,
        Stage::Hash,
        Stage::Lookup,
        Stage::Vote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Resample => "resample",
            Stage::Peaks => "peaks",
            Stage::Hash => "hash",
            Stage::Lookup => "lookup",
            Stage::Vote => "vote",
        }
    }
}

static NANOS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

/// The calling thread's CPU time so far, in nanoseconds (0 where the
/// clock cannot be read).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Adds `nanos` of CPU time to `stage`.
pub fn charge(stage: Stage, nanos: u64) {
    NANOS[stage as usize].fetch_add(nanos, Ordering::Relaxed);
}

/// Runs `f`, charging its CPU time on this thread to `stage`.
pub fn timed<T>(stage: Stage, f: impl FnOnce() -> T) -> T {
    let start = thread_cpu_ns();
    let out = f();
    charge(stage, thread_cpu_ns().saturating_sub(start));
    out
}

/// Seconds of CPU charged to each stage since the process started.
pub fn totals() -> [(Stage, f64); 6] {
    Stage::ALL.map(|s| (s, NANOS[s as usize].load(Ordering::Relaxed) as f64 / 1e9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_span_is_charged_to_its_stage_and_only_there() {
        let before = totals();
        let spun = timed(Stage::Vote, || {
            let mut x = 0u64;
            let start = thread_cpu_ns();
            while thread_cpu_ns() - start < 5_000_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            x
        });
        std::hint::black_box(spun);
        let after = totals();
        let vote = after[Stage::Vote as usize].1 - before[Stage::Vote as usize].1;
        assert!(vote >= 0.004, "5 ms of CPU charged as {vote} s");
    }
}

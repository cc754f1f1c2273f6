//! A stage of the ingest pipeline on a thread of its own, fed while the
//! file decodes.
//!
//! Ingesting one file is decode → fingerprint and decode → music analysis
//! on one stream of samples. All on the decoding thread, a single upload
//! kept one core busy while the other idled (a 4-minute MP3 took over a
//! second to become READY). Here the decoder hands batches of samples over
//! a bounded channel to each [`Stage`], and the stages run beside it, so one
//! file spreads over the cores. Under bulk ingest, where every core already
//! decodes a file, the extra threads cost one copy of the samples, and the
//! last files of a run no longer finish on one core.
//!
//! A [`Priority::Background`] stage runs at a lower OS priority behind a
//! deep queue: the decoder and the other stages get the cores first and
//! the background stage catches up after (the service's music analysis,
//! which must not delay a track becoming recognisable).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};

/// Samples per batch sent to a stage (a few packets' worth).
const BATCH: usize = 1 << 15;
/// Batches in flight: bounds memory if a stage falls behind the decoder.
const IN_FLIGHT: usize = 8;
/// Batches a background stage may fall behind: 384 × 128 KiB = 48 MiB,
/// about 2.5 minutes of 44.1 kHz stereo. A song's decode rarely waits on
/// it (the stage works through part of the song while it decodes), and a
/// file the length limit stops after hours holds no more than this.
/// (768 batches made a 7-hour FLAC upload cost the server +221 MB.)
const IN_FLIGHT_BACKGROUND: usize = 384;
/// How much nicer a background stage is than the rest (Linux `nice`).
const BACKGROUND_NICE: i32 = 10;

/// How a stage competes for the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Normal,
    /// Lower OS priority and a deep queue.
    Background,
}

/// Work that consumes a stream of samples and yields one result. A stage
/// keeps its own errors and reports them in its output: the decoder never
/// waits on a stage's verdict. It is built on its thread (some DSP state,
/// such as rusty-chromaprint's, cannot move between threads).
pub trait Stage: 'static {
    type Output: Send + 'static;
    fn push(&mut self, samples: &[f32]);
    fn finish(self) -> Self::Output;
}

/// A [`Stage`] running on its own thread.
pub struct StageThread<S: Stage> {
    name: &'static str,
    tx: Option<Sender<Vec<f32>>>,
    pending: Vec<f32>,
    abandon: Arc<AtomicBool>,
    worker: Option<JoinHandle<Option<S::Output>>>,
}

/// The stage's thread could not start, or stopped by panicking.
#[derive(Debug, thiserror::Error)]
#[error("the {name} thread {what}")]
pub struct StageFailed {
    pub name: &'static str,
    pub what: String,
}

impl<S: Stage> StageThread<S> {
    /// Starts a thread named `name` that builds its stage with `make`.
    pub fn start(
        name: &'static str,
        priority: Priority,
        make: impl FnOnce() -> S + Send + 'static,
    ) -> Result<Self, StageFailed> {
        let depth = match priority {
            Priority::Normal => IN_FLIGHT,
            Priority::Background => IN_FLIGHT_BACKGROUND,
        };
        let (tx, rx) = bounded::<Vec<f32>>(depth);
        let abandon = Arc::new(AtomicBool::new(false));
        let stop = abandon.clone();
        let worker = std::thread::Builder::new()
            .name(format!("sonica-{name}"))
            .spawn(move || {
                if priority == Priority::Background {
                    lower_this_threads_priority();
                }
                let mut stage = make();
                for batch in rx {
                    if stop.load(Ordering::Relaxed) {
                        return None;
                    }
                    stage.push(&batch);
                }
                Some(stage.finish())
            })
            .map_err(|e| StageFailed {
                name,
                what: format!("could not start: {e}"),
            })?;
        Ok(StageThread {
            name,
            tx: Some(tx),
            pending: Vec::with_capacity(BATCH),
            abandon,
            worker: Some(worker),
        })
    }

    /// Samples in stream order (whole interleaved frames for a stage that
    /// takes interleaved audio).
    pub fn push(&mut self, samples: &[f32]) {
        if self.tx.is_none() {
            return;
        }
        self.pending.extend_from_slice(samples);
        if self.pending.len() >= BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        if batch.is_empty() {
            return;
        }
        // A closed channel means the stage panicked; `finish` reports it.
        if self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_err()) {
            self.tx = None;
        }
    }

    /// Sends what is left, waits for the stage and returns its output.
    pub fn finish(mut self) -> Result<S::Output, StageFailed> {
        self.send();
        self.tx = None;
        let worker = self.worker.take().expect("taken only here or in drop");
        match worker.join() {
            Ok(Some(out)) => Ok(out),
            Ok(None) | Err(_) => Err(StageFailed {
                name: self.name,
                what: "stopped unexpectedly".into(),
            }),
        }
    }
}

/// Makes the calling thread yield the cores to normal-priority work. Best
/// effort: where the OS refuses, the stage just runs at normal priority.
#[cfg(target_os = "linux")]
pub(crate) fn lower_this_threads_priority() {
    // SAFETY: plain system calls on the calling thread's own id, no memory
    // handed over. On Linux, PRIO_PROCESS with a thread id sets that
    // thread's nice value alone.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_this_threads_priority() {}

/// Dropped without `finish` (the decode failed): the thread stops at its
/// next batch and is waited for, so no work outlives the file.
impl<S: Stage> Drop for StageThread<S> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.abandon.store(true, Ordering::Relaxed);
            self.tx = None;
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums and counts what it is sent, and remembers the thread it ran on.
    struct Sum(f64, usize, Option<String>);

    impl Stage for Sum {
        type Output = (f64, usize, Option<String>);
        fn push(&mut self, samples: &[f32]) {
            self.0 += samples.iter().map(|&x| f64::from(x)).sum::<f64>();
            self.1 += samples.len();
            self.2 = std::thread::current().name().map(str::to_string);
        }
        fn finish(self) -> Self::Output {
            (self.0, self.1, self.2)
        }
    }

    #[test]
    fn every_sample_arrives_in_order_on_the_stage_thread() {
        let mut b = StageThread::start("sum", Priority::Normal, || Sum(0.0, 0, None)).unwrap();
        let x: Vec<f32> = (0..200_001).map(|i| (i % 7) as f32).collect();
        for c in x.chunks(999) {
            b.push(c);
        }
        let (sum, n, thread) = b.finish().unwrap();
        assert_eq!(n, x.len());
        assert_eq!(sum, x.iter().map(|&v| f64::from(v)).sum::<f64>());
        assert_eq!(thread.as_deref(), Some("sonica-sum"));
    }

    struct Panics;

    impl Stage for Panics {
        type Output = ();
        fn push(&mut self, _: &[f32]) {
            panic!("planted");
        }
        fn finish(self) {}
    }

    #[test]
    fn a_stage_that_panics_is_reported_not_propagated() {
        let mut b = StageThread::start("panics", Priority::Normal, || Panics).unwrap();
        for _ in 0..40 {
            b.push(&[0.0; 4096]);
        }
        let e = b.finish().unwrap_err();
        assert_eq!(e.to_string(), "the panics thread stopped unexpectedly");
    }

    #[test]
    fn a_background_stage_gets_everything_too() {
        let mut b = StageThread::start("sum", Priority::Background, || Sum(0.0, 0, None)).unwrap();
        b.push(&vec![1.0; BATCH * 20 + 3]);
        let (sum, n, _) = b.finish().unwrap();
        assert_eq!((sum as usize, n), (BATCH * 20 + 3, BATCH * 20 + 3));
    }

    #[test]
    fn dropping_it_unfinished_stops_the_thread() {
        let mut b = StageThread::start("sum", Priority::Normal, || Sum(0.0, 0, None)).unwrap();
        b.push(&vec![1.0; BATCH * 3]);
        drop(b);
    }
}

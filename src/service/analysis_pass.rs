//! The music analysis of uploaded tracks, after their fingerprint.
//!
//! A job worker stores a track as soon as it is recognisable and hands its
//! music analysis, still running on a background-priority thread beside
//! the decoder, to this pass; one thread here waits for each in turn and
//! stores the analysis and Chromaprint ([`IngestWriter::store_music`]).
//! Tracks whose analysis was never stored (the process stopped first, or
//! `sonica ingest --fingerprint-only` put them there) carry
//! `analysis_pending` in their record: at start the pass decodes them
//! again, at background priority, after anything newer.
//!
//! The hand-over queue is short, so a flood of uploads slows the workers
//! down rather than piling up analyses in memory. At shutdown the
//! analyses not stored yet are dropped; their tracks stay pending and are
//! done at the next start.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};
use sonica_index::{FingerprintIndex, IndexError};
use sonica_schema::TrackId;

use crate::pipeline::{music_of_file, IngestWriter, Music, PendingMusic};

/// Analyses handed over and not yet collected, beyond the one in hand.
const HANDOVER_QUEUE: usize = 2;

/// The pass: one thread and its queue.
pub struct AnalysisPass {
    tx: Option<Sender<(TrackId, PendingMusic)>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AnalysisPass {
    /// Starts the thread; it first looks for tracks left pending.
    pub fn start(index: Arc<FingerprintIndex>) -> std::io::Result<AnalysisPass> {
        let (tx, rx) = bounded(HANDOVER_QUEUE);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("sonica-analysis".into())
            .spawn(move || run(&index, &rx, &stop))?;
        Ok(AnalysisPass {
            tx: Some(tx),
            stopping,
            thread: Some(thread),
        })
    }

    /// Hands over the running analysis of track `id` (waits while the
    /// queue is full).
    pub fn submit(&self, id: TrackId, music: PendingMusic) {
        if let Some(tx) = &self.tx {
            // A closed queue means the pass stopped: the track stays pending.
            let _ = tx.send((id, music));
        }
    }

    /// Drops what is not stored yet and waits for the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AnalysisPass {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(index: &FingerprintIndex, rx: &Receiver<(TrackId, PendingMusic)>, stopping: &AtomicBool) {
    crate::pipeline::stage::lower_this_threads_priority();
    let writer = IngestWriter::new(index);
    let mut left: VecDeque<(TrackId, String)> = match index.list() {
        Ok(all) => all
            .into_iter()
            .filter(|r| r.analysis_pending)
            .map(|r| (r.id, r.path))
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot list the tracks left without analysis");
            VecDeque::new()
        }
    };
    if !left.is_empty() {
        tracing::info!(tracks = left.len(), "analysing tracks stored without their analysis");
    }
    loop {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        // Newly handed-over analyses first: they are already running.
        let next = match rx.try_recv() {
            Ok(handed) => Some(handed),
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) if left.is_empty() => match rx.recv() {
                Ok(handed) => Some(handed),
                Err(_) => return,
            },
            Err(TryRecvError::Empty) => None,
        };
        let (id, music) = match next {
            Some((id, pending)) => (id, pending.finish()),
            None => {
                let Some((id, path)) = left.pop_front() else { continue };
                match again(&path, stopping) {
                    Some(m) => (id, m),
                    None => (id, Music::none()),
                }
            }
        };
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        store(&writer, id, music);
    }
}

/// Decodes a pending track's file again for its music; stops early (and
/// stores nothing) when the pass is stopping.
fn again(path: &str, stopping: &AtomicBool) -> Option<Music> {
    match music_of_file(Path::new(path), &|| stopping.load(Ordering::SeqCst)) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(path, error = %e, "cannot analyse a stored track again");
            None
        }
    }
}

fn store(writer: &IngestWriter<'_>, id: TrackId, music: Music) {
    if let Err(e) = &music.analysis {
        // Still recognisable; only similarity and filters will miss it.
        tracing::warn!(id, error = %e, "stored without music analysis");
    }
    match writer.store_music(id, &music) {
        Ok(r) => tracing::info!(id, path = %r.path, analysed = music.analysis.is_ok(), "music analysis stored"),
        // Deleted or replaced meanwhile: nothing to store.
        Err(IndexError::UnknownTrack(_)) => {}
        Err(e) => tracing::error!(id, error = %e, "cannot store a music analysis; the track stays pending"),
    }
}

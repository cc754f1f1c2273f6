//! Saves the vector graphs in the background while the service runs.
//!
//! The store is the truth and every add reaches the graphs in memory at
//! once; writing a graph to disk is the slow part, so it happens here every
//! few seconds when something changed, and once more at shutdown. A kill
//! in between loses no data: the next start re-inserts the few vectors the
//! last save lacked (see `MusicIndex::open`).

use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sonica_index::MusicIndex;

/// How often a changed graph is written.
pub const SAVE_EVERY: Duration = Duration::from_secs(10);

pub struct VectorSaver {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl VectorSaver {
    pub fn start(music: Arc<MusicIndex>) -> VectorSaver {
        let (stop, rx) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vector-saver".into())
            .spawn(move || loop {
                let last = match rx.recv_timeout(SAVE_EVERY) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                if let Err(e) = music.sync() {
                    tracing::error!(error = %e, "saving the vector indexes failed");
                }
                if last {
                    break;
                }
            })
            .ok();
        VectorSaver { stop, thread }
    }

    /// Saves one last time and waits for it.
    pub fn shutdown(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

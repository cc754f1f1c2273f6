//! Which jobs are due when: the in-memory queue in front of the job
//! workers. The durable truth is the `jobs` tree; this only orders the ids
//! (a job that failed waits for its retry time) and lets workers sleep
//! until one is due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use sonica_schema::TrackId;

#[derive(Default)]
struct State {
    due: BinaryHeap<Reverse<(Instant, TrackId)>>,
    waiting: HashSet<TrackId>,
    running: HashSet<TrackId>,
    stopping: bool,
}

/// Which jobs are due when. Cheap to share; every method is short.
#[derive(Default)]
pub struct Scheduler {
    state: Mutex<State>,
    wake: Condvar,
}

impl Scheduler {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `id` to run at `at` (a job already waiting keeps its turn).
    pub fn push_at(&self, id: TrackId, at: Instant) {
        let mut s = self.lock();
        if s.waiting.insert(id) {
            s.due.push(Reverse((at, id)));
            self.wake.notify_one();
        }
    }

    pub fn push(&self, id: TrackId) {
        self.push_at(id, Instant::now());
    }

    /// Jobs waiting or running.
    pub fn depth(&self) -> usize {
        let s = self.lock();
        s.waiting.len() + s.running.len()
    }

    /// Blocks until a job is due (returning it, marked running) or the
    /// scheduler stops (returning `None`).
    pub(crate) fn next(&self) -> Option<TrackId> {
        let mut s = self.lock();
        loop {
            if s.stopping {
                return None;
            }
            let now = Instant::now();
            match s.due.peek().copied() {
                Some(Reverse((at, id))) if at <= now => {
                    s.due.pop();
                    s.waiting.remove(&id);
                    s.running.insert(id);
                    return Some(id);
                }
                Some(Reverse((at, _))) => {
                    s = self.wake.wait_timeout(s, at - now).unwrap_or_else(|p| p.into_inner()).0;
                }
                None => {
                    s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// Marks `id` no longer running; `true` when it waits again (a retry
    /// was queued while it ran).
    pub(crate) fn done(&self, id: TrackId) -> bool {
        let mut s = self.lock();
        s.running.remove(&id);
        s.waiting.contains(&id)
    }

    /// Jobs running or due now: what the workers have to do before they
    /// are free (a job waiting for its retry time is not counted).
    pub fn busy(&self) -> usize {
        let s = self.lock();
        let now = Instant::now();
        s.running.len() + s.due.iter().filter(|Reverse((at, _))| *at <= now).count()
    }

    /// Wakes every worker; each exits after the job it is running.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }
}

/// How failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
}

impl RetryPolicy {
    /// Delay before attempt `n + 1` after `n` failed ones: doubling, capped.
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(10);
        (self.backoff * factor).min(Duration::from_secs(300))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn due_order_and_stop() {
        let s = Arc::new(Scheduler::default());
        let now = Instant::now();
        s.push_at(2, now + Duration::from_millis(30));
        s.push_at(1, now);
        s.push_at(1, now); // already waiting: no second copy
        assert_eq!(s.depth(), 2);
        assert_eq!(s.busy(), 1, "only job 1 is due");
        assert_eq!(s.next(), Some(1));
        assert_eq!(s.next(), Some(2));
        assert!(now.elapsed() >= Duration::from_millis(30));
        s.push_at(1, now); // a retry queued while 1 runs
        assert!(s.done(1), "1 waits again");
        assert!(!s.done(2));
        assert_eq!(s.next(), Some(1));
        assert!(!s.done(1));
        assert_eq!(s.depth(), 0);
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.next());
        std::thread::sleep(Duration::from_millis(20));
        s.stop();
        assert_eq!(t.join().unwrap(), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
        };
        assert_eq!(p.delay(1), Duration::from_millis(500));
        assert_eq!(p.delay(2), Duration::from_millis(1000));
        assert_eq!(p.delay(3), Duration::from_millis(2000));
        assert_eq!(p.delay(40), Duration::from_secs(300));
    }
}

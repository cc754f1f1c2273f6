//! The stored monitors and their play logs: register, list and remove live
//! sources, append plays and gaps, read a time range of one log.
//!
//! A monitor's record and its log are separate trees. Removing a monitor
//! removes its record first (one atomic write), then its log in chunks: a
//! kill between the two leaves log entries without a record, which no read
//! reaches (reads go through the record) and the next open purges.

use std::sync::{Arc, Mutex};

use sonica_schema::monitor::{log_key, monitor_key, parse_log_key, parse_monitor_key, LogEntry, MonitorRecord};
use sonica_schema::Tree;

use crate::store::{Batch, KvStore};
use crate::IndexError;

/// Log entries removed per write when a monitor goes.
const PURGE_CHUNK: usize = 1000;
/// Most entries one read returns.
pub const MAX_PAGE: usize = 1000;

/// Every stored monitor and its log.
pub struct MonitorStore {
    store: Arc<dyn KvStore>,
    /// Serialises id choice, sequence numbers and record updates.
    writer: Mutex<u32>,
}

fn poisoned<T>(_: T) -> IndexError {
    IndexError::Store(crate::StoreError::Backend("the monitor store's lock is poisoned".into()))
}

impl MonitorStore {
    /// Opens the store's monitors, purging the logs of removed ones.
    pub fn open(store: Arc<dyn KvStore>) -> Result<MonitorStore, IndexError> {
        let m = MonitorStore {
            store,
            writer: Mutex::new(0),
        };
        let live: Vec<u64> = m.list()?.iter().map(|r| r.id).collect();
        let mut orphans = Batch::new();
        for e in m.store.scan(Tree::Plays) {
            let (k, _) = e?;
            if parse_log_key(&k).is_none_or(|(id, _, _)| !live.contains(&id)) {
                orphans.remove(Tree::Plays, k);
                if orphans.len() >= PURGE_CHUNK {
                    m.store.commit(std::mem::take(&mut orphans))?;
                }
            }
        }
        m.store.commit(orphans)?;
        Ok(m)
    }

    /// Registers a source; the URL is already checked.
    pub fn add(&self, url: &str, name: Option<String>, now_unix: u64) -> Result<MonitorRecord, IndexError> {
        let _w = self.writer.lock().map_err(poisoned)?;
        let id = self.list()?.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        let r = MonitorRecord {
            id,
            url: url.to_string(),
            name,
            created_unix: now_unix,
            heard_until_ms: None,
        };
        let mut b = Batch::new();
        b.put(Tree::Monitors, monitor_key(id).to_vec(), r.encode());
        self.store.commit(b)?;
        Ok(r)
    }

    /// Every monitor, by id.
    pub fn list(&self) -> Result<Vec<MonitorRecord>, IndexError> {
        let mut out = Vec::new();
        for e in self.store.scan(Tree::Monitors) {
            let (k, v) = e?;
            let r = MonitorRecord::decode(&v)?;
            if parse_monitor_key(&k) == Some(r.id) {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub fn get(&self, id: u64) -> Result<Option<MonitorRecord>, IndexError> {
        match self.store.get(Tree::Monitors, &monitor_key(id))? {
            Some(v) => Ok(Some(MonitorRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Removes a monitor and its log; false when there was none.
    pub fn remove(&self, id: u64) -> Result<bool, IndexError> {
        {
            let _w = self.writer.lock().map_err(poisoned)?;
            if self.get(id)?.is_none() {
                return Ok(false);
            }
            let mut b = Batch::new();
            b.remove(Tree::Monitors, monitor_key(id).to_vec());
            self.store.commit(b)?;
        }
        let (from, to) = (log_key(id, 0, 0), log_key(id + 1, 0, 0));
        loop {
            let keys: Vec<Vec<u8>> = self
                .store
                .scan_range(Tree::Plays, &from, &to)
                .take(PURGE_CHUNK)
                .map(|e| e.map(|(k, _)| k))
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                return Ok(true);
            }
            let mut b = Batch::new();
            for k in keys {
                b.remove(Tree::Plays, k);
            }
            self.store.commit(b)?;
        }
    }

    /// Appends an entry to a monitor's log and moves its `heard_until_ms`
    /// to the entry's end, in one write. False when the monitor is gone.
    pub fn append(&self, id: u64, entry: &LogEntry) -> Result<bool, IndexError> {
        let mut seq = self.writer.lock().map_err(poisoned)?;
        let Some(mut r) = self.get(id)? else {
            return Ok(false);
        };
        *seq = seq.wrapping_add(1);
        r.heard_until_ms = Some(r.heard_until_ms.unwrap_or(0).max(entry.end_ms));
        let mut b = Batch::new();
        b.put(Tree::Plays, log_key(id, entry.start_ms, *seq).to_vec(), entry.encode());
        b.put(Tree::Monitors, monitor_key(id).to_vec(), r.encode());
        self.store.commit(b)?;
        Ok(true)
    }

    /// Records that the stream was heard up to `until_ms` (no entry).
    pub fn heard(&self, id: u64, until_ms: u64) -> Result<(), IndexError> {
        let _w = self.writer.lock().map_err(poisoned)?;
        let Some(mut r) = self.get(id)? else {
            return Ok(());
        };
        r.heard_until_ms = Some(r.heard_until_ms.unwrap_or(0).max(until_ms));
        let mut b = Batch::new();
        b.put(Tree::Monitors, monitor_key(id).to_vec(), r.encode());
        self.store.commit(b)?;
        Ok(())
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) entries of a monitor's log
    /// starting in `from_ms..to_ms`, oldest first.
    pub fn entries(&self, id: u64, from_ms: u64, to_ms: u64, limit: usize) -> Result<Vec<LogEntry>, IndexError> {
        let (from, to) = (log_key(id, from_ms, 0), log_key(id, to_ms, 0));
        let mut out = Vec::new();
        for e in self.store.scan_range(Tree::Plays, &from, &to).take(limit.min(MAX_PAGE)) {
            let (_, v) = e?;
            out.push(LogEntry::decode(&v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;
    use sonica_schema::monitor::LogKind;

    fn entry(start_ms: u64, end_ms: u64) -> LogEntry {
        LogEntry {
            kind: LogKind::Play,
            start_ms,
            end_ms,
            track: Some(1),
            title: Some("T".into()),
            artist: None,
            offset_in_track_s: Some(0.0),
            confidence: Some(1.0),
            speed: Some(1.0),
            reason: None,
        }
    }

    #[test]
    fn logs_are_kept_per_monitor_and_read_by_time() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let m = MonitorStore::open(store.clone()).unwrap();
        let a = m.add("http://a.example/live", None, 1).unwrap();
        let b = m.add("http://b.example/live", Some("B".into()), 1).unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        for t in [30_000, 10_000, 20_000] {
            assert!(m.append(a.id, &entry(t, t + 5_000)).unwrap());
        }
        assert!(m.append(b.id, &entry(15_000, 16_000)).unwrap());
        let got: Vec<u64> = m.entries(a.id, 0, u64::MAX, 10).unwrap().iter().map(|e| e.start_ms).collect();
        assert_eq!(got, vec![10_000, 20_000, 30_000]);
        let got: Vec<u64> = m.entries(a.id, 15_000, 30_000, 10).unwrap().iter().map(|e| e.start_ms).collect();
        assert_eq!(got, vec![20_000]);
        assert_eq!(m.entries(a.id, 0, u64::MAX, 2).unwrap().len(), 2);
        assert_eq!(m.get(a.id).unwrap().unwrap().heard_until_ms, Some(35_000));
    }

    #[test]
    fn removing_a_monitor_removes_its_log_and_orphans_are_purged() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let m = MonitorStore::open(store.clone()).unwrap();
        let a = m.add("http://a.example/live", None, 1).unwrap();
        m.append(a.id, &entry(1, 2)).unwrap();
        assert!(m.remove(a.id).unwrap());
        assert!(!m.remove(a.id).unwrap());
        assert!(!m.append(a.id, &entry(3, 4)).unwrap());
        assert_eq!(store.len(Tree::Plays).unwrap(), 0);
        // A log entry left by a kill between the two writes.
        let mut b = Batch::new();
        b.put(Tree::Plays, log_key(77, 5, 0).to_vec(), entry(5, 6).encode());
        store.commit(b).unwrap();
        MonitorStore::open(store.clone()).unwrap();
        assert_eq!(store.len(Tree::Plays).unwrap(), 0);
    }
}

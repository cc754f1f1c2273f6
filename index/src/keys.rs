//! The stored API keys: add, list, revoke, and find a key by the hash of
//! what a client presented.
//!
//! The `api_keys` tree is the truth; every record is also held in memory
//! by hash, so checking a request's key never touches the disk (one
//! process owns the store, and every change goes through here). The key
//! itself never reaches this layer: callers hash it first. A revoked key
//! keeps its record (so lists show it) and loses its counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use sonica_schema::api_key::{key_id_key, parse_key_id, to_hex, KeyRecord, Overrides, Tier};
use sonica_schema::quota::{counter_key, Quota};
use sonica_schema::{SchemaError, Tree};

use crate::store::{Batch, KvStore};
use crate::IndexError;

/// A new key's details; the name is already checked
/// ([`sonica_schema::api_key::check_name`]).
#[derive(Debug, Clone)]
pub struct NewKey {
    pub sha256: [u8; 32],
    pub name: String,
    pub tier: Tier,
    pub overrides: Overrides,
    pub created_unix: u64,
}

/// Every stored key, by hash.
pub struct KeyStore {
    store: Arc<dyn KvStore>,
    by_hash: RwLock<HashMap<[u8; 32], KeyRecord>>,
    /// Serialises id choice and every write.
    writer: Mutex<()>,
}

fn poisoned<T>(_: T) -> IndexError {
    IndexError::Store(crate::StoreError::Backend("the key store's lock is poisoned".into()))
}

impl KeyStore {
    /// Loads every record of the `api_keys` tree.
    pub fn open(store: Arc<dyn KvStore>) -> Result<KeyStore, IndexError> {
        let mut by_hash = HashMap::new();
        for e in store.scan(Tree::ApiKeys) {
            let (k, v) = e?;
            let r = KeyRecord::decode(&v)?;
            let hash = r
                .hash_bytes()
                .filter(|_| parse_key_id(&k) == Some(r.id))
                .ok_or_else(|| SchemaError::Corrupt {
                    what: "API key record",
                    why: format!("key {} has a bad id or hash", r.id),
                })?;
            by_hash.insert(hash, r);
        }
        Ok(KeyStore {
            store,
            by_hash: RwLock::new(by_hash),
            writer: Mutex::new(()),
        })
    }

    /// Stores a new key under the next id (ids are never reused) and
    /// makes it durable before returning.
    pub fn add(&self, k: NewKey) -> Result<KeyRecord, IndexError> {
        let _w = self.writer.lock().map_err(poisoned)?;
        let id = {
            let map = self.by_hash.read().map_err(poisoned)?;
            if map.contains_key(&k.sha256) {
                // 256 random bits do not collide; a caller-made key might.
                return Err(IndexError::Store(crate::StoreError::Backend(
                    "a key with this hash is already stored".into(),
                )));
            }
            map.values().map(|r| r.id).max().unwrap_or(0) + 1
        };
        let r = KeyRecord {
            id,
            name: k.name,
            tier: k.tier,
            overrides: k.overrides,
            sha256: to_hex(&k.sha256),
            created_unix: k.created_unix,
            revoked_unix: None,
        };
        let mut b = Batch::new();
        b.put(Tree::ApiKeys, key_id_key(id), r.encode());
        self.store.commit(b)?;
        self.store.flush()?;
        self.by_hash.write().map_err(poisoned)?.insert(k.sha256, r.clone());
        Ok(r)
    }

    /// Revokes key `id` (its counters go with it); `None` when there is no
    /// such key. Revoking a revoked key changes nothing.
    pub fn revoke(&self, id: u64, now_unix: u64) -> Result<Option<KeyRecord>, IndexError> {
        let _w = self.writer.lock().map_err(poisoned)?;
        let Some((hash, mut r)) = self
            .by_hash
            .read()
            .map_err(poisoned)?
            .iter()
            .find(|(_, r)| r.id == id)
            .map(|(h, r)| (*h, r.clone()))
        else {
            return Ok(None);
        };
        if !r.is_active() {
            return Ok(Some(r));
        }
        r.revoked_unix = Some(now_unix);
        let mut b = Batch::new();
        b.put(Tree::ApiKeys, key_id_key(id), r.encode());
        for q in Quota::ALL {
            b.remove(Tree::QuotaCounters, counter_key(id, q));
        }
        self.store.commit(b)?;
        self.store.flush()?;
        self.by_hash.write().map_err(poisoned)?.insert(hash, r.clone());
        Ok(Some(r))
    }

    /// The record of the key whose sha256 is `hash`, revoked or not.
    pub fn by_hash(&self, hash: &[u8; 32]) -> Option<KeyRecord> {
        self.by_hash.read().ok()?.get(hash).cloned()
    }

    /// One key by id.
    pub fn get(&self, id: u64) -> Option<KeyRecord> {
        self.by_hash.read().ok()?.values().find(|r| r.id == id).cloned()
    }

    /// Every key, revoked ones too, by id.
    pub fn list(&self) -> Vec<KeyRecord> {
        let mut all: Vec<KeyRecord> = self
            .by_hash
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|r| r.id);
        all
    }

    /// Whether any key is usable (not revoked).
    pub fn any_active(&self) -> bool {
        self.by_hash
            .read()
            .map(|m| m.values().any(KeyRecord::is_active))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;
    use sonica_schema::quota::Counter;

    fn new_key(byte: u8, name: &str, tier: Tier) -> NewKey {
        NewKey {
            sha256: [byte; 32],
            name: name.into(),
            tier,
            overrides: Overrides::default(),
            created_unix: 100,
        }
    }

    #[test]
    fn keys_survive_a_reopen_and_revoke_drops_counters() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let keys = KeyStore::open(store.clone()).unwrap();
        assert!(!keys.any_active());
        let a = keys.add(new_key(1, "a", Tier::Free)).unwrap();
        let b = keys.add(new_key(2, "b", Tier::Studio)).unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert!(
            keys.add(new_key(1, "again", Tier::Free)).is_err(),
            "one record per hash"
        );
        let mut c = Batch::new();
        c.put(
            Tree::QuotaCounters,
            counter_key(1, Quota::Requests),
            Counter {
                window_start: 0,
                count: 3,
            }
            .encode(),
        );
        store.commit(c).unwrap();

        assert!(keys.revoke(1, 200).unwrap().unwrap().revoked_unix == Some(200));
        assert_eq!(
            keys.revoke(1, 300).unwrap().unwrap().revoked_unix,
            Some(200),
            "idempotent"
        );
        assert!(keys.revoke(9, 300).unwrap().is_none());
        assert!(store
            .get(Tree::QuotaCounters, &counter_key(1, Quota::Requests))
            .unwrap()
            .is_none());

        let again = KeyStore::open(store).unwrap();
        assert_eq!(again.list().iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        assert!(!again.by_hash(&[1; 32]).unwrap().is_active());
        assert_eq!(again.by_hash(&[2; 32]).unwrap().tier, Tier::Studio);
        assert!(again.by_hash(&[3; 32]).is_none());
        assert!(again.any_active());
        assert_eq!(again.get(2).unwrap().name, "b");
        assert_eq!(
            again.add(new_key(4, "d", Tier::Free)).unwrap().id,
            3,
            "ids are not reused"
        );
    }

    #[test]
    fn a_damaged_record_is_refused_at_open() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let mut b = Batch::new();
        b.put(Tree::ApiKeys, key_id_key(1), b"{not json".to_vec());
        store.commit(b).unwrap();
        assert!(matches!(KeyStore::open(store), Err(IndexError::Corrupt(_))));
    }
}

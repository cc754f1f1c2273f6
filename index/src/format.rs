//! The store's format version: checked at every open, and a readable
//! older one upgraded in place.
//!
//! Format changes so far only changed how values are encoded, in ways a
//! newer reader also reads (version 2 packs analysis records; version-1
//! records are plain JSON and still decode). Such a store opens as it is:
//! its version number is raised, so an older build refuses it from then
//! on instead of misreading the new values written next, and
//! `sonica-reindex --rebuild` rewrites the old values in the new encoding.

use sonica_schema::layout::{self, META_FORMAT_VERSION, OLDEST_READABLE_FORMAT};
use sonica_schema::{Tree, FORMAT_VERSION};

use crate::store::{Batch, KvStore};
use crate::IndexError;

/// What [`check_or_upgrade`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatCheck {
    /// A new store, stamped with [`FORMAT_VERSION`].
    Created,
    /// Already at [`FORMAT_VERSION`].
    Current,
    /// A readable older version, now stamped with [`FORMAT_VERSION`].
    Upgraded { from: u32 },
}

/// Stamps a new store, accepts the current version, upgrades a readable
/// older one and refuses anything else with
/// [`IndexError::IncompatibleFormat`].
pub fn check_or_upgrade(store: &dyn KvStore) -> Result<FormatCheck, IndexError> {
    let found = match store.get(Tree::Meta, META_FORMAT_VERSION)? {
        Some(v) => layout::decode_version(&v).unwrap_or(0),
        None => {
            stamp(store)?;
            return Ok(FormatCheck::Created);
        }
    };
    if found == FORMAT_VERSION {
        return Ok(FormatCheck::Current);
    }
    if (OLDEST_READABLE_FORMAT..FORMAT_VERSION).contains(&found) {
        stamp(store)?;
        return Ok(FormatCheck::Upgraded { from: found });
    }
    Err(IndexError::IncompatibleFormat {
        found,
        expected: FORMAT_VERSION,
    })
}

fn stamp(store: &dyn KvStore) -> Result<(), IndexError> {
    let mut b = Batch::new();
    b.put(Tree::Meta, META_FORMAT_VERSION, layout::encode_version(FORMAT_VERSION));
    store.commit(b)?;
    store.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    fn with_version(v: u32) -> MemStore {
        let s = MemStore::new();
        let mut b = Batch::new();
        b.put(Tree::Meta, META_FORMAT_VERSION, layout::encode_version(v));
        s.commit(b).unwrap();
        s
    }

    fn version(s: &MemStore) -> u32 {
        layout::decode_version(&s.get(Tree::Meta, META_FORMAT_VERSION).unwrap().unwrap()).unwrap()
    }

    #[test]
    fn new_current_old_and_future_stores() {
        let s = MemStore::new();
        assert_eq!(check_or_upgrade(&s).unwrap(), FormatCheck::Created);
        assert_eq!(version(&s), FORMAT_VERSION);
        assert_eq!(check_or_upgrade(&s).unwrap(), FormatCheck::Current);

        let s = with_version(1);
        assert_eq!(check_or_upgrade(&s).unwrap(), FormatCheck::Upgraded { from: 1 });
        assert_eq!(version(&s), FORMAT_VERSION);

        for v in [0, FORMAT_VERSION + 1] {
            let s = with_version(v);
            match check_or_upgrade(&s) {
                Err(IndexError::IncompatibleFormat { found, .. }) => assert_eq!(found, v),
                other => panic!("version {v}: {other:?}"),
            }
            assert_eq!(version(&s), v, "a refused store is left as it was");
        }
    }
}

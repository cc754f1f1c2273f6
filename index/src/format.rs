//! The store's format version: checked at every open. A store of the
//! current version opens; one of [`REBUILDS_FROM`] holds every canonical
//! record but lacks values derived from them, so it is refused with the
//! way to upgrade, unless the caller is that upgrade (`sonica-reindex
//! --rebuild`, which derives them and stamps the version last, so a kill
//! leaves the store refused until a rerun). Anything else is refused.

use sonica_schema::layout::{self, META_FORMAT_VERSION, REBUILDS_FROM};
use sonica_schema::{Tree, FORMAT_VERSION};

use crate::store::{Batch, KvStore};
use crate::IndexError;

/// What [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatCheck {
    /// A new store, now stamped with [`FORMAT_VERSION`].
    Created,
    /// Already at [`FORMAT_VERSION`].
    Current,
    /// A store of [`REBUILDS_FROM`] opened for its upgrade: the rebuild
    /// stamps it when done.
    Upgrading,
}

/// Stamps a new store, accepts the current version, accepts a store of
/// [`REBUILDS_FROM`] only when `upgrade`, and refuses anything else.
pub fn check(store: &dyn KvStore, upgrade: bool) -> Result<FormatCheck, IndexError> {
    let found = match store.get(Tree::Meta, META_FORMAT_VERSION)? {
        Some(v) => layout::decode_version(&v).unwrap_or(0),
        None => {
            stamp(store)?;
            return Ok(FormatCheck::Created);
        }
    };
    let expected = FORMAT_VERSION;
    match found {
        _ if found == expected => Ok(FormatCheck::Current),
        REBUILDS_FROM if upgrade => Ok(FormatCheck::Upgrading),
        REBUILDS_FROM => Err(IndexError::NeedsRebuild { found, expected }),
        _ => Err(IndexError::IncompatibleFormat { found, expected }),
    }
}

/// Writes [`FORMAT_VERSION`] into the store and flushes it.
pub fn stamp(store: &dyn KvStore) -> Result<(), IndexError> {
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
    fn new_current_rebuildable_and_foreign_stores() {
        let s = MemStore::new();
        assert_eq!(check(&s, false).unwrap(), FormatCheck::Created);
        assert_eq!(version(&s), FORMAT_VERSION);
        assert_eq!(check(&s, false).unwrap(), FormatCheck::Current);
        assert_eq!(check(&s, true).unwrap(), FormatCheck::Current);

        let s = with_version(REBUILDS_FROM);
        assert!(matches!(check(&s, false), Err(IndexError::NeedsRebuild { .. })));
        assert_eq!(check(&s, true).unwrap(), FormatCheck::Upgrading);
        assert_eq!(version(&s), REBUILDS_FROM, "the rebuild stamps it, not the open");

        for v in [0, FORMAT_VERSION + 1] {
            let s = with_version(v);
            for upgrade in [false, true] {
                match check(&s, upgrade) {
                    Err(IndexError::IncompatibleFormat { found, .. }) => assert_eq!(found, v),
                    other => panic!("version {v}: {other:?}"),
                }
            }
            assert_eq!(version(&s), v, "a refused store is left as it was");
        }
    }
}

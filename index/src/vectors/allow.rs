//! The allow-list: which track ids a filtered vector search may return.
//!
//! The text index turns a filter ("genre:jazz year:1960..1970") into a list
//! of track ids; the vector search then only considers those. Membership is
//! tested for every graph node a filtered HNSW search visits, so `contains`
//! must be a few nanoseconds: when the ids are dense enough a bitset answers
//! with one load, otherwise a binary search over the sorted ids does (the
//! bench prints both costs; a bitset is kept only when it is no larger than
//! the id list itself, so memory never more than doubles).

/// A set of track ids, kept sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    ids: Vec<u32>,
    /// Bit `id` set when `id` is allowed; `None` when the ids are too sparse.
    bits: Option<Vec<u64>>,
}

/// Extra room a bitset may take beyond the size of the id list (bytes):
/// small lists of small ids (the common case of a fresh library) still get
/// the one-load lookup.
const BITSET_SLACK_BYTES: usize = 8 * 1024;

impl AllowList {
    /// Builds the list from ids in any order; duplicates are dropped.
    pub fn new(mut ids: Vec<u32>) -> Self {
        if !ids.windows(2).all(|w| w[0] < w[1]) {
            ids.sort_unstable();
            ids.dedup();
        }
        let bits = Self::bitset_for(&ids);
        AllowList { ids, bits }
    }

    /// Same as [`AllowList::new`] but without the bitset: for measuring the
    /// binary-search lookup against the bitset one.
    pub fn without_bitset(ids: Vec<u32>) -> Self {
        let mut list = Self::new(ids);
        list.bits = None;
        list
    }

    fn bitset_for(ids: &[u32]) -> Option<Vec<u64>> {
        let max = *ids.last()? as usize;
        let words = max / 64 + 1;
        if words * 8 > ids.len() * 4 + BITSET_SLACK_BYTES {
            return None;
        }
        let mut bits = vec![0u64; words];
        for &id in ids {
            bits[id as usize / 64] |= 1u64 << (id % 64);
        }
        Some(bits)
    }

    /// Number of distinct ids allowed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when nothing is allowed (a filtered search then finds nothing).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is allowed.
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        match &self.bits {
            Some(bits) => bits
                .get(id as usize / 64)
                .is_some_and(|word| word & (1u64 << (id % 64)) != 0),
            None => self.ids.binary_search(&id).is_ok(),
        }
    }

    /// The allowed ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Whether lookups use the bitset (for the bench's table).
    pub fn uses_bitset(&self) -> bool {
        self.bits.is_some()
    }
}

impl FromIterator<u32> for AllowList {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        AllowList::new(iter.into_iter().collect())
    }
}

impl From<Vec<u32>> for AllowList {
    fn from(ids: Vec<u32>) -> Self {
        AllowList::new(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_dedups_and_answers_contains() {
        let list = AllowList::new(vec![9, 3, 3, 700, 1]);
        assert_eq!(list.ids(), &[1, 3, 9, 700]);
        assert_eq!(list.len(), 4);
        for id in [1, 3, 9, 700] {
            assert!(list.contains(id), "{id}");
        }
        for id in [0, 2, 4, 699, 701, 64, u32::MAX] {
            assert!(!list.contains(id), "{id}");
        }
    }

    #[test]
    fn bitset_and_binary_search_agree() {
        let ids: Vec<u32> = (0..5000).map(|i| i * 7 + (i % 3)).collect();
        let dense = AllowList::new(ids.clone());
        let plain = AllowList::without_bitset(ids);
        assert!(dense.uses_bitset());
        assert!(!plain.uses_bitset());
        for id in 0..40_000 {
            assert_eq!(dense.contains(id), plain.contains(id), "{id}");
        }
    }

    #[test]
    fn sparse_ids_skip_the_bitset() {
        let list = AllowList::new(vec![5, 4_000_000_000]);
        assert!(!list.uses_bitset());
        assert!(list.contains(4_000_000_000));
        assert!(!list.contains(6));
    }

    #[test]
    fn empty_list_allows_nothing() {
        let list = AllowList::new(Vec::new());
        assert!(list.is_empty());
        assert!(!list.contains(0));
    }
}

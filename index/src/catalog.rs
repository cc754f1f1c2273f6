//! The in-memory catalog: which tracks are live and which tier answers for
//! each. Lookups consult it for every posting they touch, so it is a dense
//! array indexed by track id (ids are small and never reused), not a hash
//! map and never a store read; it is rebuilt from the `tracks` tree at open.

use sonica_schema::{Tier, TrackId, TrackRecord};

const ABSENT: u8 = 0;
const FRESH: u8 = 1;
const COMPACTED: u8 = 2;

#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// One byte per id: [`ABSENT`], [`FRESH`] or [`COMPACTED`].
    tiers: Vec<u8>,
    live: usize,
}

fn code(t: Tier) -> u8 {
    match t {
        Tier::Fresh => FRESH,
        Tier::Compacted => COMPACTED,
    }
}

impl Catalog {
    pub fn insert(&mut self, r: &TrackRecord) {
        let i = r.id as usize;
        if i >= self.tiers.len() {
            self.tiers.resize(i + 1, ABSENT);
        }
        if self.tiers[i] == ABSENT {
            self.live += 1;
        }
        self.tiers[i] = code(r.tier);
    }

    pub fn remove_id(&mut self, id: TrackId) {
        if let Some(t) = self.tiers.get_mut(id as usize) {
            if *t != ABSENT {
                *t = ABSENT;
                self.live -= 1;
            }
        }
    }

    pub fn set_tier(&mut self, id: TrackId, tier: Tier) {
        if let Some(t) = self.tiers.get_mut(id as usize) {
            if *t != ABSENT {
                *t = code(tier);
            }
        }
    }

    /// The tier answering for `id`, or `None` when the track is not live.
    #[inline]
    pub fn tier(&self, id: TrackId) -> Option<Tier> {
        match self.tiers.get(id as usize) {
            Some(&FRESH) => Some(Tier::Fresh),
            Some(&COMPACTED) => Some(Tier::Compacted),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Ids of every live track, ascending.
    pub fn live_ids(&self) -> Vec<TrackId> {
        self.tiers
            .iter()
            .enumerate()
            .filter(|(_, &t)| t != ABSENT)
            .map(|(id, _)| id as TrackId)
            .collect()
    }

    /// Ids of tracks whose postings are still in the fresh tier, ascending.
    pub fn fresh_ids(&self) -> Vec<TrackId> {
        self.tiers
            .iter()
            .enumerate()
            .filter(|(_, &t)| t == FRESH)
            .map(|(id, _)| id as TrackId)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: TrackId, tier: Tier) -> TrackRecord {
        crate::test_support::record(id, "", tier)
    }

    #[test]
    fn tracks_tiers_and_counts() {
        let mut c = Catalog::default();
        c.insert(&rec(5, Tier::Fresh));
        c.insert(&rec(2, Tier::Compacted));
        c.insert(&rec(5, Tier::Fresh));
        assert_eq!(c.len(), 2);
        assert_eq!(c.tier(5), Some(Tier::Fresh));
        assert_eq!(c.tier(3), None);
        assert_eq!(c.tier(1_000_000), None);
        assert_eq!(c.fresh_ids(), vec![5]);
        c.set_tier(5, Tier::Compacted);
        c.set_tier(9, Tier::Compacted);
        assert_eq!(c.tier(9), None, "set_tier does not create tracks");
        assert!(c.fresh_ids().is_empty());
        c.remove_id(2);
        c.remove_id(2);
        assert_eq!(c.len(), 1);
        assert_eq!(c.tier(2), None);
    }
}

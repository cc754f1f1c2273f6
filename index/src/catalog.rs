//! The in-memory catalog: which tracks are live and which tier answers for
//! each. Lookups consult it for every hit, so it must be a plain map, not a
//! store read; it is rebuilt from the `tracks` tree at open.

use std::collections::HashMap;

use sonica_schema::{Tier, TrackId, TrackRecord};

#[derive(Debug, Default, Clone)]
pub struct Catalog {
    tiers: HashMap<TrackId, Tier>,
}

impl Catalog {
    pub fn insert(&mut self, r: &TrackRecord) {
        self.tiers.insert(r.id, r.tier);
    }

    pub fn remove(&mut self, r: &TrackRecord) {
        self.tiers.remove(&r.id);
    }

    pub fn set_tier(&mut self, id: TrackId, tier: Tier) {
        if let Some(t) = self.tiers.get_mut(&id) {
            *t = tier;
        }
    }

    /// The tier answering for `id`, or `None` when the track is not live.
    pub fn tier(&self, id: TrackId) -> Option<Tier> {
        self.tiers.get(&id).copied()
    }

    pub fn len(&self) -> usize {
        self.tiers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// Ids of tracks whose postings are still in the fresh tier.
    pub fn fresh_ids(&self) -> Vec<TrackId> {
        let mut v: Vec<TrackId> = self
            .tiers
            .iter()
            .filter(|(_, t)| **t == Tier::Fresh)
            .map(|(id, _)| *id)
            .collect();
        v.sort_unstable();
        v
    }
}

//! Duplicate groups: the stored links (new track → track it duplicates)
//! joined into connected groups, for `sonica duplicates` and
//! `GET /duplicates`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sonica_schema::duplicate::parse_link_key;
use sonica_schema::{Duplicate, TrackId, Tree};

use crate::fingerprints::FingerprintIndex;
use crate::IndexError;

/// One stored link: `track` was added although it duplicates `duplicate.of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub track: TrackId,
    #[serde(flatten)]
    pub duplicate: Duplicate,
}

/// Tracks joined by duplicate links, with the links that join them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateGroup {
    /// Every track of the group, smallest id (usually the original) first.
    pub tracks: Vec<TrackId>,
    pub links: Vec<Link>,
}

impl FingerprintIndex {
    /// Every stored duplicate link, by new track then existing track.
    pub fn duplicate_links(&self) -> Result<Vec<Link>, IndexError> {
        let mut out = Vec::new();
        for e in self.store.scan(Tree::Duplicates) {
            let (k, v) = e?;
            if let Some((track, _)) = parse_link_key(&k) {
                out.push(Link {
                    track,
                    duplicate: Duplicate::decode(&v)?,
                });
            }
        }
        Ok(out)
    }

    /// The links that involve `id`, on either side.
    pub fn links_of(&self, id: TrackId) -> Result<Vec<Link>, IndexError> {
        Ok(self
            .duplicate_links()?
            .into_iter()
            .filter(|l| l.track == id || l.duplicate.of == id)
            .collect())
    }

    /// The duplicate groups of the library, largest first.
    pub fn duplicate_groups(&self) -> Result<Vec<DuplicateGroup>, IndexError> {
        Ok(group_links(self.duplicate_links()?))
    }
}

/// Joins links into connected groups (union–find over track ids).
pub fn group_links(links: Vec<Link>) -> Vec<DuplicateGroup> {
    let mut parent: HashMap<TrackId, TrackId> = HashMap::new();
    fn find(parent: &mut HashMap<TrackId, TrackId>, x: TrackId) -> TrackId {
        let mut root = x;
        while let Some(&p) = parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        // Path compression.
        let mut y = x;
        while y != root {
            let next = parent[&y];
            parent.insert(y, root);
            y = next;
        }
        root
    }
    for l in &links {
        for id in [l.track, l.duplicate.of] {
            parent.entry(id).or_insert(id);
        }
        let (a, b) = (find(&mut parent, l.track), find(&mut parent, l.duplicate.of));
        if a != b {
            let (lo, hi) = (a.min(b), a.max(b));
            parent.insert(hi, lo);
        }
    }
    let mut groups: BTreeMap<TrackId, DuplicateGroup> = BTreeMap::new();
    let ids: Vec<TrackId> = parent.keys().copied().collect();
    for id in ids {
        let root = find(&mut parent, id);
        groups
            .entry(root)
            .or_insert_with(|| DuplicateGroup {
                tracks: Vec::new(),
                links: Vec::new(),
            })
            .tracks
            .push(id);
    }
    for l in links {
        let root = find(&mut parent, l.track);
        if let Some(g) = groups.get_mut(&root) {
            g.links.push(l);
        }
    }
    let mut out: Vec<DuplicateGroup> = groups.into_values().collect();
    for g in &mut out {
        g.tracks.sort_unstable();
    }
    out.sort_by(|a, b| b.tracks.len().cmp(&a.tracks.len()).then(a.tracks[0].cmp(&b.tracks[0])));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonica_schema::DuplicateKind;

    fn link(track: TrackId, of: TrackId) -> Link {
        Link {
            track,
            duplicate: Duplicate {
                of,
                of_path: format!("{of}.ogg"),
                kind: DuplicateKind::SameRecording,
                overlap_s: 10.0,
                score: 0.5,
            },
        }
    }

    #[test]
    fn links_join_transitively_and_groups_stay_apart() {
        let g = group_links(vec![link(2, 1), link(3, 2), link(9, 5), link(4, 1)]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].tracks, vec![1, 2, 3, 4]);
        assert_eq!(g[0].links.len(), 3);
        assert_eq!(g[1].tracks, vec![5, 9]);
    }

    #[test]
    fn no_links_no_groups() {
        assert!(group_links(Vec::new()).is_empty());
    }
}

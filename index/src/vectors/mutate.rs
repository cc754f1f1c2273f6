//! Inserting, replacing and removing vectors.
//!
//! Every mutation is one slot push or one tombstone flag under the write
//! lock, mirrored into the graph, the pivots and (while a compaction builds
//! off-lock) its journal. Input is checked before the lock is taken, so a
//! bad vector never leaves half an insert behind.

use std::sync::atomic::Ordering;

use super::{compact, write, VectorError, VectorIndex};

impl VectorIndex {
    /// Inserts or replaces the vector of `id`. The vector must have `dim`
    /// finite values; it is normalised if it is not unit length already.
    pub fn insert(&self, id: u32, vector: &[f32]) -> Result<(), VectorError> {
        let vector = prepare(self.shared.dim, vector)?;
        {
            let mut state = write(&self.shared.state);
            let slot = state.store.push(id, &vector);
            state.graph.insert(slot, &vector);
            state.router.note(slot, &vector);
            if let Some(journal) = state.journal.as_mut() {
                journal.push(compact::Op::Insert(id, vector));
            }
            self.shared.dirty.store(true, Ordering::Release);
        }
        self.maybe_compact();
        Ok(())
    }

    /// Inserts many vectors at once, building the graph in parallel: what a
    /// start-up re-insert from the canonical store should use. All vectors
    /// are checked first; on error nothing is inserted. The write lock is
    /// held for the whole build (70–110 s for 200k vectors on 2 cores), so
    /// searches wait: call it before serving, or in chunks.
    pub fn insert_many<V: AsRef<[f32]>>(&self, items: &[(u32, V)]) -> Result<(), VectorError> {
        let prepared = items
            .iter()
            .map(|(id, v)| Ok((*id, prepare(self.shared.dim, v.as_ref())?)))
            .collect::<Result<Vec<_>, _>>()?;
        {
            let mut state = write(&self.shared.state);
            let slots: Vec<u32> = prepared.iter().map(|(id, v)| state.store.push(*id, v)).collect();
            let state = &mut *state;
            let points: Vec<(&[f32], usize)> = slots
                .iter()
                .map(|&slot| (state.store.vector(slot), slot as usize))
                .collect();
            state.graph.insert_many(&points);
            for &slot in &slots {
                state.router.note(slot, state.store.vector(slot));
            }
            if let Some(journal) = state.journal.as_mut() {
                journal.extend(prepared.into_iter().map(|(id, v)| compact::Op::Insert(id, v)));
            }
            self.shared.dirty.store(true, Ordering::Release);
        }
        self.maybe_compact();
        Ok(())
    }

    /// Removes `id`; searches never return it again. False if absent.
    pub fn remove(&self, id: u32) -> bool {
        let removed = {
            let mut state = write(&self.shared.state);
            let removed = state.store.remove(id);
            if removed {
                if let Some(journal) = state.journal.as_mut() {
                    journal.push(compact::Op::Remove(id));
                }
                self.shared.dirty.store(true, Ordering::Release);
            }
            removed
        };
        if removed {
            self.maybe_compact();
        }
        removed
    }
}

/// Checks length and finiteness, and normalises a vector that is not unit
/// length already (unit ones are kept bit for bit, so `get` returns what
/// the caller stored).
pub(crate) fn prepare(dim: usize, vector: &[f32]) -> Result<Vec<f32>, VectorError> {
    if vector.len() != dim {
        return Err(VectorError::WrongDimension {
            expected: dim,
            got: vector.len(),
        });
    }
    if let Some((position, &value)) = vector.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(VectorError::NonFinite { position, value });
    }
    let norm = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(VectorError::ZeroVector);
    }
    if (norm - 1.0).abs() <= 1e-4 {
        return Ok(vector.to_vec());
    }
    Ok(vector.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{clustered, near};
    use super::super::{Strategy, Tuning};
    use super::*;

    #[test]
    fn bad_vectors_are_refused_with_the_reason() {
        let index = VectorIndex::in_memory(3).unwrap();
        let err = index.insert(1, &[1.0, 0.0]).unwrap_err();
        assert!(matches!(err, VectorError::WrongDimension { expected: 3, got: 2 }));
        let err = index.insert(1, &[1.0, f32::NAN, 0.0]).unwrap_err();
        assert!(matches!(err, VectorError::NonFinite { position: 1, .. }));
        assert!(matches!(index.insert(1, &[0.0; 3]), Err(VectorError::ZeroVector)));
        assert!(matches!(
            index.search(&[1.0], 3, None),
            Err(VectorError::WrongDimension { .. })
        ));
        assert!(index
            .insert_many(&[(1, vec![1.0, 0.0, 0.0]), (2, vec![f32::INFINITY, 0.0, 0.0])])
            .is_err());
        assert!(index.is_empty(), "a failed batch inserts nothing");
        assert!(matches!(
            VectorIndex::in_memory(0),
            Err(VectorError::BadDimension { .. })
        ));
        assert!(matches!(index.save(), Err(VectorError::InMemory)));
    }

    #[test]
    fn non_unit_vectors_are_normalised_unit_ones_kept_exactly() {
        let index = VectorIndex::in_memory(2).unwrap();
        index.insert(1, &[3.0, 4.0]).unwrap();
        assert_eq!(index.get(1).unwrap(), vec![0.6, 0.8]);
        let unit = [0.6f32, 0.8f32];
        index.insert(2, &unit).unwrap();
        assert_eq!(index.get(2).unwrap(), unit.to_vec());
        let hits = index.search(&[6.0, 8.0], 2, None).unwrap();
        assert!((hits[0].similarity - 1.0).abs() < 1e-6);
    }

    #[test]
    fn remove_then_search_never_returns_the_id() {
        let index = VectorIndex::in_memory(8).unwrap();
        let data = clustered(3000, 8, 11);
        index.insert_many(&data).unwrap();
        let strategies = [
            Strategy::Auto,
            Strategy::Exact,
            Strategy::Graph { ef: None },
            Strategy::FilteredGraph { ef: None },
        ];
        for (n, strategy) in strategies.into_iter().enumerate() {
            let (id, v) = &data[100 + n];
            assert!(index.remove(*id));
            assert!(!index.remove(*id));
            assert!(!index.contains(*id));
            let found = index.search_with(v, 20, None, strategy).unwrap();
            assert!(found.hits.iter().all(|h| h.id != *id), "{strategy:?}");
            assert_eq!(found.hits.len(), 20);
        }
        assert_eq!(index.len(), 2996);
        assert_eq!(index.ids().len(), 2996);
    }

    #[test]
    fn replacing_an_id_moves_it() {
        let index = VectorIndex::in_memory_tuned(8, Tuning::default().graph_always()).unwrap();
        let data = clustered(1200, 8, 5);
        index.insert_many(&data).unwrap();
        let (moved, old) = data[10].clone();
        let opposite: Vec<f32> = old.iter().map(|x| -x).collect();
        index.insert(moved, &opposite).unwrap();
        assert_eq!((index.len(), index.stats().tombstones), (1200, 1));
        assert_eq!(index.get(moved), Some(opposite.clone()));
        let at_new = index.search(&near(&opposite, 1e-3, 3), 3, None).unwrap();
        assert_eq!(at_new[0].id, moved, "{at_new:?}");
        let at_old = index.search(&old, 10, None).unwrap();
        assert_eq!(at_old.len(), 10);
        assert!(at_old.iter().all(|h| h.id != moved), "{at_old:?}");
    }
}

//! Running a search: plan, then exact scan or graph (with fallback).
//!
//! Searches hold the read lock only, so HTTP workers search in parallel.
//! Whatever the plan, a hit is a live id inside the allow-list, scored with
//! the exact dot product from our own copy of the vectors (the graph only
//! proposes candidates), sorted best first with ties broken by id.

use super::allow::AllowList;
use super::brute::{self, dot};
use super::mutate::prepare;
use super::planner::{self, Plan, Shape, Strategy};
use super::{read, Hit, Planned, State, VectorError, VectorIndex};

impl VectorIndex {
    /// The `k` live vectors most similar to `query`, best first; only ids in
    /// `allow` when given (an empty list finds nothing).
    pub fn search(&self, query: &[f32], k: usize, allow: Option<&AllowList>) -> Result<Vec<Hit>, VectorError> {
        Ok(self.search_planned(query, k, allow)?.hits)
    }

    /// [`VectorIndex::search`], also telling which plan ran.
    pub fn search_planned(&self, query: &[f32], k: usize, allow: Option<&AllowList>) -> Result<Planned, VectorError> {
        self.search_with(query, k, allow, Strategy::Auto)
    }

    /// Search with a forced strategy (ground truth, benchmarks, tests).
    pub fn search_with(
        &self,
        query: &[f32],
        k: usize,
        allow: Option<&AllowList>,
        strategy: Strategy,
    ) -> Result<Planned, VectorError> {
        let query = prepare(self.shared.dim, query)?;
        let state = read(&self.shared.state);
        Ok(run(&state, &query, k, allow, strategy))
    }
}

fn run(state: &State, query: &[f32], k: usize, allow: Option<&AllowList>, strategy: Strategy) -> Planned {
    let store = &state.store;
    let shape = Shape {
        live: store.live(),
        slots: store.slots(),
        allow: allow.map(AllowList::len),
        k,
    };
    let plan = planner::choose(&state.tuning, strategy, shape);
    let keep = |slot: u32| store.is_alive(slot) && allow.is_none_or(|list| list.contains(store.id_of(slot)));
    let (slots, ef) = match plan {
        Plan::Empty => return Planned { hits: Vec::new(), plan },
        Plan::Exact | Plan::GraphThenExact { .. } => {
            return Planned {
                hits: brute::search(store, query, k, allow),
                plan: Plan::Exact,
            }
        }
        Plan::Graph { ef, fetch } => (state.graph.search(query, fetch, ef), ef),
        Plan::FilteredGraph { ef } => (state.graph.search_filtered(query, k, ef, &keep), ef),
    };
    let mut scored: Vec<(u32, Hit)> = slots
        .into_iter()
        .filter(|&slot| keep(slot))
        .map(|slot| {
            (
                slot,
                Hit {
                    id: store.id_of(slot),
                    similarity: dot(query, store.vector(slot)),
                },
            )
        })
        .collect();
    scored.sort_by(|(_, a), (_, b)| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
    scored.truncate(k);
    let reachable = allow.map_or(store.live(), |list| list.len().min(store.live()));
    let short = planner::needs_fallback(scored.len(), k, reachable);
    // With k hits, a better pivot that was not returned proves the walk
    // missed a region (see router.rs).
    let lost = !short && scored.len() == k && {
        let found: Vec<u32> = scored.iter().map(|(slot, _)| *slot).collect();
        state.router.beats(query, scored[k - 1].1.similarity, &found, &keep)
    };
    if short || lost {
        return Planned {
            hits: brute::search(store, query, k, allow),
            plan: Plan::GraphThenExact { ef },
        };
    }
    let hits = scored.into_iter().map(|(_, hit)| hit).collect();
    Planned { hits, plan }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{clustered, Rng};
    use super::super::Tuning;
    use super::*;

    /// 4000 vectors; exact scan up to 10 % or 300 ids, hnsw_rs's filtered
    /// search up to 30 %, post-filtered graph search above.
    fn index() -> (VectorIndex, Vec<(u32, Vec<f32>)>) {
        let tuning = Tuning {
            exact_max_ids: 300,
            exact_max_fraction: 0.10,
            exact_max_live: 1000,
            postfilter_min_fraction: 0.3,
            ..Tuning::default()
        };
        let index = VectorIndex::in_memory_tuned(12, tuning).unwrap();
        let data = clustered(4000, 12, 3);
        index.insert_many(&data).unwrap();
        (index, data)
    }

    fn allow_fraction(n: u32, fraction: f64, seed: u64) -> AllowList {
        let mut rng = Rng::new(seed);
        (0..n).filter(|_| rng.unit() < fraction).collect()
    }

    fn ids(hits: &[Hit]) -> Vec<u32> {
        hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn filtered_search_returns_only_allowed_ids_on_every_plan() {
        let (index, data) = index();
        let mut plans = Vec::new();
        for (fraction, seed) in [(0.5, 1), (0.2, 2), (0.05, 3), (0.01, 4)] {
            let allow = allow_fraction(4000, fraction, seed);
            for (_, q) in data.iter().step_by(331) {
                let planned = index.search_planned(q, 10, Some(&allow)).unwrap();
                assert!(planned.hits.iter().all(|h| allow.contains(h.id)), "{fraction}");
                assert_eq!(planned.hits.len(), 10.min(allow.len()));
                let exact = index.search_with(q, 10, Some(&allow), Strategy::Exact).unwrap();
                assert!(exact.hits.iter().all(|h| allow.contains(h.id)));
                // The best allowed hit is found on every plan.
                assert_eq!(planned.hits[0].id, exact.hits[0].id, "{fraction} {:?}", planned.plan);
                plans.push((fraction, planned.plan));
            }
        }
        let ran = |fraction: f64, plan: fn(&Plan) -> bool| plans.iter().any(|(f, p)| *f == fraction && plan(p));
        assert!(ran(0.5, |p| matches!(p, Plan::Graph { .. })), "{plans:?}");
        assert!(ran(0.2, |p| matches!(p, Plan::FilteredGraph { .. })), "{plans:?}");
        assert!(plans.iter().all(|(f, p)| *f > 0.1 || *p == Plan::Exact), "{plans:?}");
    }

    #[test]
    fn forced_graph_plans_match_exact_on_most_of_the_top_ten() {
        let (index, data) = index();
        let allow = allow_fraction(4000, 0.3, 9);
        for strategy in [Strategy::Graph { ef: None }, Strategy::FilteredGraph { ef: None }] {
            let (mut agree, mut total) = (0, 0);
            for (_, q) in data.iter().step_by(97) {
                let graph = index.search_with(q, 10, Some(&allow), strategy).unwrap();
                assert!(
                    graph.plan != Plan::Exact && graph.plan != Plan::Empty,
                    "{:?}",
                    graph.plan
                );
                assert!(graph.hits.iter().all(|h| allow.contains(h.id)));
                let exact = ids(&index.search_with(q, 10, Some(&allow), Strategy::Exact).unwrap().hits);
                agree += graph.hits.iter().filter(|h| exact.contains(&h.id)).count();
                total += exact.len();
            }
            assert!(agree * 100 >= total * 90, "{strategy:?}: recall {agree}/{total}");
        }
    }

    #[test]
    fn empty_allow_list_and_zero_k_find_nothing() {
        let (index, data) = index();
        let none = AllowList::new(Vec::new());
        let planned = index.search_planned(&data[0].1, 10, Some(&none)).unwrap();
        assert_eq!((planned.hits.len(), planned.plan), (0, Plan::Empty));
        assert!(index.search(&data[0].1, 0, None).unwrap().is_empty());
        let unknown = AllowList::new(vec![1_000_000, 1_000_001]);
        assert!(index.search(&data[0].1, 10, Some(&unknown)).unwrap().is_empty());
    }

    #[test]
    fn graph_short_of_k_falls_back_to_exact() {
        let index = VectorIndex::in_memory_tuned(12, Tuning::default().graph_always()).unwrap();
        let data = clustered(1000, 12, 8);
        index.insert_many(&data).unwrap();
        // Three allowed ids, none near the query: every plan must find all
        // three, by the graph or by its exact fallback.
        let allow = AllowList::new(vec![5, 500, 995]);
        for strategy in [Strategy::Auto, Strategy::FilteredGraph { ef: Some(10) }] {
            let planned = index.search_with(&data[250].1, 3, Some(&allow), strategy).unwrap();
            let mut found = ids(&planned.hits);
            found.sort_unstable();
            assert_eq!(found, vec![5, 500, 995], "{:?}", planned.plan);
            assert!(!matches!(planned.plan, Plan::Exact | Plan::Empty), "{:?}", planned.plan);
        }
        // An id the index does not hold cannot be found by any plan.
        let unknown = AllowList::new(vec![5, 7_000_000]);
        let strategy = Strategy::FilteredGraph { ef: None };
        let planned = index.search_with(&data[250].1, 2, Some(&unknown), strategy).unwrap();
        assert_eq!(ids(&planned.hits), vec![5]);
    }

    #[test]
    fn a_search_lost_in_the_wrong_region_is_redone_exactly() {
        // Two far-apart groups; the graph is built over the first only, and
        // the second is inserted into the store and router but not linked
        // into the graph, the worst case of a walk that cannot reach it.
        let index = VectorIndex::in_memory_tuned(12, Tuning::default().graph_always()).unwrap();
        let data = clustered(600, 12, 12);
        index.insert_many(&data).unwrap();
        {
            let mut state = super::super::write(&index.shared.state);
            for (id, v) in &data[..200] {
                let opposite: Vec<f32> = v.iter().map(|x| -x).collect();
                let slot = state.store.push(10_000 + id, &opposite);
                state.router.note(slot, &opposite);
            }
        }
        let query: Vec<f32> = data[3].1.iter().map(|x| -x).collect();
        let planned = index.search_planned(&query, 5, None).unwrap();
        assert!(
            matches!(planned.plan, Plan::GraphThenExact { .. }),
            "{:?}",
            planned.plan
        );
        assert_eq!(planned.hits[0].id, 10_003);
    }

    #[test]
    fn small_index_is_scanned_exactly() {
        let index = VectorIndex::in_memory(12).unwrap();
        index.insert_many(&clustered(200, 12, 4)).unwrap();
        let planned = index.search_planned(&clustered(1, 12, 4)[0].1, 5, None).unwrap();
        assert_eq!(planned.plan, Plan::Exact);
        assert_eq!(planned.hits.len(), 5);
    }
}

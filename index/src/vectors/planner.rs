//! Chooses how to answer a search: exact scan or HNSW graph.
//!
//! The Qdrant approach, adjusted to how hnsw_rs measures. A filtered HNSW
//! search must walk past forbidden nodes to reach allowed ones, so its cost
//! grows like 1 / selectivity; worse, hnsw_rs's `search_filter` never stops
//! early once a filter is given: at 200k vectors it took 2 ms per query at
//! 50 %, 16–22 ms at 10 % and 0.5–1 s at 1 % (the issue author saw 17–67 ms
//! at 1 % of 100k), while an exact scan over the allowed ids costs about
//! 30 ns per id. So:
//! - small allow-lists (absolute count or fraction of the index, see
//!   [`Tuning`]) and small indexes are scanned exactly: recall 1;
//! - larger lists, and unfiltered searches, run the plain, early-stopping
//!   hnsw_rs search for `k * overfetch / acceptable fraction` candidates
//!   (its beam `ef` rising with them as selectivity drops) and drop the
//!   tombstoned or disallowed ones afterwards (post-filtering);
//! - hnsw_rs's `search_filter`, with a beam widened as selectivity drops,
//!   runs only if `Tuning::postfilter_min_fraction` is raised above 0, for
//!   lists between the two; it never measured better, so the default never
//!   picks it (`Strategy::FilteredGraph` forces it);
//! - a graph answer with fewer than k hits, or one the pivots prove lost
//!   (`router.rs`), is redone exactly, so a search never silently returns
//!   too little or the wrong region.

use super::tuning::Tuning;

/// The plan a search ran (returned by `search_planned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Nothing could match: k = 0, an empty allow-list or an empty index.
    Empty,
    /// Exact scan over the allowed ids (or all live vectors).
    Exact,
    /// Plain HNSW search for `fetch` candidates with beam `ef`, then
    /// tombstoned and disallowed candidates dropped.
    Graph { ef: usize, fetch: usize },
    /// hnsw_rs's filtered HNSW search with beam `ef`.
    FilteredGraph { ef: usize },
    /// A graph plan returned fewer than k hits, so an exact scan answered.
    GraphThenExact { ef: usize },
}

impl Plan {
    /// Short name for tables and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Plan::Empty => "empty",
            Plan::Exact => "exact",
            Plan::Graph { .. } => "graph",
            Plan::FilteredGraph { .. } => "filtered-graph",
            Plan::GraphThenExact { .. } => "graph→exact",
        }
    }
}

/// What the caller asks for; `Auto` is what `search` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Let the planner choose.
    #[default]
    Auto,
    /// Always scan exactly (ground truth).
    Exact,
    /// Always post-filter a plain graph search (with the exact fallback),
    /// optionally with a fixed beam width instead of the planner's.
    Graph { ef: Option<usize> },
    /// Always use hnsw_rs's filtered search (with the exact fallback).
    FilteredGraph { ef: Option<usize> },
}

/// Sizes the planner looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub live: usize,
    /// Graph points, live and tombstoned.
    pub slots: usize,
    /// Allow-list length, if any.
    pub allow: Option<usize>,
    pub k: usize,
}

impl Shape {
    /// Fraction of live vectors the allow-list admits (an upper bound: the
    /// list may name ids that are not in the index).
    fn selectivity(&self) -> f64 {
        self.allow
            .map_or(1.0, |n| (n.min(self.live) as f64 / self.live.max(1) as f64).min(1.0))
    }

    /// Fraction of graph points a search may return: tombstones dilute.
    fn acceptable(&self) -> f64 {
        self.selectivity() * self.live as f64 / self.slots.max(1) as f64
    }
}

/// The first decision, before the graph has answered.
pub(crate) fn choose(tuning: &Tuning, strategy: Strategy, shape: Shape) -> Plan {
    if shape.k == 0 || shape.live == 0 || shape.allow == Some(0) {
        return Plan::Empty;
    }
    match strategy {
        Strategy::Exact => Plan::Exact,
        Strategy::Graph { ef } => post_filtered(tuning, shape, ef),
        Strategy::FilteredGraph { ef } => Plan::FilteredGraph {
            ef: ef.unwrap_or_else(|| filtered_ef(tuning, shape)).max(shape.k),
        },
        Strategy::Auto => {
            let small_index = shape.live <= tuning.exact_max_live;
            let small_list = shape
                .allow
                .is_some_and(|n| n <= tuning.exact_max_ids || shape.selectivity() <= tuning.exact_max_fraction);
            if small_index || small_list {
                Plan::Exact
            } else if shape.acceptable() >= tuning.postfilter_min_fraction {
                post_filtered(tuning, shape, None)
            } else {
                Plan::FilteredGraph {
                    ef: filtered_ef(tuning, shape),
                }
            }
        }
    }
}

/// Most candidates a post-filtered search fetches; beyond this the plain
/// search is no longer cheap and a fallback or another plan is better.
const MAX_FETCH: usize = 4096;

/// Post-filtering: fetch enough candidates that about k survive, with the
/// tuning's margin, and a beam at least that wide.
fn post_filtered(tuning: &Tuning, shape: Shape, ef: Option<usize>) -> Plan {
    let acceptable = shape.acceptable().max(1e-6);
    let fetch = if acceptable >= 1.0 {
        shape.k
    } else {
        let wanted = (shape.k as f64 * tuning.overfetch / acceptable).ceil() as usize;
        wanted.min(MAX_FETCH).min(shape.slots).max(shape.k)
    };
    let ef = ef.unwrap_or(tuning.ef_search).max(fetch);
    Plan::Graph { ef, fetch }
}

/// Beam width for hnsw_rs's filtered search: `ef_search` widened by
/// `1 + log2(1 / selectivity)` (2× at 50 %, 4.3× at 10 %), since the walk
/// crosses forbidden nodes whose neighbourhoods it does not expand.
fn filtered_ef(tuning: &Tuning, shape: Shape) -> usize {
    let base = tuning.ef_search.max(shape.k) as f64;
    let s = shape.selectivity();
    let widen = if s >= 1.0 {
        1.0
    } else {
        1.0 + (1.0 / s.max(1e-6)).log2()
    };
    (base * widen).ceil() as usize
}

/// Whether a graph answer must be redone exactly.
pub(crate) fn needs_fallback(found: usize, k: usize, reachable: usize) -> bool {
    found < k.min(reachable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning() -> Tuning {
        Tuning {
            exact_max_ids: 1000,
            exact_max_fraction: 0.05,
            exact_max_live: 500,
            ef_search: 40,
            postfilter_min_fraction: 0.3,
            overfetch: 1.5,
            ..Tuning::default()
        }
    }

    fn shape(live: usize, slots: usize, allow: Option<usize>, k: usize) -> Shape {
        Shape { live, slots, allow, k }
    }

    #[test]
    fn degenerate_requests_plan_nothing() {
        let t = tuning();
        assert_eq!(
            choose(&t, Strategy::Auto, shape(10_000, 10_000, Some(0), 10)),
            Plan::Empty
        );
        assert_eq!(choose(&t, Strategy::Auto, shape(10_000, 10_000, None, 0)), Plan::Empty);
        assert_eq!(
            choose(&t, Strategy::Graph { ef: None }, shape(0, 5, None, 10)),
            Plan::Empty
        );
    }

    #[test]
    fn small_lists_and_small_indexes_scan_exactly() {
        let t = tuning();
        assert_eq!(
            choose(&t, Strategy::Auto, shape(1_000_000, 1_000_000, Some(1000), 10)),
            Plan::Exact
        );
        // 4 % of 100k is above 1000 ids but below 5 %.
        assert_eq!(
            choose(&t, Strategy::Auto, shape(100_000, 100_000, Some(4000), 10)),
            Plan::Exact
        );
        assert_eq!(choose(&t, Strategy::Auto, shape(400, 400, None, 10)), Plan::Exact);
    }

    #[test]
    fn unfiltered_search_fetches_k_or_a_little_more_with_tombstones() {
        let t = tuning();
        assert_eq!(
            choose(&t, Strategy::Auto, shape(100_000, 100_000, None, 10)),
            Plan::Graph { ef: 40, fetch: 10 }
        );
        // 20 % tombstones: 10 * 1.5 / 0.8 = 18.75 → 19.
        assert_eq!(
            choose(&t, Strategy::Auto, shape(80_000, 100_000, None, 10)),
            Plan::Graph { ef: 40, fetch: 19 }
        );
    }

    #[test]
    fn large_lists_post_filter_and_middling_ones_use_the_filtered_search() {
        let t = tuning();
        let half = choose(&t, Strategy::Auto, shape(100_000, 100_000, Some(50_000), 10));
        assert_eq!(half, Plan::Graph { ef: 40, fetch: 30 });
        let tenth = choose(&t, Strategy::Auto, shape(100_000, 100_000, Some(10_000), 10));
        let Plan::FilteredGraph { ef } = tenth else {
            panic!("{tenth:?}")
        };
        assert_eq!(ef, (40.0 * (1.0 + 10f64.log2())).ceil() as usize);
    }

    #[test]
    fn forced_strategies_are_obeyed() {
        let t = tuning();
        assert_eq!(
            choose(&t, Strategy::Exact, shape(100_000, 100_000, None, 10)),
            Plan::Exact
        );
        let forced = choose(&t, Strategy::Graph { ef: Some(7) }, shape(100, 100, Some(1), 10));
        assert_eq!(forced, Plan::Graph { ef: 100, fetch: 100 });
        let big = choose(
            &t,
            Strategy::Graph { ef: None },
            shape(1_000_000, 1_000_000, Some(100), 10),
        );
        assert_eq!(
            big,
            Plan::Graph {
                ef: MAX_FETCH,
                fetch: MAX_FETCH
            }
        );
        let filtered = choose(
            &t,
            Strategy::FilteredGraph { ef: Some(7) },
            shape(100, 100, Some(1), 10),
        );
        assert_eq!(filtered, Plan::FilteredGraph { ef: 10 });
    }

    #[test]
    fn fallback_only_when_reachable_hits_are_missing() {
        assert!(needs_fallback(3, 10, 100));
        assert!(!needs_fallback(10, 10, 100));
        assert!(!needs_fallback(4, 10, 4));
        assert!(needs_fallback(3, 10, 4));
    }
}

//! Every knob of the vector index in one place, with the measurements that
//! chose its default.
//!
//! The figures come from `cargo bench -p sonica-index --bench ann` (see that
//! file) on the development machine: 2 shared x86-64 cores, synthetic
//! Gaussian-mixture data, unit vectors, dim 40. Re-run the bench before
//! changing a default, and update the figures here.

/// Graph construction, query and planner parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// hnsw_rs `max_nb_connection` (HNSW's M): links per node per layer
    /// (layer 0 keeps twice as many). Measured values: see `Default`.
    pub m: usize,
    /// Candidates examined while inserting a node. Higher gives a better
    /// graph (recall at a given `ef_search`) for a slower build.
    pub ef_construction: usize,
    /// Candidates kept during an unfiltered search (hnsw_rs `ef`); raised
    /// for filtered searches as the allow-list gets more selective.
    pub ef_search: usize,
    /// An allow-list of at most this many ids is always scanned exactly.
    pub exact_max_ids: usize,
    /// An allow-list covering at most this fraction of the live vectors is
    /// scanned exactly, whatever its absolute size.
    pub exact_max_fraction: f64,
    /// Indexes with at most this many live vectors are always scanned
    /// exactly: the scan is as fast as a graph search and has recall 1.
    pub exact_max_live: usize,
    /// Post-filter a plain graph search when at least this fraction of the
    /// graph's points is acceptable (allowed and live); below it, and above
    /// the exact thresholds, hnsw_rs's filtered search runs.
    pub postfilter_min_fraction: f64,
    /// Margin on the candidates a post-filtered search fetches:
    /// `k * overfetch / acceptable fraction`.
    pub overfetch: f64,
    /// Rebuild the graph when tombstones exceed this fraction of its points.
    pub compact_ratio: f64,
    /// Graphs with at most this many points are compacted inline by the
    /// insert/remove that crosses `compact_ratio`; larger ones in a
    /// background thread, so searches never wait for a long rebuild.
    pub inline_compact_max: usize,
}

impl Default for Tuning {
    /// Measured defaults. Figures: 200 000 vectors of dim 40 unless noted,
    /// 1000 held-out queries, one search thread, 2 cores shared with other
    /// builds (load average 3–4.5 during the runs, so queries/s varies
    /// ±15 % between runs; the bench reports the median of 3 passes).
    ///
    /// | knob | value | measured |
    /// |------|-------|----------|
    /// | m | 24 | M 16 / ef_construction 100 gave recall@10 0.903 at ef 64 (before the lost-search rescue of `router.rs`); at 50k, M 16 needed the exact rescue on 23/500 searches, M 24 and M 32 on 2/500, M 32 being slower per hop |
    /// | ef_construction | 100 | build 70–112 s (parallel insert); 200 doubled the 50k build time without a recall gain larger than the build-to-build variance (0.93–0.98) |
    /// | ef_search | 48 | recall@10 0.985 at 2150–2279 queries/s (p50 0.34 ms); 24: 0.951 at 2042/s; 96: 0.995 at 1773/s |
    /// | exact_max_ids | 25 000 | exact scan ≈ 30 ns per allowed id (10 %, 19 923 ids: p50 0.55–0.63 ms) against 0.78 ms post-filtered; at 50 % (100k ids) 3.6 ms against 0.37–0.41 ms |
    /// | exact_max_fraction | 0.03 | post-filtering costs ≈ 70 µs / selectivity (6.7 ms at 1 %), the scan ≈ 30 ns × ids: equal where selectivity² × N ≈ 2300, i.e. 3 % at about 2.5M vectors |
    /// | exact_max_live | 5 000 | a full scan costs ≈ 15–20 ns per vector, a graph search ≈ 0.2 ms at 20k: equal near 10k |
    /// | postfilter_min_fraction | 0 | hnsw_rs's `search_filter` never won: 2.0 ms at 50 %, 16–22 ms at 10 %, 0.5–1 s at 1 % and 0.1 % |
    /// | overfetch | 2.0 | 1.5 left 9 % of 10 % searches short (redone exactly, 20k run); 2.0 left 0.3 % |
    /// | compact_ratio | 0.20 | the figure; with 10 % tombstones recall stayed 0.984 |
    /// | inline_compact_max | 5 000 | a 5000-point build takes about a second at most |
    fn default() -> Self {
        Tuning {
            m: 24,
            ef_construction: 100,
            ef_search: 48,
            exact_max_ids: 25_000,
            exact_max_fraction: 0.03,
            exact_max_live: 5_000,
            postfilter_min_fraction: 0.0,
            overfetch: 2.0,
            compact_ratio: 0.20,
            inline_compact_max: 5_000,
        }
    }
}

impl Tuning {
    /// A copy that always takes the graph path (tests use it to exercise the
    /// graph on small data).
    pub fn graph_always(self) -> Self {
        Tuning {
            exact_max_ids: 0,
            exact_max_fraction: 0.0,
            exact_max_live: 0,
            ..self
        }
    }

    /// Clamps values that would break hnsw_rs or the planner (M ≥ 2 and
    /// ≤ 255, efs ≥ 1, fractions in 0..=1).
    pub(crate) fn sanitised(self) -> Self {
        Tuning {
            m: self.m.clamp(2, 255),
            ef_construction: self.ef_construction.max(1),
            ef_search: self.ef_search.max(1),
            exact_max_fraction: clamp_unit(self.exact_max_fraction),
            postfilter_min_fraction: clamp_unit(self.postfilter_min_fraction),
            overfetch: if self.overfetch.is_finite() {
                self.overfetch.clamp(1.0, 100.0)
            } else {
                1.0
            },
            compact_ratio: clamp_unit(self.compact_ratio),
            ..self
        }
    }
}

fn clamp_unit(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitised_clamps_out_of_range_values() {
        let t = Tuning {
            m: 1000,
            ef_search: 0,
            exact_max_fraction: f64::NAN,
            compact_ratio: 3.0,
            ..Tuning::default()
        };
        let s = t.sanitised();
        assert_eq!((s.m, s.ef_search), (255, 1));
        assert_eq!((s.exact_max_fraction, s.compact_ratio), (0.0, 1.0));
        assert_eq!(Tuning::default().sanitised(), Tuning::default());
    }

    #[test]
    fn graph_always_disables_every_exact_shortcut() {
        let t = Tuning::default().graph_always();
        assert_eq!((t.exact_max_ids, t.exact_max_live), (0, 0));
        assert_eq!(t.exact_max_fraction, 0.0);
    }
}

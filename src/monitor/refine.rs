//! Where a play starts and ends, from the times its track's aligned hashes
//! were heard ([`crate::Identifier::aligned_times`]): the first and last
//! moments where they come densely enough not to be chance. A lone hit in
//! a crossfade's tail or under a jingle does not move a boundary; the
//! music under talk, which still lands a hit every second or so, does.

/// The first time in `times` (sorted) followed by at least `hits` hits
/// (itself included) within `span` seconds.
pub fn first_dense(times: &[f64], hits: usize, span: f64) -> Option<f64> {
    let hits = hits.max(1);
    (0..times.len())
        .find(|&i| i + hits <= times.len() && times[i + hits - 1] - times[i] <= span)
        .map(|i| times[i])
}

/// The last time in `times` (sorted) preceded by at least `hits` hits
/// (itself included) within `span` seconds.
pub fn last_dense(times: &[f64], hits: usize, span: f64) -> Option<f64> {
    let hits = hits.max(1);
    (0..times.len())
        .rev()
        .find(|&i| i + 1 >= hits && times[i] - times[i + 1 - hits] <= span)
        .map(|i| times[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_hits_do_not_move_a_boundary() {
        let times = [1.0, 9.0, 9.4, 9.9, 10.5, 11.0, 14.0, 14.3, 14.8, 21.0];
        assert_eq!(first_dense(&times, 3, 2.0), Some(9.0));
        assert_eq!(last_dense(&times, 3, 2.0), Some(14.8));
    }

    #[test]
    fn too_few_hits_place_nothing() {
        assert_eq!(first_dense(&[1.0, 5.0, 9.0], 3, 2.0), None);
        assert_eq!(last_dense(&[], 3, 2.0), None);
        assert_eq!(first_dense(&[4.0], 1, 2.0), Some(4.0));
    }
}

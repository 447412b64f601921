//! Rank arithmetic shared by the metrics: average ranks with ties, AUC, top-k.
//!
//! Ranks are 1-based and descending (rank 1 = highest score); tied scores share the average
//! of the ranks they span, as `scipy.stats.rankdata` gives.

use std::cmp::Ordering;

/// Sorts scores from highest to lowest (scores are finite, so the order is total).
pub fn sort_descending(scores: &mut [f32]) {
    scores.sort_unstable_by(|a, b| b.partial_cmp(a).unwrap_or(Ordering::Equal));
}

/// The average rank of a score `s` among `sorted_desc` (which holds `s` itself).
pub fn average_rank(sorted_desc: &[f32], s: f32) -> f64 {
    let greater = sorted_desc.partition_point(|&x| x > s);
    let not_less = sorted_desc.partition_point(|&x| x >= s);
    let equal = not_less - greater;
    greater as f64 + (equal as f64 + 1.0) / 2.0
}

/// AUC of positive scores against negative scores sorted ascending: the probability that a
/// random positive outscores a random negative, ties counting half. `None` when either side
/// is empty.
pub fn auc(positives: &[f32], negatives_asc: &[f32]) -> Option<f64> {
    if positives.is_empty() || negatives_asc.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    for &p in positives {
        let below = negatives_asc.partition_point(|&n| n < p);
        let not_above = negatives_asc.partition_point(|&n| n <= p);
        total += below as f64 + 0.5 * (not_above - below) as f64;
    }
    Some(total / (positives.len() as f64 * negatives_asc.len() as f64))
}

/// The `k` best candidates by (score descending, item ascending): ties broken by id so the
/// list is deterministic.
pub fn top_k(candidates: &mut [(f32, u32)], k: usize) -> &[(f32, u32)] {
    let cmp = |a: &(f32, u32), b: &(f32, u32)| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(Ordering::Equal)
            .then(a.1.cmp(&b.1))
    };
    let k = k.min(candidates.len());
    if k == 0 {
        return &[];
    }
    if k < candidates.len() {
        candidates.select_nth_unstable_by(k - 1, cmp);
    }
    candidates[..k].sort_unstable_by(cmp);
    &candidates[..k]
}

/// Discount of the 0-based position `r` in NDCG.
pub fn discount(r: usize) -> f64 {
    1.0 / ((r + 2) as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_average() {
        let s = [5.0, 3.0, 3.0, 3.0, 1.0];
        assert_eq!(average_rank(&s, 5.0), 1.0);
        assert_eq!(average_rank(&s, 3.0), 3.0);
        assert_eq!(average_rank(&s, 1.0), 5.0);
    }

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(auc(&[1.0], &[0.0, 1.0, 2.0]), Some(0.5));
        assert_eq!(auc(&[3.0], &[0.0, 1.0]), Some(1.0));
        assert_eq!(auc(&[], &[1.0]), None);
    }

    #[test]
    fn top_k_breaks_ties_by_id() {
        let mut c = vec![(1.0, 4), (2.0, 9), (1.0, 2), (0.0, 0)];
        let top: Vec<u32> = top_k(&mut c, 3).iter().map(|x| x.1).collect();
        assert_eq!(top, vec![9, 2, 4]);
    }
}

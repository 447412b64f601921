//! The next-item protocol of sequential recommendation (leave-one-out, full ranking): each
//! user's model reads the history before a held-out target, ranks every item with the items of
//! that history removed, and the target's place gives HR@k (= Recall@k with one target),
//! NDCG@k and MRR, averaged over users.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use netrex_data::{Interactions, PerUser};

use crate::error::{check_finite, EvalError};
use crate::scorer::SequenceScorer;

/// Options of [`next_item_metrics`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextItemConfig {
    /// The cut-off of HR and NDCG.
    pub k: usize,
    /// The model reads at most this many of the latest items of the history.
    pub max_len: Option<usize>,
    /// Remove the history's items from the candidates (the target itself stays, should it
    /// repeat an earlier item).
    pub exclude_seen: bool,
}

impl Default for NextItemConfig {
    /// The literature's: HR@10 and NDCG@10, the last 50 items read, seen items removed.
    fn default() -> Self {
        NextItemConfig {
            k: 10,
            max_len: Some(50),
            exclude_seen: true,
        }
    }
}

/// Means over the targets of [`next_item_metrics`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextItemReport {
    /// The cut-off.
    pub k: usize,
    /// Targets ranked (one per user in leave-one-out).
    pub targets: usize,
    /// Share of targets ranked in the top `k` (hit rate; recall with one target).
    pub hr_at_k: f64,
    /// Mean `1 / log2(rank + 1)` over targets in the top `k`, 0 for the others.
    pub ndcg_at_k: f64,
    /// Mean reciprocal rank.
    pub mrr: f64,
}

/// The 0-based place of `scores[target]` among the candidates: the items scored higher, plus
/// half of those scored the same (the mean place over the orders of a tie).
fn place(scores: &[f32], target: usize, excluded: &[bool]) -> f64 {
    let t = scores[target];
    let (mut above, mut tied) = (0usize, 0usize);
    for (j, (&s, &out)) in scores.iter().zip(excluded).enumerate() {
        if out || j == target {
            continue;
        }
        above += usize::from(s > t);
        tied += usize::from(s == t);
    }
    above as f64 + tied as f64 / 2.0
}

/// Users scored together by [`SequenceScorer::score_next_batch`]: enough for a matrix product
/// to pay, few enough that two threads share a small evaluation evenly.
const USERS_PER_TASK: usize = 64;

/// `user`'s history, empty beyond `histories`.
fn history_of(histories: &PerUser<u32>, user: u32) -> &[u32] {
    if (user as usize) < histories.num_users() {
        histories.get(user as usize)
    } else {
        &[]
    }
}

/// Ranks each target of `targets` (user, item) given the user's history in `histories`
/// (dense item ids, oldest first; a user beyond it has an empty history), as the protocol
/// says (see the module). Runs on the current rayon pool.
pub fn next_item_metrics<S: SequenceScorer + Sync>(
    model: &S,
    histories: &PerUser<u32>,
    targets: &Interactions,
    config: &NextItemConfig,
) -> Result<NextItemReport, EvalError> {
    if config.k == 0 {
        return Err(EvalError::InvalidParameter {
            name: "k",
            message: "must be at least 1".into(),
        });
    }
    if targets.is_empty() {
        return Err(EvalError::Empty("no target to rank".into()));
    }
    let n = model.num_items();
    if targets.num_items() > n || histories.values().iter().any(|&i| i as usize >= n) {
        return Err(EvalError::NumItemsMismatch {
            model: n,
            data: targets.num_items().max(
                histories
                    .values()
                    .iter()
                    .map(|&i| i as usize + 1)
                    .max()
                    .unwrap_or(0),
            ),
        });
    }
    let rows: Vec<usize> = (0..targets.len()).collect();
    let places: Vec<f64> = rows
        .par_chunks(USERS_PER_TASK)
        .map(|chunk| {
            let contexts: Vec<&[u32]> = chunk
                .iter()
                .map(|&r| {
                    let history = history_of(histories, targets.users()[r]);
                    match config.max_len {
                        Some(m) => &history[history.len().saturating_sub(m)..],
                        None => history,
                    }
                })
                .collect();
            let mut scores = vec![0.0f32; chunk.len() * n];
            model.score_next_batch(&contexts, &mut scores);
            let mut excluded = vec![false; n];
            chunk
                .iter()
                .zip(scores.chunks_exact(n))
                .map(|(&r, scores)| {
                    let (user, target) = (targets.users()[r], targets.items()[r] as usize);
                    check_finite(scores, || format!("the history of user {user}"))?;
                    let history = history_of(histories, user);
                    if config.exclude_seen {
                        history.iter().for_each(|&i| excluded[i as usize] = true);
                    }
                    let p = place(scores, target, &excluded);
                    history.iter().for_each(|&i| excluded[i as usize] = false);
                    Ok(p)
                })
                .collect::<Result<Vec<f64>, EvalError>>()
        })
        .collect::<Result<Vec<Vec<f64>>, EvalError>>()?
        .concat();
    let count = places.len() as f64;
    let k = config.k as f64;
    Ok(NextItemReport {
        k: config.k,
        targets: places.len(),
        hr_at_k: places.iter().filter(|&&p| p < k).count() as f64 / count,
        ndcg_at_k: places
            .iter()
            .filter(|&&p| p < k)
            .map(|p| 1.0 / (p + 2.0).log2())
            .sum::<f64>()
            / count,
        mrr: places.iter().map(|p| 1.0 / (p + 1.0)).sum::<f64>() / count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores item `i` as `weights[i]`, whatever the history.
    struct Fixed(Vec<f32>);

    impl SequenceScorer for Fixed {
        fn num_items(&self) -> usize {
            self.0.len()
        }
        fn score_next(&self, _: &[u32], scores: &mut [f32]) {
            scores.copy_from_slice(&self.0);
        }
    }

    #[test]
    fn seen_items_leave_the_ranking_and_ties_count_half() {
        let model = Fixed(vec![5.0, 4.0, 3.0, 3.0, 1.0]);
        let histories = PerUser::from_lists(vec![vec![0], vec![]]);
        // user 0 saw item 0: item 2 has item 1 above it and item 3 tied, place 1.5
        // user 1 saw nothing: item 1 has item 0 above it, place 1
        let targets = Interactions::new(vec![0, 1], vec![2, 1], 2, 5).unwrap();
        let config = NextItemConfig {
            k: 2,
            ..NextItemConfig::default()
        };
        let r = next_item_metrics(&model, &histories, &targets, &config).unwrap();
        assert_eq!(r.targets, 2);
        assert!((r.hr_at_k - 1.0).abs() < 1e-12);
        let ndcg = (1.0 / 3.5f64.log2() + 1.0 / 3f64.log2()) / 2.0;
        assert!((r.ndcg_at_k - ndcg).abs() < 1e-12);
        assert!((r.mrr - (1.0 / 2.5 + 1.0 / 2.0) / 2.0).abs() < 1e-12);
        let top1 = NextItemConfig {
            k: 1,
            ..NextItemConfig::default()
        };
        let r = next_item_metrics(&model, &histories, &targets, &top1).unwrap();
        assert_eq!(r.hr_at_k, 0.0);
        assert_eq!(r.ndcg_at_k, 0.0);
    }

    #[test]
    fn a_model_of_the_wrong_size_is_an_error() {
        let histories = PerUser::from_lists(vec![vec![7]]);
        let targets = Interactions::new(vec![0], vec![1], 1, 8).unwrap();
        let err = next_item_metrics(
            &Fixed(vec![0.0; 3]),
            &histories,
            &targets,
            &NextItemConfig::default(),
        )
        .unwrap_err();
        assert!(matches!(err, EvalError::NumItemsMismatch { .. }), "{err}");
    }
}

//! Metrics for next-item (sequence) models.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use netrex_data::PerUser;

use crate::error::{check_finite, EvalError};
use crate::metrics::MetricScores;
use crate::rank::{average_rank, sort_descending};
use crate::scorer::SequenceScorer;

/// Options of [`sequence_mrr_score`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SequenceEvalConfig {
    /// Push the items of the context below all others (the target itself is never pushed).
    pub exclude_seen: bool,
    /// Use at most this many of the latest items as context.
    pub max_context: Option<usize>,
}

fn check_items(model: &impl SequenceScorer, histories: &PerUser<u32>) -> Result<(), EvalError> {
    if let Some(&i) = histories
        .values()
        .iter()
        .find(|&&i| i as usize >= model.num_items())
    {
        return Err(EvalError::NumItemsMismatch {
            model: model.num_items(),
            data: i as usize + 1,
        });
    }
    Ok(())
}

/// Full-ranking MRR of each history's last item given the items before it. Histories with
/// fewer than two items are skipped (no context to predict from).
pub fn sequence_mrr_score<S: SequenceScorer + Sync>(
    model: &S,
    histories: &PerUser<u32>,
    config: &SequenceEvalConfig,
) -> Result<MetricScores, EvalError> {
    check_items(model, histories)?;
    let users: Vec<u32> = histories
        .iter()
        .filter(|(_, h)| h.len() >= 2)
        .map(|(u, _)| u as u32)
        .collect();
    if users.is_empty() {
        return Err(EvalError::Empty("no history has two or more items".into()));
    }
    let n = model.num_items();
    let per_user = users
        .par_iter()
        .map_init(
            || (vec![0.0f32; n], Vec::with_capacity(n)),
            |(scores, sorted), &u| {
                let h = histories.get(u as usize);
                let target = h[h.len() - 1];
                let mut context = &h[..h.len() - 1];
                if let Some(m) = config.max_context {
                    context = &context[context.len().saturating_sub(m)..];
                }
                model.score_next(context, scores);
                check_finite(scores, || format!("sequence of user {u}"))?;
                let target_score = scores[target as usize];
                if config.exclude_seen {
                    for &i in context {
                        if i != target {
                            scores[i as usize] = f32::NEG_INFINITY;
                        }
                    }
                }
                sorted.clear();
                sorted.extend(scores.iter().copied().filter(|s| s.is_finite()));
                sort_descending(sorted);
                Ok((u, 1.0 / average_rank(sorted, target_score)))
            },
        )
        .collect::<Result<Vec<_>, EvalError>>()?;
    Ok(MetricScores::from_values(per_user))
}

/// The talk's sampled MRR: at every position of every history, the target is ranked against
/// `num_samples` items drawn uniformly at random from the other items (ties counting half), given the items before
/// it (at most `max_context` of them). `per_user` holds each history's mean; `mean` is pooled
/// over all positions, as the talk computed it. Samples depend only on `seed` and the user.
pub fn sampled_mrr_score<S: SequenceScorer + Sync>(
    model: &S,
    histories: &PerUser<u32>,
    num_samples: usize,
    max_context: Option<usize>,
    seed: u64,
) -> Result<MetricScores, EvalError> {
    if num_samples == 0 {
        return Err(EvalError::InvalidParameter {
            name: "num_samples",
            message: "must be at least 1".into(),
        });
    }
    check_items(model, histories)?;
    let n = model.num_items() as u32;
    if n < 2 {
        return Err(EvalError::InvalidParameter {
            name: "num_items",
            message: "sampled MRR needs at least two items".into(),
        });
    }
    let users: Vec<u32> = histories
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(u, _)| u as u32)
        .collect();
    if users.is_empty() {
        return Err(EvalError::Empty("every history is empty".into()));
    }
    let per = num_samples + 1;
    let results = users
        .par_iter()
        .map(|&u| {
            let mut h = histories.get(u as usize);
            if let Some(m) = max_context {
                // positions keep up to m items of context: score the last m + 1 items
                h = &h[h.len().saturating_sub(m + 1)..];
            }
            let mut rng =
                StdRng::seed_from_u64(seed ^ (u64::from(u)).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut candidates = Vec::with_capacity(h.len() * per);
            for &target in h {
                candidates.push(target);
                // drawn from the other items: the target is not its own negative
                candidates.extend((0..num_samples).map(|_| {
                    let x = rng.gen_range(0..n - 1);
                    x + u32::from(x >= target)
                }));
            }
            let mut out = vec![0.0f32; candidates.len()];
            model.score_positions(h, &candidates, per, &mut out);
            check_finite(&out, || format!("sequence of user {u}"))?;
            let reciprocal: Vec<f64> = out
                .chunks(per)
                .map(|c| {
                    let above = c[1..].iter().filter(|&&s| s > c[0]).count();
                    let ties = c[1..].iter().filter(|&&s| s == c[0]).count();
                    1.0 / (1.0 + above as f64 + 0.5 * ties as f64)
                })
                .collect();
            Ok((u, reciprocal))
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    let positions: usize = results.iter().map(|r| r.1.len()).sum();
    let pooled = results.iter().flat_map(|r| r.1.iter()).sum::<f64>() / positions as f64;
    let per_user = results
        .into_iter()
        .map(|(u, r)| (u, r.iter().sum::<f64>() / r.len() as f64))
        .collect();
    Ok(MetricScores {
        per_user,
        mean: pooled,
    })
}

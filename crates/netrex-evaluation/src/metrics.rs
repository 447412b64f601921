//! Full-ranking metrics for (user, item) models: MRR, AUC, precision, recall, NDCG and
//! hit rate at k, computed in one pass over the test users, in parallel.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use netrex_data::{Interactions, PerUser};

use crate::error::{check_finite, EvalError};
use crate::rank::{auc, average_rank, discount, sort_descending, top_k};
use crate::scorer::ItemScorer;

/// Options of [`evaluate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Cut-offs for precision, recall, NDCG and hit rate.
    pub ks: Vec<usize>,
    /// Rank these items only (dense ids; e.g. the cold items of a cold-start split), `None`
    /// for all. Test items outside them are ignored, and a user left with none is not
    /// evaluated.
    #[serde(default)]
    pub candidates: Option<Vec<u32>>,
}

impl EvalConfig {
    /// The cut-offs `ks`, every item a candidate.
    pub fn at(ks: Vec<usize>) -> Self {
        EvalConfig {
            ks,
            candidates: None,
        }
    }
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig::at(vec![1, 5, 10, 20])
    }
}

/// Metrics at one cut-off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AtK {
    /// The cut-off.
    pub k: usize,
    /// Test items among the top k, over k.
    pub precision: f64,
    /// Test items among the top k, over the number of test items.
    pub recall: f64,
    /// Binary-relevance NDCG of the top k.
    pub ndcg: f64,
    /// 1 if any test item is in the top k.
    pub hit_rate: f64,
}

/// One test user's metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserMetrics {
    /// The user.
    pub user: u32,
    /// Mean reciprocal rank of the user's test items.
    pub mrr: f64,
    /// AUC of test items against items in neither train nor test; `None` if there are none.
    pub auc: Option<f64>,
    /// One entry per cut-off of the config.
    pub at_k: Vec<AtK>,
}

/// Per-user metrics and their means over test users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Each test user's metrics, by user id.
    pub per_user: Vec<UserMetrics>,
    /// Mean MRR.
    pub mrr: f64,
    /// Mean AUC over users that have one.
    pub auc: f64,
    /// Mean of each cut-off's metrics.
    pub at_k: Vec<AtK>,
}

impl Report {
    /// The mean metrics at cut-off `k`, if it was asked for.
    pub fn at(&self, k: usize) -> Option<&AtK> {
        self.at_k.iter().find(|a| a.k == k)
    }
}

/// A per-user metric and its mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricScores {
    /// (user or sequence index, value).
    pub per_user: Vec<(u32, f64)>,
    /// Mean of the values.
    pub mean: f64,
}

impl MetricScores {
    pub(crate) fn from_values(per_user: Vec<(u32, f64)>) -> Self {
        let mean = per_user.iter().map(|x| x.1).sum::<f64>() / per_user.len().max(1) as f64;
        MetricScores { per_user, mean }
    }
}

struct Scratch {
    scores: Vec<f32>,
    is_test: Vec<bool>,
    is_excluded: Vec<bool>,
    sorted: Vec<f32>,
    negatives: Vec<f32>,
    candidates: Vec<(f32, u32)>,
}

fn validate(
    model: &impl ItemScorer,
    test: &Interactions,
    train: Option<&Interactions>,
) -> Result<(), EvalError> {
    if test.is_empty() {
        return Err(EvalError::Empty("the test set has no interactions".into()));
    }
    for data in std::iter::once(test).chain(train) {
        if data.num_items() != model.num_items() {
            return Err(EvalError::NumItemsMismatch {
                model: model.num_items(),
                data: data.num_items(),
            });
        }
    }
    if let Some(&user) = test
        .users()
        .iter()
        .find(|&&u| u as usize >= model.num_users())
    {
        return Err(EvalError::UserOutOfRange {
            user,
            num_users: model.num_users(),
        });
    }
    Ok(())
}

fn user_metrics(
    model: &impl ItemScorer,
    user: u32,
    test_items: &[u32],
    train_items: &[u32],
    ks: &[usize],
    allowed: Option<&[bool]>,
    s: &mut Scratch,
) -> Result<UserMetrics, EvalError> {
    model.score_items(user, &mut s.scores);
    check_finite(&s.scores, || format!("user {user}"))?;
    for &i in test_items {
        s.is_test[i as usize] = true;
    }
    // train items go to the bottom, unless they are also test items
    for &i in train_items {
        s.is_excluded[i as usize] = !s.is_test[i as usize];
    }
    s.sorted.clear();
    s.negatives.clear();
    s.candidates.clear();
    for (i, &score) in s.scores.iter().enumerate() {
        if s.is_excluded[i] || allowed.is_some_and(|a| !a[i]) {
            continue;
        }
        s.sorted.push(score);
        s.candidates.push((score, i as u32));
        if !s.is_test[i] {
            s.negatives.push(score);
        }
    }
    sort_descending(&mut s.sorted);
    s.negatives.sort_unstable_by(|a, b| a.total_cmp(b));
    let mut distinct: Vec<u32> = test_items.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let positives: Vec<f32> = distinct.iter().map(|&i| s.scores[i as usize]).collect();
    let mrr = positives
        .iter()
        .map(|&p| 1.0 / average_rank(&s.sorted, p))
        .sum::<f64>()
        / positives.len() as f64;
    let user_auc = auc(&positives, &s.negatives);
    let max_k = ks.iter().copied().max().unwrap_or(0);
    let top: Vec<bool> = top_k(&mut s.candidates, max_k)
        .iter()
        .map(|&(_, i)| s.is_test[i as usize])
        .collect();
    let at_k = ks
        .iter()
        .map(|&k| {
            let hits = top.iter().take(k).filter(|&&h| h).count();
            let dcg: f64 = top
                .iter()
                .take(k)
                .enumerate()
                .filter(|(_, &h)| h)
                .map(|(r, _)| discount(r))
                .sum();
            let idcg: f64 = (0..k.min(distinct.len())).map(discount).sum();
            AtK {
                k,
                precision: hits as f64 / k as f64,
                recall: hits as f64 / distinct.len() as f64,
                ndcg: dcg / idcg,
                hit_rate: f64::from(u8::from(hits > 0)),
            }
        })
        .collect();
    for &i in test_items.iter().chain(train_items) {
        s.is_test[i as usize] = false;
        s.is_excluded[i as usize] = false;
    }
    Ok(UserMetrics {
        user,
        mrr,
        auc: user_auc,
        at_k,
    })
}

/// Evaluates `model` on every user with test interactions: each user's items are all scored,
/// the user's train items (when `train` is given) are pushed below every other item, and each
/// test item is ranked among the rest, ties sharing their average rank. This is the talk's
/// and Spotlight's protocol.
///
/// Runs in parallel over users on the current rayon pool; the result does not depend on the
/// number of threads or on the order of users or of test rows.
pub fn evaluate<S: ItemScorer + Sync>(
    model: &S,
    test: &Interactions,
    train: Option<&Interactions>,
    config: &EvalConfig,
) -> Result<Report, EvalError> {
    validate(model, test, train)?;
    if config.ks.contains(&0) {
        return Err(EvalError::InvalidParameter {
            name: "ks",
            message: "cut-offs must be at least 1".into(),
        });
    }
    let n = model.num_items();
    let allowed: Option<Vec<bool>> = match &config.candidates {
        None => None,
        Some(candidates) => {
            let mut allowed = vec![false; n];
            for &i in candidates {
                *allowed
                    .get_mut(i as usize)
                    .ok_or_else(|| EvalError::InvalidParameter {
                        name: "candidates",
                        message: format!("item {i} is not below the model's {n} items"),
                    })? = true;
            }
            Some(allowed)
        }
    };
    let mut test_by_user = test.histories();
    if let Some(allowed) = &allowed {
        test_by_user = PerUser::from_lists(
            test_by_user
                .iter()
                .map(|(_, items)| {
                    items
                        .iter()
                        .copied()
                        .filter(|&i| allowed[i as usize])
                        .collect()
                })
                .collect(),
        );
    }
    let train_by_user = train
        .map(Interactions::histories)
        .unwrap_or_else(|| PerUser::from_lists(Vec::new()));
    let users: Vec<u32> = (0..test.num_users() as u32)
        .filter(|&u| !test_by_user.get(u as usize).is_empty())
        .collect();
    if users.is_empty() {
        return Err(EvalError::Empty(
            "no test interaction is on a candidate item".into(),
        ));
    }
    let per_user = users
        .par_iter()
        .map_init(
            || Scratch {
                scores: vec![0.0; n],
                is_test: vec![false; n],
                is_excluded: vec![false; n],
                sorted: Vec::with_capacity(n),
                negatives: Vec::with_capacity(n),
                candidates: Vec::with_capacity(n),
            },
            |s, &u| {
                user_metrics(
                    model,
                    u,
                    test_by_user.get(u as usize),
                    train_by_user.get(u as usize),
                    &config.ks,
                    allowed.as_deref(),
                    s,
                )
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    let count = per_user.len() as f64;
    let mrr = per_user.iter().map(|m| m.mrr).sum::<f64>() / count;
    let aucs: Vec<f64> = per_user.iter().filter_map(|m| m.auc).collect();
    let auc = aucs.iter().sum::<f64>() / aucs.len().max(1) as f64;
    let at_k = config
        .ks
        .iter()
        .enumerate()
        .map(|(j, &k)| {
            let mut m = AtK {
                k,
                ..AtK::default()
            };
            for u in &per_user {
                m.precision += u.at_k[j].precision / count;
                m.recall += u.at_k[j].recall / count;
                m.ndcg += u.at_k[j].ndcg / count;
                m.hit_rate += u.at_k[j].hit_rate / count;
            }
            m
        })
        .collect();
    Ok(Report {
        per_user,
        mrr,
        auc,
        at_k,
    })
}

/// Full-ranking MRR with train items excluded (see [`evaluate`]).
pub fn mrr_score<S: ItemScorer + Sync>(
    model: &S,
    test: &Interactions,
    train: Option<&Interactions>,
) -> Result<MetricScores, EvalError> {
    per_user_metric(model, test, train, |m| Some(m.mrr))
}

/// Per-user AUC: test items against items in neither train nor test (see [`evaluate`]).
/// Users with no such negatives are left out.
pub fn auc_score<S: ItemScorer + Sync>(
    model: &S,
    test: &Interactions,
    train: Option<&Interactions>,
) -> Result<MetricScores, EvalError> {
    per_user_metric(model, test, train, |m| m.auc)
}

/// One metric of each user that has it, from a full evaluation.
fn per_user_metric<S: ItemScorer + Sync>(
    model: &S,
    test: &Interactions,
    train: Option<&Interactions>,
    metric: impl Fn(&UserMetrics) -> Option<f64>,
) -> Result<MetricScores, EvalError> {
    let r = evaluate(model, test, train, &EvalConfig::at(vec![]))?;
    Ok(MetricScores::from_values(
        r.per_user
            .iter()
            .filter_map(|m| metric(m).map(|v| (m.user, v)))
            .collect(),
    ))
}

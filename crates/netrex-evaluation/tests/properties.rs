//! Property tests of the metrics.

use netrex_data::{Interactions, PerUser};
use netrex_evaluation::{
    evaluate, sampled_mrr_score, sequence_mrr_score, EvalConfig, EvalError, ItemScorer,
    SequenceEvalConfig, SequenceScorer,
};
use proptest::prelude::*;

/// Scores from a fixed table, per user.
#[derive(Debug)]
struct Table {
    scores: Vec<Vec<f32>>,
}

impl ItemScorer for Table {
    fn num_users(&self) -> usize {
        self.scores.len()
    }
    fn num_items(&self) -> usize {
        self.scores[0].len()
    }
    fn score_items(&self, user: u32, out: &mut [f32]) {
        out.copy_from_slice(&self.scores[user as usize]);
    }
}

/// Knows the test set: +1 on test items (perfect) or -1 (reversed), and train items last.
fn oracle(test: &Interactions, sign: f32) -> Table {
    let mut scores = vec![vec![0.0; test.num_items()]; test.num_users()];
    for (&u, &i) in test.users().iter().zip(test.items()) {
        scores[u as usize][i as usize] = sign;
    }
    Table { scores }
}

fn split() -> impl Strategy<Value = (Interactions, Interactions)> {
    (1usize..6, 3usize..15).prop_flat_map(|(nu, ni)| {
        let pairs =
            proptest::collection::btree_set((0..nu as u32, 0..ni as u32), 1..(nu * ni).min(40));
        (pairs, proptest::collection::vec(any::<bool>(), 40)).prop_map(move |(pairs, coin)| {
            let pairs: Vec<(u32, u32)> = pairs.into_iter().collect();
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            for (k, p) in pairs.iter().enumerate() {
                if coin[k % coin.len()] {
                    te.push(*p)
                } else {
                    tr.push(*p)
                }
            }
            if te.is_empty() {
                te.push(tr.pop().unwrap());
            }
            let make = |v: &[(u32, u32)]| {
                Interactions::new(
                    v.iter().map(|p| p.0).collect(),
                    v.iter().map(|p| p.1).collect(),
                    nu,
                    ni,
                )
                .unwrap()
            };
            (make(&tr), make(&te))
        })
    })
}

fn random_scores(nu: usize, ni: usize) -> impl Strategy<Value = Table> {
    proptest::collection::vec(proptest::collection::vec(-3i32..3, ni), nu).prop_map(|s| Table {
        scores: s
            .into_iter()
            .map(|r| r.into_iter().map(|x| x as f32).collect())
            .collect(),
    })
}

proptest! {
    #[test]
    fn metrics_stay_in_range((train, test) in split(), seed in 0u64..1000) {
        let _ = seed;
        let runner_scores = {
            let mut rng = seed;
            let mut next = || { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((rng >> 33) % 5) as f32 };
            Table { scores: (0..test.num_users()).map(|_| (0..test.num_items()).map(|_| next()).collect()).collect() }
        };
        let r = evaluate(&runner_scores, &test, Some(&train), &EvalConfig::default()).unwrap();
        for v in [r.mrr, r.auc] {
            prop_assert!((0.0..=1.0).contains(&v), "{}", v);
        }
        for m in &r.per_user {
            prop_assert!(m.mrr > 0.0 && m.mrr <= 1.0);
            for a in &m.at_k {
                for v in [a.precision, a.recall, a.ndcg, a.hit_rate] {
                    prop_assert!((0.0..=1.0 + 1e-12).contains(&v), "{:?}", a);
                }
            }
        }
    }

    #[test]
    fn perfect_and_reversed_scorers((train, test) in split()) {
        let perfect = evaluate(&oracle(&test, 1.0), &test, Some(&train), &EvalConfig::default()).unwrap();
        prop_assert!(perfect.per_user.iter().all(|m| m.auc.is_none_or(|a| a == 1.0)));
        prop_assert!(perfect.per_user.iter().all(|m| m.at_k.iter().all(|a| (a.ndcg - 1.0).abs() < 1e-12)));
        // a single test item ranked first has MRR exactly 1; with several, the average rank of
        // items tied at the top
        let reversed = evaluate(&oracle(&test, -1.0), &test, Some(&train), &EvalConfig::default()).unwrap();
        prop_assert!(reversed.per_user.iter().all(|m| m.auc.is_none_or(|a| a == 0.0)));
        prop_assert!(perfect.mrr >= reversed.mrr);
        let single: Vec<_> = perfect.per_user.iter().filter(|m| test.histories().get(m.user as usize).len() == 1).collect();
        prop_assert!(single.iter().all(|m| m.mrr == 1.0));
    }

    #[test]
    fn independent_of_user_and_row_order((train, test) in split(), scores in random_scores(6, 15)) {
        let table = Table { scores: scores.scores.iter().take(test.num_users()).map(|r| r[..test.num_items()].to_vec()).collect() };
        let a = evaluate(&table, &test, Some(&train), &EvalConfig::default()).unwrap();
        // reverse the test rows and relabel users in reverse: per-user values follow the user
        let rows: Vec<usize> = (0..test.len()).rev().collect();
        let reordered = test.select(&rows);
        let b = evaluate(&table, &reordered, Some(&train), &EvalConfig::default()).unwrap();
        prop_assert_eq!(&a, &b);
        let n = test.num_users() as u32;
        let flip = |x: &Interactions| Interactions::new(x.users().iter().map(|&u| n - 1 - u).collect(), x.items().to_vec(), x.num_users(), x.num_items()).unwrap();
        let flipped_table = Table { scores: table.scores.iter().rev().cloned().collect() };
        let c = evaluate(&flipped_table, &flip(&test), Some(&flip(&train)), &EvalConfig::default()).unwrap();
        prop_assert!((a.mrr - c.mrr).abs() < 1e-12 && (a.auc - c.auc).abs() < 1e-12);
        for m in &a.per_user {
            let other = c.per_user.iter().find(|x| x.user == n - 1 - m.user).unwrap();
            prop_assert_eq!(m.mrr, other.mrr);
        }
    }
}

/// Predicts "previous item + 1", the rule of the tiled sanity set.
struct NextItem(usize);

impl SequenceScorer for NextItem {
    fn num_items(&self) -> usize {
        self.0
    }
    fn score_next(&self, history: &[u32], scores: &mut [f32]) {
        scores.iter_mut().for_each(|s| *s = 0.0);
        let next = history.last().map_or(0, |&i| i as usize + 1);
        if next < self.0 {
            scores[next] = 1.0;
        }
    }
}

#[test]
fn sequence_metrics_on_a_known_rule() {
    let histories = PerUser::from_lists(vec![(0..20).collect(); 5]);
    let model = NextItem(20);
    let full = sequence_mrr_score(&model, &histories, &SequenceEvalConfig::default()).unwrap();
    assert_eq!(full.mean, 1.0);
    let sampled = sampled_mrr_score(&model, &histories, 200, None, 0).unwrap();
    assert!(sampled.mean > 0.99, "{}", sampled.mean);
    assert_eq!(
        sampled,
        sampled_mrr_score(&model, &histories, 200, None, 0).unwrap()
    );
    // excluding seen items cannot hurt a target that was not seen
    let excl = sequence_mrr_score(
        &model,
        &histories,
        &SequenceEvalConfig {
            exclude_seen: true,
            max_context: Some(5),
        },
    )
    .unwrap();
    assert_eq!(excl.mean, 1.0);
}

#[test]
fn bad_inputs_are_typed_errors() {
    struct Nan;
    impl ItemScorer for Nan {
        fn num_users(&self) -> usize {
            1
        }
        fn num_items(&self) -> usize {
            2
        }
        fn score_items(&self, _: u32, s: &mut [f32]) {
            s[0] = f32::NAN;
            s[1] = 0.0;
        }
    }
    let test = Interactions::new(vec![0], vec![1], 1, 2).unwrap();
    assert!(matches!(
        evaluate(&Nan, &test, None, &EvalConfig::default()),
        Err(EvalError::NonFiniteScore { item: 0, .. })
    ));
    let empty = Interactions::new(vec![], vec![], 1, 2).unwrap();
    assert!(matches!(
        evaluate(&Nan, &empty, None, &EvalConfig::default()),
        Err(EvalError::Empty(_))
    ));
    let wide = Interactions::new(vec![0], vec![2], 1, 3).unwrap();
    assert!(matches!(
        evaluate(&Nan, &wide, None, &EvalConfig::default()),
        Err(EvalError::NumItemsMismatch { .. })
    ));
    let users = Interactions::new(vec![1], vec![1], 2, 2).unwrap();
    assert!(matches!(
        evaluate(&Nan, &users, None, &EvalConfig::default()),
        Err(EvalError::UserOutOfRange { user: 1, .. })
    ));
    assert!(matches!(
        evaluate(&Nan, &test, None, &EvalConfig::at(vec![0])),
        Err(EvalError::NonFiniteScore { .. }) | Err(EvalError::InvalidParameter { .. })
    ));
    let h = PerUser::from_lists(vec![vec![0]]);
    assert!(matches!(
        sequence_mrr_score(&NextItem(2), &h, &SequenceEvalConfig::default()),
        Err(EvalError::Empty(_))
    ));
    assert!(matches!(
        sampled_mrr_score(&NextItem(2), &h, 0, None, 0),
        Err(EvalError::InvalidParameter { .. })
    ));
}

#[test]
fn candidates_restrict_the_ranking_and_the_test_items() {
    let model = Table {
        scores: vec![vec![5.0, 4.0, 3.0, 2.0, 1.0], vec![1.0, 2.0, 3.0, 4.0, 5.0]],
    };
    // user 0's test items: 3 (a candidate) and 0 (not); user 1's: 2 (not)
    let test = Interactions::new(vec![0, 0, 1], vec![3, 0, 2], 2, 5).unwrap();
    let all = evaluate(&model, &test, None, &EvalConfig::at(vec![1])).unwrap();
    assert_eq!(all.per_user.len(), 2);
    let config = EvalConfig {
        candidates: Some(vec![1, 3]),
        ..EvalConfig::at(vec![1])
    };
    let cold = evaluate(&model, &test, None, &config).unwrap();
    assert_eq!(
        cold.per_user.len(),
        1,
        "user 1 has no test item among the candidates"
    );
    // item 3 ranks second among items 1 and 3
    assert_eq!(cold.mrr, 0.5);
    assert_eq!(cold.auc, 0.0);
    let none = EvalConfig {
        candidates: Some(vec![4]),
        ..EvalConfig::at(vec![1])
    };
    assert!(matches!(
        evaluate(&model, &test, None, &none),
        Err(EvalError::Empty(_))
    ));
    let out = EvalConfig {
        candidates: Some(vec![5]),
        ..EvalConfig::at(vec![1])
    };
    assert!(matches!(
        evaluate(&model, &test, None, &out),
        Err(EvalError::InvalidParameter { .. })
    ));
}

use super::hot_items::*;
use super::passes::*;
use super::per_example::*;
use super::*;
use crate::optim::{OptimizerConfig, OptimizerKind, RowOptimizer};
use netrex_losses::{BuiltinLoss, Loss};
use netrex_representations::IndexedBy;

fn tables(users: usize, items: usize, dim: usize) -> Vec<Table> {
    let value = |k: usize| ((k as f32) * 0.613).sin() * 0.5;
    let table = |name: &str, by, rows: usize, cols: usize, offset: usize| {
        let data = (0..rows * cols).map(|k| value(k + offset)).collect();
        Table::from_data(name, by, rows, cols, data).unwrap()
    };
    vec![
        table("user_embedding", IndexedBy::User, users, dim, 0),
        table("user_bias", IndexedBy::User, users, 1, 1000),
        table("item_embedding", IndexedBy::Item, items, dim, 2000),
        table("item_bias", IndexedBy::Item, items, 1, 3000),
    ]
}

/// Plain SGD at `learning_rate`, with L2 0.01.
fn sgd(learning_rate: f32) -> OptimizerConfig {
    OptimizerConfig {
        kind: OptimizerKind::Sgd,
        learning_rate,
        l2: 0.01,
    }
}

/// The bilinear kernel over id rows of `dim`.
fn id_kernel(dim: usize) -> Kernel {
    Kernel {
        at: BilinearKernel::IN_ORDER,
        dim,
        maps: FeatureMaps::default(),
    }
}

/// Per-example SGD over `batch` at `config`'s rate and L2, from fresh scratch; its loss sum.
fn sgd_with<S: RowStore>(
    model: &Trained<'_, '_, S>,
    batch: &Batch<'_>,
    config: OptimizerConfig,
    hot: Option<&mut HotItems<'_>>,
) -> f64 {
    let rule = (config.learning_rate, config.l2);
    sgd_examples(model, batch, rule, &mut Scratch::default(), hot).unwrap()
}

/// `count` positives: users `7i`, positives `positive(i)` and `n` negatives `5j`, each modulo
/// its count.
fn examples(
    count: usize,
    (users, items, n): (usize, usize, usize),
    positive: impl Fn(usize) -> usize,
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    (
        (0..count).map(|i| (i * 7 % users) as u32).collect(),
        (0..count).map(|i| (positive(i) % items) as u32).collect(),
        (0..count * n).map(|i| (i * 5 % items) as u32).collect(),
    )
}

#[test]
fn per_example_sgd_is_the_batch_kernel_with_batches_of_one() {
    let (users, items, dim, n) = (5, 4, 6, 2);
    let config = sgd(0.3);
    let context = LossContext { num_items: items };
    // few items, so positives and negatives repeat within one positive's list
    let (users_ids, positives, negatives) = examples(24, (users, items, n), |i| i * 3);
    let weights: Vec<f32> = (0..24).map(|i| 0.5 + (i % 3) as f32 * 0.25).collect();
    for name in BuiltinLoss::NAMES {
        let loss = BuiltinLoss::from_name(name, Some(n)).unwrap();
        let example = loss.example_gradient().unwrap();
        // reference: the batch kernel and the optimizer's SGD step, one positive at a time
        let mut expected = tables(users, items, dim);
        let mut optimizer = RowOptimizer::new(config, &expected);
        let mut grads = SparseGrad::for_tables(&expected);
        let mut total = 0.0f64;
        for i in 0..24 {
            let batch = Batch {
                users: &users_ids[i..i + 1],
                positives: &positives[i..i + 1],
                negatives: &negatives[i * n..(i + 1) * n],
                weights: Some(&weights[i..i + 1]),
            };
            let pass = Pass {
                tables: &expected[..],
                kernel: &id_kernel(dim),
                loss: example,
                context: &context,
                batch: &batch,
            };
            let value = bilinear_batch(pass, &mut grads, &mut Scratch::default());
            total += f64::from(value);
            optimizer.step(&mut expected, &mut grads);
        }
        let mut actual = tables(users, items, dim);
        let mut optimizer = RowOptimizer::new(config, &actual);
        let training = optimizer.exclusive(&mut actual);
        let batch = Batch {
            users: &users_ids,
            positives: &positives,
            negatives: &negatives,
            weights: Some(&weights),
        };
        let model = Trained {
            tables: training.tables(),
            kernel: &id_kernel(dim),
            loss: example,
            context: &context,
        };
        let sum = sgd_with(&model, &batch, config, None);
        drop(training);
        assert!((sum - total).abs() < 1e-4, "{name}: loss {sum} vs {total}");
        for (a, e) in actual.iter().zip(&expected) {
            for (x, y) in a.data().iter().zip(e.data()) {
                assert!((x - y).abs() < 1e-5, "{name} {}: {x} vs {y}", a.name());
            }
        }
    }
}

#[test]
fn hot_item_copies_merged_give_the_shared_tables_result() {
    let (users, items, dim, n) = (5, 6, 4, 2);
    let config = sgd(0.2);
    let context = LossContext { num_items: items };
    let (users_ids, positives, negatives) = examples(30, (users, items, n), |i| i * i);
    let batch = Batch {
        users: &users_ids,
        positives: &positives,
        negatives: &negatives,
        weights: None,
    };
    let kernel = id_kernel(dim);
    // squares mod 6 are 0, 1, 4, 3, 4, 1: items 1 and 4 ten times, 0 and 3 five, ties by id
    let hot = hot_item_ids(&positives, items, dim);
    assert_eq!(hot, [1, 4, 0, 3]);
    let slots = hot_item_slots(&hot, items);
    let loss = BuiltinLoss::from_name("bpr", Some(n)).unwrap();
    let example = loss.example_gradient().unwrap();
    let run = |copies: bool| {
        let mut t = tables(users, items, dim);
        let mut optimizer = RowOptimizer::new(config, &t);
        let training = optimizer.share(&mut t);
        let shared = training.tables();
        let (item, item_bias) = (&shared[2].weights, &shared[3].weights);
        let mut copy = copies.then(|| HotItems::new(&slots, &hot, item, item_bias));
        let model = Trained {
            tables: shared,
            kernel: &kernel,
            loss: example,
            context: &context,
        };
        let sum = sgd_with(&model, &batch, config, copy.as_mut());
        if let Some(copy) = copy.as_mut() {
            copy.merge(item, item_bias);
        }
        drop(training);
        (sum, t)
    };
    let ((plain_sum, plain), (hot_sum, with_copies)) = (run(false), run(true));
    assert!((plain_sum - hot_sum).abs() < 1e-9);
    for (a, e) in with_copies.iter().zip(&plain) {
        for (x, y) in a.data().iter().zip(e.data()) {
            assert!((x - y).abs() < 1e-5, "{}: {x} vs {y}", a.name());
        }
    }
    // the tables moved: the test compares training, not two copies of the start
    assert_ne!(plain[2].data(), tables(users, items, dim)[2].data());
}

/// Per-example SGD over `batch` (one negative per positive) on `tables` stepped in place, in
/// pairs or one at a time; its result and the tables after it.
fn in_place(
    mut t: Vec<Table>,
    config: OptimizerConfig,
    example: &dyn ExampleGradient,
    batch: &Batch<'_>,
    pairs: bool,
) -> (Result<f64, (usize, f32)>, Vec<Table>) {
    let rule = (config.learning_rate, config.l2);
    let context = LossContext {
        num_items: t[2].rows(),
    };
    let kernel = id_kernel(t[0].cols());
    let mut optimizer = RowOptimizer::new(config, &t);
    let training = optimizer.exclusive(&mut t);
    let model = Trained {
        tables: training.tables(),
        kernel: &kernel,
        loss: example,
        context: &context,
    };
    let mut scratch = Scratch::default();
    let result = if pairs {
        sgd_pairs(&model, batch, rule, &mut scratch)
    } else {
        sgd_examples_each(&model, batch, rule, &mut scratch, None)
    };
    drop(training);
    (result, t)
}

#[test]
fn examples_stepped_in_pairs_give_the_one_at_a_time_result_to_the_bit() {
    // widths below a vector, of whole vectors, of vectors and a tail
    for dim in [5, 8, 19, 64] {
        pairs_match_one_at_a_time(dim);
    }
}

fn pairs_match_one_at_a_time(dim: usize) {
    let (users, items) = (6, 7);
    let config = sgd(0.25);
    // few rows, so that consecutive examples often share one (and a positive is sometimes its
    // own negative): both kinds of step are taken
    let count = 60;
    let users_ids: Vec<u32> = (0..count).map(|i| (i * 5 % users) as u32).collect();
    let positives: Vec<u32> = (0..count).map(|i| (i * i % items) as u32).collect();
    let negatives: Vec<u32> = (0..count).map(|i| (i * 3 % items) as u32).collect();
    let weights: Vec<f32> = (0..count).map(|i| 0.5 + (i % 4) as f32 * 0.25).collect();
    let disjoint = (0..count - 1)
        .filter(|&i| {
            users_ids[i] != users_ids[i + 1]
                && ![positives[i + 1], negatives[i + 1]].contains(&positives[i])
                && ![positives[i + 1], negatives[i + 1]].contains(&negatives[i])
        })
        .count();
    assert!(
        disjoint > 10 && disjoint < count - 10,
        "{disjoint} disjoint pairs"
    );
    assert!((0..count).any(|i| positives[i] == negatives[i]));
    for name in BuiltinLoss::NAMES {
        let loss = BuiltinLoss::from_name(name, Some(1)).unwrap();
        let example = loss.example_gradient().unwrap();
        for weighted in [false, true] {
            let batch = Batch {
                users: &users_ids,
                positives: &positives,
                negatives: &negatives,
                weights: weighted.then_some(&weights[..]),
            };
            let run = |pairs: bool| {
                let (sum, t) = in_place(tables(users, items, dim), config, example, &batch, pairs);
                (sum.unwrap(), t)
            };
            let ((each_sum, each), (pairs_sum, paired)) = (run(false), run(true));
            assert_eq!(each_sum.to_bits(), pairs_sum.to_bits(), "{name} dim {dim}");
            for (a, e) in paired.iter().zip(&each) {
                let bits = |t: &Table| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(a),
                    bits(e),
                    "{name} dim {dim} weighted {weighted}: {}",
                    a.name()
                );
            }
            assert_ne!(each[2].data(), tables(users, items, dim)[2].data());
        }
    }
}

#[test]
fn a_non_finite_score_stops_pairs_where_it_stops_one_at_a_time() {
    let (users, items, dim) = (8, 8, 4);
    let config = sgd(0.1);
    // disjoint pairs throughout; item 6 first appears as the second example of a pair
    let users_ids: Vec<u32> = (0..8).collect();
    let positives: Vec<u32> = vec![0, 2, 4, 6, 1, 3, 5, 7];
    let negatives: Vec<u32> = vec![1, 3, 5, 7, 0, 2, 4, 6];
    let batch = Batch {
        users: &users_ids,
        positives: &positives,
        negatives: &negatives,
        weights: None,
    };
    let loss = BuiltinLoss::from_name("bpr", Some(1)).unwrap();
    let example = loss.example_gradient().unwrap();
    let run = |pairs: bool| {
        let mut t = tables(users, items, dim);
        t[2].data_mut()[6 * dim + 1] = f32::INFINITY;
        let (result, t) = in_place(t, config, example, &batch, pairs);
        (result.unwrap_err().0, t)
    };
    let ((each_at, each), (pairs_at, paired)) = (run(false), run(true));
    assert_eq!((each_at, pairs_at), (3, 3));
    for (a, e) in paired.iter().zip(&each) {
        let bits = |t: &Table| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(e), "{}", a.name());
    }
}

//! The hand-written sequence kernel (host encoders: LSTM, pooling, popularity) against the dfdx
//! path: the same batch gives the same loss and row gradients for every built-in loss and a
//! custom one; the host encoder gives `encode`'s states; training is independent of the
//! number of threads; `fused: false` keeps dfdx.

mod common;

use netrex::data::Interactions;
use netrex::losses::Loss;
use netrex::prelude::*;
use netrex::representations::{FrequencySpec, Gru, Sasrec, SasrecSpec, SparseGrad};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{randomize_sequence_tables, Custom};

const ITEMS: usize = 9;
const DIM: usize = 5;

fn config(fused: bool, threads: usize) -> SequenceConfig {
    SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(DIM)
            .epochs(2)
            .batch_size(4)
            .learning_rate(0.02)
            .seed(5)
            .fused(fused)
            .threads(threads)
            .config(),
        max_len: 7,
        negatives: NegativeSampling::PerPosition,
    }
}

fn representations(rng: &mut StdRng) -> Vec<AnySequence> {
    vec![
        AnySequence::Popularity(SequencePopularity::new(ITEMS, rng).unwrap()),
        AnySequence::Pooling(Pooling::new(ITEMS, DIM, false, rng).unwrap()),
        AnySequence::Pooling(Pooling::new(ITEMS, DIM, true, rng).unwrap()),
        AnySequence::Lstm(Lstm::new(ITEMS, DIM, rng).unwrap()),
        AnySequence::Gru(Gru::new(ITEMS, DIM, rng).unwrap()),
        AnySequence::Cnn(CausalCnn::new(ITEMS, DIM, 3, &[1, 2], true, rng).unwrap()),
        AnySequence::Cnn(CausalCnn::new(ITEMS, DIM, 2, &[4], false, rng).unwrap()),
        AnySequence::Sasrec(Sasrec::new(ITEMS, DIM, &sasrec(2, 1, 8), rng).unwrap()),
        // positions fewer than steps: the oldest share the last positional row
        AnySequence::Sasrec(Sasrec::new(ITEMS, DIM, &sasrec(1, 5, 3), rng).unwrap()),
        // BSARec: the frequency branch, its window shorter than the rows
        AnySequence::Sasrec(Sasrec::new(ITEMS, DIM, &bsarec(0.6, 5, false), rng).unwrap()),
        // FMLP-Rec: a learned filter, no attention; and a learned filter beside attention,
        // its window longer than the rows
        AnySequence::Sasrec(Sasrec::new(ITEMS, DIM, &bsarec(1.0, 5, true), rng).unwrap()),
        AnySequence::Sasrec(Sasrec::new(ITEMS, DIM, &bsarec(0.4, 9, true), rng).unwrap()),
    ]
}

fn bsarec(mix: f32, window: usize, learned: bool) -> SasrecSpec {
    SasrecSpec {
        frequency: Some(FrequencySpec {
            mix,
            cutoff: 2,
            window,
            learned,
        }),
        ..sasrec(2, 1, 8)
    }
}

fn sasrec(blocks: usize, heads: usize, positions: usize) -> SasrecSpec {
    SasrecSpec {
        blocks,
        heads,
        dropout: 0.3,
        positions,
        frequency: None,
    }
}

/// A batch of `rows` left-padded rows of length `len` (more rows than one parallel chunk).
fn batch(rng: &mut StdRng, rows: usize, len: usize, negatives: usize) -> [Vec<u32>; 3] {
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..rows {
        let real = rng.gen_range(1..=len);
        let items: Vec<u32> = (0..real).map(|_| rng.gen_range(1..=ITEMS as u32)).collect();
        let mut input = vec![0u32; len - real + 1];
        input.extend(&items[..real - 1]);
        let mut target = vec![0u32; len - real];
        target.extend(&items);
        inputs.extend(input);
        targets.extend(target);
    }
    let negs = (0..targets.len() * negatives)
        .map(|_| rng.gen_range(1..=ITEMS as u32))
        .collect();
    [inputs, targets, negs]
}

fn assert_same_gradients(
    what: &str,
    tables: usize,
    expected: &[SparseGrad],
    actual: &[SparseGrad],
    rows: &[usize],
) {
    assert_eq!(expected.len(), tables);
    for t in 0..tables {
        // the padding row's gradient is discarded by training in both paths
        for r in usize::from(t < 2)..rows[t] {
            for (x, y) in actual[t]
                .row(r as u32)
                .iter()
                .zip(expected[t].row(r as u32))
            {
                assert!(
                    (x - y).abs() <= 2e-5 + 1e-3 * y.abs(),
                    "{what}: table {t} row {r}: kernel {x} vs dfdx {y}"
                );
            }
        }
    }
}

/// A kernel-trained model of `representation` with `loss` and `sampling`, its tables
/// randomised.
fn randomized<L: Loss>(
    representation: AnySequence,
    loss: L,
    sampling: NegativeSampling,
    rng: &mut StdRng,
) -> ImplicitSequenceModel<AnySequence, L> {
    let config = SequenceConfig {
        negatives: sampling,
        ..config(true, 1)
    };
    let mut model = ImplicitSequenceModel::new(config, representation, loss).unwrap();
    randomize_sequence_tables(model.representation_mut().tables_mut(), rng);
    model
}

fn check_loss<L: Loss + Clone>(loss: L, rng: &mut StdRng) {
    for representation in representations(rng) {
        let what = format!("{} / {}", representation.name(), loss.name());
        let sampling = NegativeSampling::PerPosition;
        let model = randomized(representation, loss.clone(), sampling, rng);
        let [inputs, targets, negatives] = batch(rng, 11, 7, loss.num_negatives());
        assert_kernel_matches_dfdx(&what, &model, &inputs, &targets, &negatives);
    }
}

#[test]
fn kernel_gradients_equal_dfdx_gradients_for_every_builtin_loss() {
    let mut rng = StdRng::seed_from_u64(11);
    for loss in BuiltinLoss::all(Some(3)) {
        check_loss(loss, &mut rng);
    }
}

#[test]
fn shared_negatives_take_dense_products_with_the_same_gradients() {
    let mut rng = StdRng::seed_from_u64(13);
    for name in ["sampled-softmax", "gbce", "bpr", "warp"] {
        let loss = BuiltinLoss::from_name(name, Some(4)).unwrap();
        for representation in representations(&mut rng) {
            let what = format!("{} / {name}, shared", representation.name());
            let model = randomized(representation, loss, NegativeSampling::PerRow, &mut rng);
            let [inputs, targets, _] = batch(&mut rng, 11, 7, 0);
            // one set of 4 negatives per row, repeated at its 7 positions
            let negatives: Vec<u32> = (0..11)
                .flat_map(|_| {
                    let set: Vec<u32> = (0..4).map(|_| rng.gen_range(1..=ITEMS as u32)).collect();
                    std::iter::repeat_n(set, 7).flatten()
                })
                .collect();
            assert_kernel_matches_dfdx(&what, &model, &inputs, &targets, &negatives);
        }
    }
}

#[test]
fn full_catalog_scores_every_item_with_the_same_gradients() {
    let mut rng = StdRng::seed_from_u64(17);
    for loss in BuiltinLoss::all(Some(4)) {
        check_full_catalog(loss, &mut rng);
    }
    // custom losses take dfdx's tape over the whole batch's scores, masked columns included
    check_full_catalog(Custom::SquaredGap { negatives: 4 }, &mut rng);
    let softmax = BuiltinLoss::from_name("sampled-softmax", None).unwrap();
    check_full_catalog(Custom::Hidden(softmax), &mut rng);
}

fn check_full_catalog<L: Loss + Clone>(loss: L, rng: &mut StdRng) {
    for representation in representations(rng) {
        let what = format!("{} / {}, full catalog", representation.name(), loss.name());
        let sampling = NegativeSampling::FullCatalog;
        let model = randomized(representation, loss.clone(), sampling, rng);
        // more real positions than one parallel task of the kernel
        let [inputs, targets, _] = batch(rng, 11, 7, 0);
        assert_kernel_matches_dfdx(&what, &model, &inputs, &targets, &[]);
    }
}

/// The kernel's loss and row gradients on a batch of 11 rows equal dfdx's.
fn assert_kernel_matches_dfdx<L: Loss>(
    what: &str,
    model: &ImplicitSequenceModel<AnySequence, L>,
    inputs: &[u32],
    targets: &[u32],
    negatives: &[u32],
) {
    let (reference, expected) = model
        .batch_gradients(11, inputs, targets, negatives)
        .unwrap();
    let (value, actual) = model
        .fused_batch_gradients(11, inputs, targets, negatives)
        .expect("a host encoder");
    assert!(
        (value - reference).abs() <= 1e-5 * (1.0 + reference.abs()),
        "{what}: loss {value} vs {reference}"
    );
    let rows: Vec<usize> = model
        .representation()
        .tables()
        .iter()
        .map(|t| t.rows())
        .collect();
    assert_same_gradients(what, rows.len(), &expected, &actual, &rows);
}

#[test]
fn kernel_gradients_equal_dfdx_gradients_for_a_custom_loss() {
    check_loss(
        Custom::SquaredGap { negatives: 3 },
        &mut StdRng::seed_from_u64(12),
    );
}

fn histories() -> Interactions {
    let mut rng = StdRng::seed_from_u64(4);
    let (mut users, mut items, mut times) = (Vec::new(), Vec::new(), Vec::new());
    for u in 0..30u32 {
        let mut item = rng.gen_range(0..ITEMS as u32);
        for step in 0..rng.gen_range(3..16) {
            // a noisy chain, so there is something to learn
            item = if rng.gen_bool(0.8) {
                (item + 1) % ITEMS as u32
            } else {
                rng.gen_range(0..ITEMS as u32)
            };
            users.push(u);
            items.push(item);
            times.push(step as i64);
        }
    }
    Interactions::new(users, items, 30, ITEMS)
        .unwrap()
        .with_timestamps(times)
        .unwrap()
}

#[test]
fn kernel_training_is_the_same_on_one_and_two_threads_and_learns() {
    let data = histories();
    let fit = |threads: usize| {
        let mut rng = StdRng::seed_from_u64(9);
        let lstm = Lstm::new(ITEMS, DIM, &mut rng).unwrap();
        // 20 rows per batch: more than one parallel chunk of the encoder
        let mut config = config(true, threads);
        config.training.batch_size = 20;
        let mut model = ImplicitSequenceModel::new(config, lstm, AdaptiveHinge::default()).unwrap();
        assert!(model.uses_host_kernel());
        let report = model.fit(&data).unwrap();
        (model.representation().clone(), report.loss_history)
    };
    let (one, one_loss) = fit(1);
    let (two, two_loss) = fit(2);
    assert_eq!(one, two);
    assert_eq!(one_loss, two_loss);
    assert!(one_loss[1] < one_loss[0], "loss fell: {one_loss:?}");
}

#[test]
fn host_states_equal_dfdx_states_and_generic_keeps_dfdx() {
    let mut rng = StdRng::seed_from_u64(13);
    for representation in representations(&mut rng) {
        let model =
            ImplicitSequenceModel::new(config(true, 1), representation.clone(), Bpr::default())
                .unwrap();
        let generic =
            ImplicitSequenceModel::new(config(false, 1), representation, Bpr::default()).unwrap();
        assert!(model.uses_host_kernel());
        assert!(!generic.uses_host_kernel());
        // scoring always takes the host encoder; batch_loss_value traces the dfdx encoder
        let history = [3u32, 1, 4, 1, 5];
        let scores = model.predict(&history).unwrap();
        // BPR on the last position alone, target `item` against item 0: sigmoid(s_0 - s_item)
        for item in 0..ITEMS as u32 {
            let inputs: Vec<u32> = [0u32, 0]
                .iter()
                .copied()
                .chain(history.iter().map(|i| i + 1))
                .collect();
            let mut targets = vec![0u32; inputs.len()];
            *targets.last_mut().unwrap() = item + 1;
            let negatives = vec![1u32; inputs.len()];
            let dfdx_value = generic.batch_loss_value(1, &inputs, &targets, &negatives);
            let expected = 1.0 / (1.0 + (-(scores[0] - scores[item as usize])).exp());
            assert!(
                (dfdx_value - expected).abs() < 1e-5,
                "{} item {item}: dfdx {dfdx_value} vs host {expected}",
                model.representation().name()
            );
        }
    }
}

#[test]
fn batched_scoring_equals_scoring_one_history_at_a_time() {
    use netrex::evaluation::SequenceScorer;
    let mut rng = StdRng::seed_from_u64(19);
    // empty, short, and longer than max_len (7): rows of three padded lengths
    let histories: Vec<Vec<u32>> = (0..12)
        .map(|len| (0..len).map(|_| rng.gen_range(0..ITEMS as u32)).collect())
        .collect();
    let refs: Vec<&[u32]> = histories.iter().map(Vec::as_slice).collect();
    for representation in representations(&mut rng) {
        let name = representation.name();
        let mut model =
            ImplicitSequenceModel::new(config(true, 1), representation, Bpr::default()).unwrap();
        randomize_sequence_tables(model.representation_mut().tables_mut(), &mut rng);
        let mut batched = vec![0.0f32; refs.len() * ITEMS];
        model.score_next_batch(&refs, &mut batched);
        let mut one = vec![0.0f32; ITEMS];
        for (history, row) in refs.iter().zip(batched.chunks_exact(ITEMS)) {
            model.score_next(history, &mut one);
            for (x, y) in row.iter().zip(&one) {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                    "{name}, history of {}: batched {x} vs one {y}",
                    history.len()
                );
            }
        }
    }
}

//! Sequence models whose items are made of side features: the feature rows' gradients (through
//! the kernel and through dfdx) against finite differences of the loss in the feature tables;
//! an identity map trains exactly as the plain model; save/load keeps map and tables.

mod common;

use std::sync::Arc;

use netrex::data::Interactions;
use netrex::losses::Loss;
use netrex::prelude::*;
use netrex::representations::{FeatureMap, Gru, IndexedBy, Sasrec, SasrecSpec, Table};
use netrex::Checkpoint;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{assert_same_tables, randomize_sequence_tables, sequence_config};

const ITEMS: usize = 6;
const DIM: usize = 3;

fn config(sampling: NegativeSampling) -> SequenceConfig {
    SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(DIM)
            .epochs(2)
            .batch_size(3)
            .learning_rate(0.05)
            .seed(4)
            .config(),
        max_len: 4,
        negatives: sampling,
    }
}

/// Ids as features (rows 0..6) and three shared features with uneven weights; item 5 has
/// no id row, so it is made of shared features only.
fn map() -> Arc<FeatureMap> {
    let rows: Vec<Vec<(u32, f32)>> = vec![
        vec![(0, 1.0), (6, 0.5)],
        vec![(1, 1.0), (6, 0.25), (7, 0.75)],
        vec![(2, 1.0), (8, 1.5)],
        vec![(3, 1.0), (7, 0.5), (8, 0.5)],
        vec![(4, 1.0)],
        vec![(6, 1.0), (8, 2.0)],
    ];
    Arc::new(FeatureMap::from_rows(&rows, 9).unwrap())
}

/// Smooth representations, so that finite differences cross no ReLU kink (SASRec's
/// feed-forward layer has one); the map is the same for every representation, and SASRec's
/// kernel is checked against dfdx in `sequence_kernel.rs`.
fn representations(rng: &mut StdRng) -> Vec<AnySequence> {
    vec![
        AnySequence::Lstm(Lstm::new(ITEMS, DIM, rng).unwrap()),
        AnySequence::Pooling(Pooling::new(ITEMS, DIM, false, rng).unwrap()),
        AnySequence::Gru(Gru::new(ITEMS, DIM, rng).unwrap()),
    ]
}

fn random_feature_tables(rng: &mut StdRng) -> Vec<Table> {
    let k = map().num_features();
    let mut tables = vec![
        Table::zeros("item_feature_embedding", IndexedBy::Whole, k, DIM),
        Table::zeros("item_feature_bias", IndexedBy::Whole, k, 1),
    ];
    for t in &mut tables {
        t.data_mut()
            .iter_mut()
            .for_each(|v| *v = rng.gen_range(-0.5..0.5));
    }
    tables
}

fn model(
    representation: &AnySequence,
    loss: &BuiltinLoss,
    sampling: NegativeSampling,
    tables: Vec<Table>,
) -> ImplicitSequenceModel<AnySequence, BuiltinLoss> {
    ImplicitSequenceModel::new(config(sampling), representation.clone(), *loss)
        .unwrap()
        .with_item_feature_tables(map(), tables)
        .unwrap()
}

#[test]
fn feature_gradients_match_finite_differences_through_both_paths() {
    let mut rng = StdRng::seed_from_u64(8);
    let inputs = [0u32, 0, 3, 1, 0, 2, 5, 4];
    let targets = [0u32, 3, 1, 6, 2, 5, 4, 1];
    let cases = [
        ("bpr", NegativeSampling::PerPosition),
        ("pointwise", NegativeSampling::PerPosition),
        ("sampled-softmax", NegativeSampling::PerPosition),
        ("sampled-softmax", NegativeSampling::FullCatalog),
    ];
    for mut representation in representations(&mut rng) {
        randomize_sequence_tables(representation.tables_mut(), &mut rng);
        for (name, sampling) in cases {
            let loss = BuiltinLoss::from_name(name, Some(3)).unwrap();
            let what = format!("{} / {name} / {sampling:?}", representation.name());
            let tables = random_feature_tables(&mut rng);
            let n = if sampling == NegativeSampling::FullCatalog {
                0
            } else {
                loss.num_negatives()
            };
            let negatives: Vec<u32> = (0..targets.len() * n)
                .map(|_| rng.gen_range(1..=ITEMS as u32))
                .collect();
            let mut m = model(&representation, &loss, sampling, tables.clone());
            let (_, dfdx) = m
                .feature_batch_gradients(false, 2, &inputs, &targets, &negatives)
                .unwrap();
            let (_, kernel) = m
                .feature_batch_gradients(true, 2, &inputs, &targets, &negatives)
                .unwrap();
            let value = |tables: Vec<Table>| {
                let m = model(&representation, &loss, sampling, tables);
                f64::from(m.batch_loss_value(2, &inputs, &targets, &negatives))
            };
            let eps = 1e-3f32;
            let mut nonzero = 0;
            for (t, table) in tables.iter().enumerate() {
                for r in 0..table.rows() {
                    for c in 0..table.cols() {
                        let shifted = |delta: f32| {
                            let mut copy = tables.clone();
                            copy[t].row_mut(r)[c] += delta;
                            value(copy)
                        };
                        let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * f64::from(eps));
                        for (path, grads) in [("dfdx", &dfdx), ("kernel", &kernel)] {
                            let analytic = f64::from(grads[t].row(r as u32)[c]);
                            let err = (analytic - numeric).abs()
                                / (1e-2 + analytic.abs().max(numeric.abs()));
                            assert!(
                                err < 3e-2,
                                "{what} {path}: {} [{r}, {c}]: analytic {analytic:.6} numeric \
                                 {numeric:.6}",
                                table.name()
                            );
                        }
                        nonzero += usize::from(numeric.abs() > 1e-5);
                    }
                }
            }
            assert!(nonzero >= 12, "{what}: only {nonzero} non-zero gradients");
        }
    }
}

fn histories() -> Interactions {
    let mut rng = StdRng::seed_from_u64(2);
    let (mut users, mut items) = (Vec::new(), Vec::new());
    for u in 0..12u32 {
        for _ in 0..rng.gen_range(2..7) {
            users.push(u);
            items.push(rng.gen_range(0..ITEMS as u32));
        }
    }
    let times = (0..users.len() as i64).collect();
    Interactions::new(users, items, 12, ITEMS)
        .unwrap()
        .with_timestamps(times)
        .unwrap()
}

#[test]
fn identity_features_train_exactly_as_the_plain_model() {
    let mut rng = StdRng::seed_from_u64(1);
    let train = histories();
    let spec = SasrecSpec {
        blocks: 1,
        heads: 1,
        dropout: 0.2,
        positions: 4,
        frequency: None,
    };
    let sasrec = AnySequence::Sasrec(Sasrec::new(ITEMS, DIM, &spec, &mut rng).unwrap());
    for representation in representations(&mut rng).into_iter().chain([sasrec]) {
        for kind in [OptimizerKind::Adam, OptimizerKind::Sgd] {
            let mut cfg = config(NegativeSampling::PerPosition);
            cfg.training.optimizer = kind;
            let loss = BuiltinLoss::from_name("bpr", None).unwrap();
            let mut plain =
                ImplicitSequenceModel::new(cfg.clone(), representation.clone(), loss).unwrap();
            let items = &plain.representation().tables()[..2];
            // feature f is item f: the tables are the item tables less their padding row
            let tables: Vec<Table> = items
                .iter()
                .zip(["item_feature_embedding", "item_feature_bias"])
                .map(|(t, name)| {
                    let data = t.data()[t.cols()..].to_vec();
                    Table::from_data(name, IndexedBy::Whole, ITEMS, t.cols(), data).unwrap()
                })
                .collect();
            let identity = Arc::new(FeatureMap::identity(ITEMS));
            let mut featured = ImplicitSequenceModel::new(cfg, representation.clone(), loss)
                .unwrap()
                .with_item_feature_tables(identity, tables)
                .unwrap();
            plain.fit(&train).unwrap();
            featured.fit(&train).unwrap();
            assert_eq!(plain.loss_history(), featured.loss_history());
            assert_same_tables(
                plain.representation().tables(),
                featured.representation().tables(),
                &format!("{kind:?}"),
            );
            let features = featured.item_feature_tables().unwrap();
            assert_eq!(
                &plain.representation().tables()[0].data()[DIM..],
                features[0].data()
            );
        }
    }
}

#[test]
fn a_saved_model_keeps_its_features_and_a_corrupt_map_is_an_error() {
    let mut rng = StdRng::seed_from_u64(6);
    let train = histories();
    let representation = AnySequence::Lstm(Lstm::new(ITEMS, DIM, &mut rng).unwrap());
    let loss = BuiltinLoss::from_name("sampled-softmax", Some(3)).unwrap();
    let mut m = ImplicitSequenceModel::new(config(NegativeSampling::PerRow), representation, loss)
        .unwrap()
        .with_item_features(map())
        .unwrap();
    let before = m.item_feature_tables().unwrap()[0].data().to_vec();
    m.fit(&train).unwrap();
    let after = m.item_feature_tables().unwrap()[0].data().to_vec();
    assert_ne!(before, after, "the feature rows trained");
    // the item rows are the feature sums: item 4 is its id row alone
    assert_eq!(
        m.representation().tables()[0].row(5),
        &after[4 * DIM..5 * DIM]
    );
    let dir = std::env::temp_dir().join(format!("netrex-seq-features-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    m.save(&dir, &Catalog::default()).unwrap();
    let (mut loaded, _) =
        ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(&dir, loss).unwrap();
    assert_eq!(loaded.item_feature_map(), m.item_feature_map());
    assert_eq!(loaded.item_feature_tables(), m.item_feature_tables());
    assert_same_tables(
        loaded.representation().tables(),
        m.representation().tables(),
        "loaded",
    );
    let history = [0u32, 3, 2];
    assert_eq!(
        loaded.predict(&history).unwrap(),
        m.predict(&history).unwrap()
    );
    // it trains on from the loaded features
    loaded.fit(&train).unwrap();
    assert_ne!(loaded.item_feature_tables(), m.item_feature_tables());
    // checkpoints would drop the feature tables' optimizer state: a clear error
    let err = m.save_checkpoint(&dir, &Catalog::default()).unwrap_err();
    assert!(err.to_string().contains("item features"), "{err}");

    // a feature out of range in the saved map is refused
    let file = dir.join("model.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("\"num_features\": 9", "\"num_features\": 2", 1);
    assert_ne!(broken, text);
    std::fs::write(&file, broken).unwrap();
    let err = ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(&dir, loss)
        .err()
        .unwrap();
    assert!(matches!(err, NetrexError::ModelFile { .. }), "{err}");
    assert!(err.to_string().contains("item feature map"), "{err}");
}

#[test]
fn a_map_over_other_items_is_an_error() {
    let mut rng = StdRng::seed_from_u64(6);
    let representation = AnySequence::Lstm(Lstm::new(ITEMS + 1, DIM, &mut rng).unwrap());
    let loss = BuiltinLoss::from_name("bpr", None).unwrap();
    let err = ImplicitSequenceModel::new(config(NegativeSampling::PerRow), representation, loss)
        .unwrap()
        .with_item_features(map())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("6 rows but the model has 7 items"),
        "{err}"
    );
}

#[test]
fn genres_and_decades_keep_the_lstm_at_its_ids_only_level_on_movielens() {
    // the sequence protocol of the CLI (`fit --dataset ml-100k --model lstm`): 20% of users
    // held out, windows of 200, dim 32, adaptive hinge, lr 0.01, 10 epochs, seed 0
    use netrex::data::ingest::load_movielens;
    use netrex::data::split::user_split;
    use netrex::data::{movielens_item_features, MovieLens};
    use netrex::evaluation::{sequence_mrr_score, SequenceEvalConfig};
    use netrex::{feature_map, SideFeatures};

    let dir = netrex::data::testing_data_dir(env!("CARGO_MANIFEST_DIR")).join("ml-100k");
    let mut data = load_movielens(MovieLens::Ml100k, Some(&dir), None).unwrap();
    let parts = user_split(&data.interactions, 0.2, 0).unwrap();
    let features = movielens_item_features(MovieLens::Ml100k, &dir, &mut data.items).unwrap();
    let side = SideFeatures {
        with_ids: true,
        normalise: false,
        feature_weight: 1.0,
    };
    let map = feature_map(&features, data.items.len(), side).unwrap();
    let mut config = sequence_config((32, 10, 32), 0.01, 0, 200);
    config.training.threads = 1;
    let n = data.items.len();
    let lstm = Lstm::new(n, 32, &mut StdRng::seed_from_u64(0)).unwrap();
    let loss = BuiltinLoss::from_name("adaptive-hinge", None).unwrap();
    let mut model = ImplicitSequenceModel::new(config, lstm, loss)
        .unwrap()
        .with_item_features(Arc::new(map))
        .unwrap();
    model.fit(&parts.train).unwrap();
    let windows = netrex::data::sequence::windows(&parts.test.histories(), n, 200, 2, 200).unwrap();
    let eval = SequenceEvalConfig {
        exclude_seen: true,
        max_context: Some(200),
    };
    let mrr = sequence_mrr_score(&model, &windows.target_histories(), &eval)
        .unwrap()
        .mean;
    eprintln!("ML-100K LSTM with item features: MRR excluding seen {mrr:.4}");
    // The same LSTM with ids only: 0.0990 on seed 0, 0.0879 over seeds 0-2 (docs/results.md).
    // With features, seed 0 reads 0.1024, 0.1034 or 0.0999 as Adam's arithmetic changes in its
    // last bits: a lift of that size is within the noise of one seed, so the floor guards the
    // ids-only level with room for that noise, not the lift.
    assert!(mrr >= 0.095, "LSTM with features: MRR excluding seen {mrr}");
}

//! Cold start on MovieLens 100K (the CS1 protocol): the 336 items of
//! `../shared/protocols/cs1-cold-items.txt` have no training interactions; a hybrid model made
//! of item genres and decades ranks them for the 940 users who rated one. Fixed seed: a
//! regression fails CI.

use std::sync::Arc;

use netrex::data::cold::{cold_split, read_id_list, Side};
use netrex::data::ingest::load_movielens;
use netrex::data::{movielens_item_features, MovieLens};
use netrex::prelude::*;
use netrex::{feature_map, SideFeatures};

#[test]
fn cs1_cold_items_rank_well_above_random_from_their_features() {
    let dir = netrex::data::testing_data_dir(env!("CARGO_MANIFEST_DIR"));
    let mut data = load_movielens(MovieLens::Ml100k, Some(&dir.join("ml-100k")), None).unwrap();
    let list = dir
        .parent()
        .expect("the data folder has a parent")
        .join("protocols/cs1-cold-items.txt");
    let cold = read_id_list(&list, Side::Items, &data.items).unwrap();
    assert_eq!(cold.len(), 336);
    let parts = cold_split(&data.interactions, Side::Items, &cold).unwrap();
    assert_eq!((parts.train.len(), parts.test.len()), (80_420, 19_580));
    let features =
        movielens_item_features(MovieLens::Ml100k, &dir.join("ml-100k"), &mut data.items).unwrap();
    let items = feature_map(&features, data.items.len(), SideFeatures::default()).unwrap();
    let config = TrainingConfig {
        seed: 0,
        ..TrainingConfig::tuned_for("warp")
    };
    let mut model = ImplicitFactorizationModel::hybrid(
        config,
        HybridSide::Ids(data.users.len()),
        HybridSide::Features(Arc::new(items)),
        BuiltinLoss::from_name("warp", None).unwrap(),
    )
    .unwrap();
    model.fit(&parts.train).unwrap();
    let eval = EvalConfig {
        candidates: Some(cold),
        ..EvalConfig::at(vec![10])
    };
    let report = model
        .evaluate(&parts.test, Some(&parts.train), &eval)
        .unwrap();
    eprintln!(
        "CS1 hybrid WARP: MRR {:.4} AUC {:.4} over {} users",
        report.mrr,
        report.auc,
        report.per_user.len()
    );
    assert_eq!(report.per_user.len(), 940);
    // random ranking: MRR 0.019, AUC 0.50; LightFM WARP on features: 0.0585 / 0.751
    assert!(report.mrr >= 0.05, "CS1 MRR {}", report.mrr);
    assert!(report.auc >= 0.72, "CS1 AUC {}", report.auc);
}

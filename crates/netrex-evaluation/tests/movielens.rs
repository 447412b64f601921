//! The popularity baseline on ML-100K ua.base -> ua.test: reference values computed with
//! scipy's rankdata on the same protocol (train items excluded, ties averaged).

use std::path::PathBuf;

use netrex_data::ingest::load_movielens_split;
use netrex_data::OfficialSplit;
use netrex_evaluation::{auc_score, evaluate, mrr_score, EvalConfig, Popularity};

fn data_dir() -> PathBuf {
    netrex_data::testing_data_dir(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn popularity_reference_values() {
    let (_, split) = load_movielens_split(Some(&data_dir()), OfficialSplit::Ua, None).unwrap();
    let model = Popularity::fit(&split.train);
    let report = evaluate(
        &model,
        &split.test,
        Some(&split.train),
        &EvalConfig::default(),
    )
    .unwrap();
    assert_eq!(report.per_user.len(), 943);
    assert!((report.mrr - 0.0540).abs() < 0.001, "MRR {}", report.mrr);
    assert!((report.auc - 0.8569).abs() < 0.001, "AUC {}", report.auc);
    let at10 = report.at(10).unwrap();
    assert!(at10.precision > 0.0 && at10.precision < 1.0);
    assert!(at10.ndcg > 0.0 && at10.ndcg < 1.0);
    // the thin wrappers agree with the full report
    let mrr = mrr_score(&model, &split.test, Some(&split.train)).unwrap();
    assert_eq!(mrr.mean, report.mrr);
    let auc = auc_score(&model, &split.test, Some(&split.train)).unwrap();
    assert_eq!(auc.mean, report.auc);
}

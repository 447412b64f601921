//! The next-item protocol on Amazon Beauty (leave-one-out, full ranking, seen items removed):
//! the baselines every sequence model is judged against, with floors.

use netrex_data::split::leave_one_out;
use netrex_data::AmazonS3Rec;
use netrex_evaluation::{
    next_item_metrics, Cooccurrence, NextItemConfig, Popularity, Sknn, SknnConfig,
};

#[test]
fn beauty_baselines() {
    let dir = netrex_data::testing_data_dir(env!("CARGO_MANIFEST_DIR"));
    let data = AmazonS3Rec::Beauty.load(Some(&dir)).unwrap();
    let split = leave_one_out(&data.interactions).unwrap();
    let histories = split.train.concat(&split.validation).unwrap().histories();
    let config = NextItemConfig::default();
    let n = data.interactions.num_items();
    let cooc = Cooccurrence::fit(&split.train.histories(), n);
    let cooc = next_item_metrics(&cooc, &histories, &split.test, &config).unwrap();
    let pop = Popularity::fit(&split.train);
    let pop = next_item_metrics(&pop, &histories, &split.test, &config).unwrap();
    // measured: cooc HR@10 0.0670, NDCG@10 0.0440; popularity 0.0120 / 0.0056
    assert!(cooc.ndcg_at_k > 0.042 && cooc.hr_at_k > 0.064, "{cooc:?}");
    assert!(pop.ndcg_at_k > 0.005 && pop.hr_at_k > 0.011, "{pop:?}");
    assert!(
        pop.ndcg_at_k < 0.007,
        "popularity is no sequence model: {pop:?}"
    );
    assert_eq!(cooc.targets, 22_363);
    // session kNN, plain cosine and V-SKNN's weights; measured 0.0600 / 0.0325 and
    // 0.0685 / 0.0384 (HR@10 / NDCG@10)
    for (weights, hr, ndcg) in [(false, 0.058, 0.031), (true, 0.066, 0.037)] {
        let config = SknnConfig {
            positions: weights,
            idf: weights,
            ..SknnConfig::default()
        };
        let sknn = Sknn::fit(&split.train.histories(), n, config);
        let r =
            next_item_metrics(&sknn, &histories, &split.test, &NextItemConfig::default()).unwrap();
        assert!(r.hr_at_k > hr && r.ndcg_at_k > ndcg, "{weights}: {r:?}");
    }
}

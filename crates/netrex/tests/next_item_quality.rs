//! SASRec on Amazon Beauty, leave-one-out (the field's benchmark), on a short run: a floor
//! that a regression in the attention encoder, the shared-negative kernel, the sampled softmax
//! or the protocol would break. Full runs are in docs/results.md.

use netrex::data::split::leave_one_out;
use netrex::data::AmazonS3Rec;
use netrex::evaluation::{next_item_metrics, NextItemConfig};
use netrex::prelude::*;
use netrex::representations::{Sasrec, SasrecSpec};
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn sasrec_learns_beauty_in_two_epochs() {
    let data = AmazonS3Rec::Beauty
        .load(Some(&netrex::data::testing_data_dir(env!(
            "CARGO_MANIFEST_DIR"
        ))))
        .unwrap();
    let split = leave_one_out(&data.interactions).unwrap();
    let n = data.interactions.num_items();
    let spec = SasrecSpec {
        blocks: 1,
        heads: 1,
        dropout: 0.2,
        positions: 51,
        frequency: None,
    };
    let sasrec = Sasrec::new(n, 64, &spec, &mut StdRng::seed_from_u64(0)).unwrap();
    let config = SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(64)
            .batch_size(128)
            .learning_rate(1e-3)
            .epochs(2)
            .threads(2)
            .seed(0)
            .config(),
        max_len: 50,
        negatives: NegativeSampling::PerRow,
    };
    let loss = BuiltinLoss::from_name("sampled-softmax", None).unwrap();
    let mut model = ImplicitSequenceModel::new(config, sasrec, loss).unwrap();
    model.fit(&split.train).unwrap();
    let histories = split.train.concat(&split.validation).unwrap().histories();
    let report = netrex::in_pool(2, || {
        next_item_metrics(&model, &histories, &split.test, &NextItemConfig::default())
    })
    .unwrap()
    .unwrap();
    // measured (release, seed 0): test NDCG@10 0.022 after two epochs; popularity 0.0056
    assert!(report.ndcg_at_k > 0.015, "{report:?}");
    assert!(report.hr_at_k > 0.03, "{report:?}");
}

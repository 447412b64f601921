//! A loss defined outside netrex-losses and trained through the same model: the researcher's
//! use case. Here, a "soft adaptive hinge": a softmax-weighted hinge over the sampled
//! negatives, so every negative gets gradient in proportion to how hard it is (its code is in
//! `examples/support/custom_losses.rs`, shared with the benchmarks' custom BPR).
//!
//! ```text
//! NETREX_DATA_DIR=../shared/data cargo run --release --example custom_loss
//! ```

use netrex::prelude::Bilinear;
use netrex::prelude::*;

#[path = "support/custom_losses.rs"]
mod custom_losses;
use custom_losses::SoftAdaptiveHinge;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (data, parts) = netrex::data::ingest::load_movielens_split(None, OfficialSplit::Ua, None)?;
    let config = TrainingConfig::builder()
        .learning_rate(0.001)
        .seed(0)
        .build()?;
    let loss = SoftAdaptiveHinge { negatives: 5 };
    let mut model: ImplicitFactorizationModel<Bilinear, _> =
        ImplicitFactorizationModel::bilinear(config, data.users.len(), data.items.len(), loss)?;
    let fit = model.fit(&parts.train)?;
    let report = model.evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
    println!(
        "{}: MRR {:.4}  AUC {:.4}  NDCG@10 {:.4}  fit {:.2} s",
        model.loss().name(),
        report.mrr,
        report.auc,
        report.at(10).map_or(0.0, |a| a.ndcg),
        fit.seconds
    );
    Ok(())
}

//! SASRec on Amazon Beauty, the field's leave-one-out protocol, through the public API: the
//! run plan resolves the same defaults as `netrex fit --dataset amazon-beauty --model sasrec`,
//! early stopping keeps the best validation epoch, and its model is tested once.
//!
//!     NETREX_DATA_DIR=../shared/data cargo run --release --example sasrec_beauty
//!
//! (`NETREX_EPOCHS=2` caps the epochs for a quick look.)

use netrex::data::split::leave_one_out;
use netrex::data::AmazonS3Rec;
use netrex::evaluation::next_item_metrics;
use netrex::plan::RunPlan;
use netrex::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut plan =
        RunPlan::from_toml("[data]\ndataset = 'amazon-beauty'\n[model]\nkind = 'sasrec'")?;
    plan.training.threads = 2;
    plan.stopping.max_epochs = std::env::var("NETREX_EPOCHS")
        .ok()
        .and_then(|e| e.parse().ok());
    let plan = plan.resolve()?;
    plan.check()?;

    let data = AmazonS3Rec::Beauty.load(None)?;
    let split = leave_one_out(&data.interactions)?;
    let before_validation = split.train.histories();
    let before_test = split.train.concat(&split.validation)?.histories();
    let mut model = plan.sequence_model(data.items.len())?;
    let eval = plan.next_item_config();
    let rank = |m: &ImplicitSequenceModel<_, _>, histories, targets| {
        netrex::in_pool(2, || next_item_metrics(m, histories, targets, &eval))
    };
    let report = netrex::fit_early_stopping(
        &mut model,
        &split.train,
        &plan.early_stopping(),
        |m| Ok(rank(m, &before_validation, &split.validation)??.ndcg_at_k),
        |m| m.representation().clone(),
        |m, best| *m.representation_mut() = best,
        |_, end| eprintln!("epoch {}: validation NDCG@10 {:.4}", end.epoch, end.score),
    )?;
    let test = rank(&model, &before_test, &split.test)??;
    let (hr, ndcg) = (test.hr_at_k, test.ndcg_at_k);
    println!(
        "best epoch {}: test HR@10 {hr:.4}  NDCG@10 {ndcg:.4}",
        report.best_epoch
    );
    Ok(())
}

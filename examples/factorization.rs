//! Bilinear factorization on MovieLens 100K (`ua.base` -> `ua.test`): the talk's protocol.
//!
//! ```text
//! NETREX_DATA_DIR=../shared/data cargo run --release --example factorization -- \
//!     [loss] [learning_rate] [l2] [negatives] [seed] [epochs] [optimizer] [lr_schedule]
//! ```
//! e.g. `-- adaptive-hinge 0.0015 0 5 0`; `-` keeps a default. Defaults are tuned per loss
//! ([`TrainingConfig::tuned_for`]).

use netrex::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).filter(|a| *a != "-");
    let loss_name = arg(0).unwrap_or("adaptive-hinge");
    let mut builder = netrex::TrainingConfigBuilder::from(TrainingConfig::tuned_for(loss_name));
    if let Some(lr) = arg(1) {
        builder = builder.learning_rate(lr.parse()?);
    }
    if let Some(l2) = arg(2) {
        builder = builder.l2(l2.parse()?);
    }
    let negatives = arg(3).map(str::parse::<usize>).transpose()?;
    if let Some(seed) = arg(4) {
        builder = builder.seed(seed.parse()?);
    }
    if let Some(epochs) = arg(5) {
        builder = builder.epochs(epochs.parse()?);
    }
    if let Some(opt) = arg(6) {
        builder = builder.optimizer(opt.parse()?);
    }
    if let Some(schedule) = arg(7) {
        builder = builder.lr_schedule(schedule.parse()?);
    }
    let config = builder.build()?;
    let loss = BuiltinLoss::from_name(loss_name, negatives)
        .ok_or_else(|| format!("unknown loss {loss_name}; known: {:?}", BuiltinLoss::NAMES))?;
    let (data, parts) = netrex::data::ingest::load_movielens_split(None, OfficialSplit::Ua, None)?;
    let mut model = ImplicitFactorizationModel::bilinear(
        config.clone(),
        data.users.len(),
        data.items.len(),
        loss,
    )?;
    let fit = model.fit(&parts.train)?;
    let report = model.evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
    let at10 = report.at(10).expect("k = 10 is a default cut-off");
    println!(
        "{loss_name:<15} lr {:<7} {:<8} l2 {:<7} neg {:<3} seed {:<3} MRR {:.4}  AUC {:.4}  P@10 {:.4}  NDCG@10 {:.4}  fit {:.2} s  losses {:?}",
        config.learning_rate,
        format!("{:?}", config.lr_schedule),
        config.l2,
        negatives.unwrap_or(model.loss().num_negatives()),
        config.seed,
        report.mrr,
        report.auc,
        at10.precision,
        at10.ndcg,
        fit.seconds,
        fit.loss_history.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>()
    );
    Ok(())
}

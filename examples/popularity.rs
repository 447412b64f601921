//! The popularity baseline on MovieLens 100K's official `ua` split: the data-and-evaluation
//! run of the foundation, and the floor every model must beat.
//!
//! ```text
//! NETREX_DATA_DIR=../shared/data cargo run --release --example popularity [-- --split ub] [--json]
//! ```

use std::time::Instant;

use netrex_data::ingest::load_movielens_split;
use netrex_data::OfficialSplit;
use netrex_evaluation::{evaluate, EvalConfig, Popularity};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let split: OfficialSplit = match args.iter().position(|a| a == "--split") {
        Some(i) => args
            .get(i + 1)
            .ok_or("--split needs a value: ua, ub or u1..u5")?
            .parse()?,
        None => OfficialSplit::Ua,
    };
    let (data, parts) = load_movielens_split(None, split, None)?;
    let model = Popularity::fit(&parts.train);
    let start = Instant::now();
    let report = evaluate(
        &model,
        &parts.test,
        Some(&parts.train),
        &EvalConfig::default(),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let at10 = report.at(10).ok_or("k = 10 is in the default cut-offs")?;
    if json {
        println!(
            "{{\"model\":\"popularity\",\"train\":{},\"test\":{},\"users\":{},\"mrr\":{:.6},\"auc\":{:.6},\"precision_at_10\":{:.6},\"recall_at_10\":{:.6},\"ndcg_at_10\":{:.6},\"hit_rate_at_10\":{:.6},\"eval_seconds\":{:.4}}}",
            parts.train.len(), parts.test.len(), report.per_user.len(), report.mrr, report.auc, at10.precision, at10.recall, at10.ndcg, at10.hit_rate, seconds
        );
    } else {
        println!(
            "ML-100K {split:?}: {} train / {} test interactions, {} users, {} items",
            parts.train.len(),
            parts.test.len(),
            data.users.len(),
            data.items.len()
        );
        println!(
            "popularity  MRR {:.4}  AUC {:.4}  P@10 {:.4}  R@10 {:.4}  NDCG@10 {:.4}  HR@10 {:.4}",
            report.mrr, report.auc, at10.precision, at10.recall, at10.ndcg, at10.hit_rate
        );
        println!(
            "evaluated {} test users in {:.3} s",
            report.per_user.len(),
            seconds
        );
    }
    Ok(())
}

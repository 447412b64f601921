//! Sequence models on the talk's sanity set, Spotlight-style Markov data, or ML-100K.
//!
//! ```text
//! NETREX_DATA_DIR=../shared/data cargo run --release --example sequence -- \
//!     [tiled|markov|markov-random|ml-100k] [lstm|pool-mean|pool-sum|popularity] [loss] [lr] [epochs] [dim] [max_len] [seed]
//! ```

use netrex::data::split::user_split;
use netrex::data::synthetic::{markov, tiled, MarkovConfig};
use netrex::evaluation::{sampled_mrr_score, sequence_mrr_score, SequenceEvalConfig};
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn run<R: SequenceRepresentation>(
    representation: R,
    config: Checked<SequenceConfig>,
    loss: BuiltinLoss,
    train: &Interactions,
    test: &Interactions,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let max_len = config.max_len;
    let mut model = ImplicitSequenceModel::new(config, representation, loss)?;
    let fit = model.fit(train)?;
    let histories = test.histories();
    let full = sequence_mrr_score(
        &model,
        &histories,
        &SequenceEvalConfig {
            exclude_seen: false,
            max_context: Some(max_len),
        },
    )?;
    let excl = sequence_mrr_score(
        &model,
        &histories,
        &SequenceEvalConfig {
            exclude_seen: true,
            max_context: Some(max_len),
        },
    )?;
    let sampled = sampled_mrr_score(&model, &histories, 200, Some(max_len.saturating_sub(1)), 0)?;
    println!(
        "{name:<10} sequence MRR {:.4}  excluding seen {:.4}  sampled-200 MRR {:.4}  fit {:.2} s  losses {:?}",
        full.mean,
        excl.mean,
        sampled.mean,
        fit.seconds,
        fit.loss_history.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let dataset = arg(0, "tiled");
    let model = arg(1, "lstm");
    let loss = BuiltinLoss::from_name(&arg(2, "adaptive-hinge"), None).ok_or("unknown loss")?;
    let lr: f32 = arg(3, "0.01").parse()?;
    let epochs: usize = arg(4, "10").parse()?;
    let dim: usize = arg(5, "32").parse()?;
    let max_len: usize = arg(6, "20").parse()?;
    let seed: u64 = arg(7, "0").parse()?;
    let data = match dataset.as_str() {
        "tiled" => tiled(1000, 20)?,
        "markov" | "markov-random" => markov(&MarkovConfig {
            num_users: 100,
            num_items: 100,
            num_interactions: 10_000,
            concentration: if dataset == "markov" { 1e-3 } else { 100.0 },
            order: 2,
            seed,
        })?,
        "ml-100k" => {
            netrex::data::ingest::load_movielens(MovieLens::Ml100k, None, None)?.interactions
        }
        other => return Err(format!("unknown dataset {other}").into()),
    };
    let parts = user_split(&data, 0.2, seed)?;
    let training = TrainingConfig::builder()
        .embedding_dim(dim)
        .epochs(epochs)
        .batch_size(32)
        .learning_rate(lr)
        .seed(seed)
        .config();
    let config = SequenceConfig {
        training,
        max_len,
        negatives: netrex::NegativeSampling::PerPosition,
    }
    .check()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let n = data.num_items();
    match model.as_str() {
        "lstm" => run(
            Lstm::new(n, dim, &mut rng)?,
            config,
            loss,
            &parts.train,
            &parts.test,
            &model,
        ),
        "pool-mean" => run(
            Pooling::new(n, dim, true, &mut rng)?,
            config,
            loss,
            &parts.train,
            &parts.test,
            &model,
        ),
        "pool-sum" => run(
            Pooling::new(n, dim, false, &mut rng)?,
            config,
            loss,
            &parts.train,
            &parts.test,
            &model,
        ),
        "popularity" => run(
            SequencePopularity::new(n, &mut rng)?,
            config,
            loss,
            &parts.train,
            &parts.test,
            &model,
        ),
        other => Err(format!("unknown model {other}").into()),
    }
}

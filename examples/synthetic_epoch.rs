//! Epoch time and peak memory on a large synthetic Zipf set (the speed issue's 1M and 20M
//! protocols): users drawn uniformly, items with Zipf popularity, a bilinear model.
//!
//! ```text
//! cargo run --release --example synthetic_epoch -- [interactions] [users] [items] [dim] \
//!     [loss] [threads] [fused|dfdx] [epochs] [adam|adagrad|sgd] [learning rate] [batch size]
//! cargo run --release --example synthetic_epoch -- 1000000 50000 20000 64 bpr 2 fused 3
//! cargo run --release --example synthetic_epoch -- 1000000 50000 20000 64 custom-bpr 1 fused 3
//! cargo run --release --example synthetic_epoch -- 1000000 50000 20000 64 bpr 2 fused 3 sgd 0.05 1
//! cargo run --release --example synthetic_epoch -- 20000000 138000 27000 64 bpr 2 fused 1
//! ```
//! The loss `custom-bpr` is BPR written as a user's own [`Loss`] (dfdx ops, no hand-written
//! gradient), to time the path every custom loss takes. Prints each epoch's seconds, the parameter and optimizer-state bytes, and the process's
//! peak resident memory (Linux `VmHWM`).

use std::time::Instant;

use netrex::data::synthetic::{zipf, ZipfConfig};
use netrex::data::Interactions;
use netrex::prelude::*;

#[path = "support/custom_losses.rs"]
mod custom_losses;
use custom_losses::CustomBpr;

#[path = "support/cli_args.rs"]
mod cli_args;
use cli_args::arg;

fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interactions: usize = arg(1, 1_000_000);
    let users: usize = arg(2, 50_000);
    let items: usize = arg(3, 20_000);
    let dim: usize = arg(4, 64);
    let loss_name: String = arg(5, "bpr".to_string());
    let threads: usize = arg(6, 1);
    let kernel: String = arg(7, "fused".to_string());
    let epochs: usize = arg(8, 1);
    let optimizer: String = arg(9, "adam".to_string());
    let learning_rate: Option<f32> = std::env::args().nth(10).and_then(|a| a.parse().ok());
    let batch_size: Option<usize> = std::env::args().nth(11).and_then(|a| a.parse().ok());

    let start = Instant::now();
    let data = zipf(&ZipfConfig {
        num_users: users,
        num_items: items,
        num_interactions: interactions,
        exponent: 1.0,
        seed: 0,
    })?;
    println!(
        "data: {} interactions, {users} users x {items} items, built in {:.2} s",
        data.len(),
        start.elapsed().as_secs_f64()
    );
    let after_data = peak_resident_bytes();
    let tuned = if loss_name == "custom-bpr" {
        "bpr"
    } else {
        &loss_name
    };
    let config = TrainingConfig {
        embedding_dim: dim,
        epochs: 1,
        threads,
        fused: kernel != "dfdx",
        optimizer: optimizer.parse()?,
        ..TrainingConfig::tuned_for(tuned)
    };
    let config = TrainingConfig {
        learning_rate: learning_rate.unwrap_or(config.learning_rate),
        batch_size: batch_size.unwrap_or(config.batch_size),
        ..config
    };
    let shape = (users, items, epochs);
    let parameters = if loss_name == "custom-bpr" {
        train(CustomBpr, config, &data, shape, &optimizer)?
    } else {
        let loss = BuiltinLoss::from_name(&loss_name, None).ok_or("unknown loss")?;
        train(loss, config, &data, shape, &optimizer)?
    };
    // Adam keeps two moments per parameter, Adagrad one, SGD none
    let state = match optimizer.as_str() {
        "adam" => 2.0,
        "adagrad" => 1.0,
        _ => 0.0,
    };
    println!(
        "parameters {:.1} MB, {optimizer} state {:.1} MB",
        parameters as f64 / 1e6,
        state * parameters as f64 / 1e6
    );
    if let (Some(data_peak), Some(peak)) = (after_data, peak_resident_bytes()) {
        println!(
            "peak resident {:.1} MB ({:.1} MB after building the data)",
            peak as f64 / 1e6,
            data_peak as f64 / 1e6
        );
    }
    Ok(())
}

/// Fits `epochs` epochs one at a time, printing each one's time; returns the parameter bytes.
fn train<L: Loss>(
    loss: L,
    config: TrainingConfig,
    data: &Interactions,
    (users, items, epochs): (usize, usize, usize),
    optimizer: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let (loss_name, dim, threads) = (loss.name(), config.embedding_dim, config.threads);
    let mut model = ImplicitFactorizationModel::bilinear(config, users, items, loss)?;
    println!(
        "model: {loss_name}, dim {dim}, {optimizer}, batch {}, {threads} thread(s), {} kernel",
        model.config().batch_size,
        if model.uses_per_example_sgd() {
            "per-example SGD"
        } else if model.uses_fused_kernel() {
            "fused"
        } else {
            "dfdx"
        }
    );
    for epoch in 1..=epochs {
        let report = model.fit(data)?;
        println!(
            "epoch {epoch}: {:.3} s, loss {:.4}",
            report.seconds, report.loss_history[0]
        );
    }
    Ok(model
        .representation()
        .tables()
        .iter()
        .map(|t| t.data().len() * 4)
        .sum())
}

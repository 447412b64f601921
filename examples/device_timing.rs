//! Training-step and epoch times on a dfdx device, for the GPU issue's protocols:
//! a bilinear BPR step (dim 64) at batch 1024 and 65536, BPR epochs over the 1M-interaction
//! Zipf set at both batch sizes, and sequence steps (27k items, batch 256, length 50, dim 32)
//! for the LSTM and pooling.
//!
//! ```text
//! cargo run --release --example device_timing -- cpu
//! cargo build --release --features cuda --example device_timing   # then, on a GPU machine:
//! device_timing cuda
//! ```
//! A step is netrex's: rows gathered on the host, forward and backward on the device, row
//! gradients back on the host. Epochs add the host-side row-wise Adam. Every figure is the
//! median of several runs after a warm-up.

use std::time::Instant;

use netrex::data::synthetic::{zipf, ZipfConfig};
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/random_rows.rs"]
mod random_rows;
use random_rows::random_rows;

/// Builds a fresh sequence representation.
type Build = fn(&mut StdRng) -> AnySequence;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn run<D: ComputeDevice>(
    open: impl Fn() -> Result<D, NetrexError>,
) -> Result<(), Box<dyn std::error::Error>>
where
    ImplicitFactorizationModel<Bilinear, BuiltinLoss, D>: Fit,
    ImplicitSequenceModel<AnySequence, BuiltinLoss, D>: Fit,
{
    let name = D::NAME;
    let zipf_config = ZipfConfig::default();
    let data = zipf(&zipf_config)?;
    let (users, items) = (zipf_config.num_users, zipf_config.num_items);
    let mut rng = StdRng::seed_from_u64(0);
    let on_gpu = name != "cpu";
    for batch in [1024usize, 65536] {
        let config = TrainingConfig {
            embedding_dim: 64,
            batch_size: batch,
            epochs: 1,
            fused: false,
            ..TrainingConfig::tuned_for("bpr")
        };
        let loss = || BuiltinLoss::from_name("bpr", None).expect("built-in");
        let u: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..users as u32)).collect();
        let p: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..items as u32)).collect();
        let n: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..items as u32)).collect();
        // host: rows copied to the device per batch, row-wise Adam on the host; resident:
        // tables and lazy Adam on the device (the GPU default; slow on the CPU)
        for resident in [false, true] {
            if resident && !on_gpu {
                continue;
            }
            let mut model = ImplicitFactorizationModel::bilinear_on(
                open()?,
                config.clone(),
                users,
                items,
                loss(),
            )?
            .with_resident_tables(resident);
            let path = if resident { "resident" } else { "host" };
            if !resident {
                let step = median_ms(20, || {
                    model.batch_gradients(&u, &p, &n, None).expect("step");
                });
                println!("{name} bpr_step host dim64 batch{batch}: {step:.3} ms");
            }
            let epochs: Vec<String> = (0..3)
                .map(|_| Fit::fit(&mut model, &data).map(|r| format!("{:.3}", r.seconds)))
                .collect::<Result<_, _>>()?;
            println!(
                "{name} bpr_epoch {path} zipf1m dim64 batch{batch}: {} s",
                epochs.join(" ")
            );
        }
    }
    let num_items = 27_000usize;
    let (batch, len, dim) = (256usize, 50usize, 32usize);
    let (inputs, targets) = random_rows(&mut rng, (batch, len), num_items);
    let loss = || BuiltinLoss::from_name("bpr", None).expect("built-in");
    let negatives: Vec<u32> = (0..batch * len)
        .map(|_| rng.gen_range(1..=num_items as u32))
        .collect();
    let config = SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(dim)
            .batch_size(batch)
            .epochs(1)
            .config(),
        max_len: len,
        negatives: netrex::NegativeSampling::PerPosition,
    };
    // 40 batches of 256 histories of 50 items: a resident step is an epoch over 40
    let histories = zipf(&ZipfConfig {
        num_users: 40 * batch,
        num_items,
        num_interactions: 40 * batch * len,
        exponent: 1.0,
        seed: 1,
    })?;
    let rows = netrex::data::sequence::chunked(&histories.histories(), num_items, len)?.len();
    let steps = rows.div_ceil(batch);
    let kinds: Vec<(&str, Build)> = vec![
        ("pool", |rng| {
            AnySequence::Pooling(Pooling::new(27_000, 32, true, rng).expect("valid"))
        }),
        ("lstm", |rng| {
            AnySequence::Lstm(Lstm::new(27_000, 32, rng).expect("valid"))
        }),
    ];
    for (kind, build) in kinds {
        let model =
            ImplicitSequenceModel::new_on(open()?, config.clone(), build(&mut rng), loss())?;
        let step = median_ms(10, || {
            model
                .batch_gradients(batch, &inputs, &targets, &negatives)
                .expect("step");
        });
        println!("{name} {kind}_step host items27k batch256 len50 dim32: {step:.3} ms");
        if on_gpu {
            let mut model =
                ImplicitSequenceModel::new_on(open()?, config.clone(), build(&mut rng), loss())?
                    .with_resident_tables(true);
            let epochs: Vec<f64> = (0..3)
                .map(|_| Fit::fit(&mut model, &histories).map(|r| r.seconds))
                .collect::<Result<_, _>>()?;
            let per_step: Vec<String> = epochs
                .iter()
                .map(|s| format!("{:.3}", s * 1e3 / steps as f64))
                .collect();
            println!(
                "{name} {kind}_step resident items27k batch256 len50 dim32 (epoch of {steps} steps / steps): {} ms",
                per_step.join(" ")
            );
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref().unwrap_or("cpu") {
        #[cfg(feature = "cuda")]
        "cuda" => run(<netrex::losses::dfdx::prelude::Cuda as ComputeDevice>::open),
        _ => run(<netrex::losses::dfdx::prelude::Cpu as ComputeDevice>::open),
    }
}

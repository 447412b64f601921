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

fn run<D: ComputeDevice>(open: impl Fn() -> Result<D, NetrexError>) -> Result<(), NetrexError>
where
    ImplicitFactorizationModel<Bilinear, BuiltinLoss, D>: Fit,
{
    let name = D::NAME;
    let zipf_config = ZipfConfig::default();
    let data = zipf(&zipf_config)?;
    let (users, items) = (zipf_config.num_users, zipf_config.num_items);
    let mut rng = StdRng::seed_from_u64(0);
    for batch in [1024usize, 65536] {
        let config = FactorizationConfig {
            embedding_dim: 64,
            batch_size: batch,
            epochs: 1,
            fused: false,
            ..FactorizationConfig::tuned_for("bpr")
        };
        let loss = BuiltinLoss::from_name("bpr", None).expect("built-in");
        let mut model =
            ImplicitFactorizationModel::bilinear_on(open()?, config, users, items, loss)?;
        let u: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..users as u32)).collect();
        let p: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..items as u32)).collect();
        let n: Vec<u32> = (0..batch).map(|_| rng.gen_range(0..items as u32)).collect();
        let step = median_ms(20, || {
            model.batch_gradients(&u, &p, &n, None).expect("step");
        });
        println!("{name} bpr_step dim64 batch{batch}: {step:.3} ms");
        let mut epochs = Vec::new();
        for _ in 0..3 {
            epochs.push(Fit::fit(&mut model, &data)?.seconds);
        }
        println!(
            "{name} bpr_epoch zipf1m dim64 batch{batch}: {} s",
            epochs
                .iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let num_items = 27_000usize;
    let (batch, len, dim) = (256usize, 50usize, 32usize);
    let targets: Vec<u32> = (0..batch * len)
        .map(|_| rng.gen_range(1..=num_items as u32))
        .collect();
    let inputs: Vec<u32> = targets
        .chunks(len)
        .flat_map(|row| std::iter::once(0).chain(row[..len - 1].iter().copied()))
        .collect();
    let loss = || BuiltinLoss::from_name("bpr", None).expect("built-in");
    let negatives: Vec<u32> = (0..batch * len)
        .map(|_| rng.gen_range(1..=num_items as u32))
        .collect();
    let config = SequenceConfig {
        training: FactorizationConfig::builder().embedding_dim(dim).build()?,
        max_len: len,
    };
    let kinds: Vec<(&str, AnySequence)> = vec![
        (
            "pool",
            AnySequence::Pooling(Pooling::new(num_items, dim, true, &mut rng)?),
        ),
        (
            "lstm",
            AnySequence::Lstm(Lstm::new(num_items, dim, &mut rng)?),
        ),
    ];
    for (kind, representation) in kinds {
        let model = ImplicitSequenceModel::new_on(open()?, config.clone(), representation, loss())?;
        let step = median_ms(10, || {
            model
                .batch_gradients(batch, &inputs, &targets, &negatives)
                .expect("step");
        });
        println!("{name} {kind}_step items27k batch256 len50 dim32: {step:.3} ms");
    }
    Ok(())
}

fn main() -> Result<(), NetrexError> {
    match std::env::args().nth(1).as_deref().unwrap_or("cpu") {
        #[cfg(feature = "cuda")]
        "cuda" => run(<netrex::losses::dfdx::prelude::Cuda as ComputeDevice>::open),
        _ => run(<netrex::losses::dfdx::prelude::Cpu as ComputeDevice>::open),
    }
}

//! A representation of your own, in your own crate: defined in
//! `examples/support/own_representation.rs` (a factorization one and a sequence one), trained,
//! checkpointed, resumed, saved and loaded with no code in netrex's crates. Synthetic data, a
//! few seconds.
//!
//! ```text
//! cargo run --release --example own_representation
//! ```

#[path = "support/own_representation.rs"]
mod own_representation;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("netrex-own-{}", std::process::id()));
    let outcome = own_representation::run(&dir)?;
    println!(
        "tempered-dot (factorization): resumed = uninterrupted, saved = loaded; test MRR {:.4}",
        outcome.factorization_mrr
    );
    println!(
        "last-item (sequence): resumed = uninterrupted, saved = loaded; next-item MRR {:.4}",
        outcome.sequence_mrr
    );
    println!("models and checkpoints under {}", dir.display());
    Ok(())
}

//! Random training rows for the step timings (`benches/training.rs`,
//! `examples/device_timing.rs`): targets uniform over the catalog, each row's inputs its targets
//! shifted right by one.

use rand::Rng;

/// `(inputs, targets)` of `batch` rows of `len` targets drawn from `1..=items`; a row's inputs
/// are its targets shifted right by one, with 0 (padding) first.
pub fn random_rows(
    rng: &mut impl Rng,
    (batch, len): (usize, usize),
    items: usize,
) -> (Vec<u32>, Vec<u32>) {
    let targets: Vec<u32> = (0..batch * len)
        .map(|_| rng.gen_range(1..=items as u32))
        .collect();
    let inputs = targets
        .chunks(len)
        .flat_map(|row| std::iter::once(0).chain(row[..len - 1].iter().copied()))
        .collect();
    (inputs, targets)
}

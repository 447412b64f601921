//! One batch's ids and negatives, and what a run of batches adds up to.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use netrex_data::Interactions;

use crate::error::NetrexError;
use crate::fused;

/// Positives per unit of sampling and work when training one positive at a time.
pub(super) const PER_EXAMPLE_UNIT: usize = 1024;

/// Uniform negatives for each batch from a stream of its own, so that which worker trains a
/// batch does not change its negatives.
pub(super) struct Sampler {
    pub(super) seed: u64,
    pub(super) negatives: usize,
    pub(super) num_items: u32,
    /// The items negatives are drawn from, if not all of them.
    pub(super) pool: Option<std::sync::Arc<Vec<u32>>>,
}

impl Sampler {
    pub(super) fn rng(&self, batch: usize) -> StdRng {
        StdRng::seed_from_u64(
            self.seed
                .wrapping_add((batch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
    }
}

/// A batch's ids, negatives and weights, refilled in place.
#[derive(Default)]
pub(super) struct BatchBuffer {
    pub(super) users: Vec<u32>,
    pub(super) positives: Vec<u32>,
    pub(super) negatives: Vec<u32>,
    pub(super) weights: Option<Vec<f32>>,
}

impl BatchBuffer {
    pub(super) fn fill(
        &mut self,
        train: &Interactions,
        rows: &[u32],
        sampler: &Sampler,
        batch: usize,
    ) {
        self.users.clear();
        self.positives.clear();
        self.negatives.clear();
        self.users
            .extend(rows.iter().map(|&r| train.users()[r as usize]));
        self.positives
            .extend(rows.iter().map(|&r| train.items()[r as usize]));
        let mut rng = sampler.rng(batch);
        let draws = rows.len() * sampler.negatives;
        match &sampler.pool {
            None => self
                .negatives
                .extend((0..draws).map(|_| rng.gen_range(0..sampler.num_items))),
            Some(pool) => self
                .negatives
                .extend((0..draws).map(|_| pool[rng.gen_range(0..pool.len())])),
        }
        self.weights = train.weights().map(|w| {
            let mut weights = self.weights.take().unwrap_or_default();
            weights.clear();
            weights.extend(rows.iter().map(|&r| w[r as usize]));
            weights
        });
    }

    pub(super) fn batch(&self) -> fused::Batch<'_> {
        fused::Batch {
            users: &self.users,
            positives: &self.positives,
            negatives: &self.negatives,
            weights: self.weights.as_deref(),
        }
    }
}

/// What a run of batches added up to, and the first batch (0-based) whose loss was not finite.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) total: f64,
    pub(super) count: usize,
    pub(super) non_finite: Option<(usize, f32)>,
}

impl Outcome {
    /// Records a batch of `rows` positives; `false` if its loss is not finite.
    pub(super) fn add(&mut self, batch: usize, value: f32, rows: usize) -> bool {
        if !value.is_finite() {
            self.non_finite = Some((batch, value));
            return false;
        }
        self.total += f64::from(value) * rows as f64;
        self.count += rows;
        true
    }

    pub(super) fn mean(&self) -> f64 {
        self.total / self.count.max(1) as f64
    }

    pub(super) fn merge(self, other: Outcome) -> Outcome {
        let non_finite = match (self.non_finite, other.non_finite) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        Outcome {
            total: self.total + other.total,
            count: self.count + other.count,
            non_finite,
        }
    }

    pub(super) fn into_result(self, epoch: usize) -> Result<(f64, usize), NetrexError> {
        match self.non_finite {
            Some((batch, value)) => Err(NetrexError::NonFiniteLoss {
                epoch,
                batch: batch + 1,
                value,
            }),
            None => Ok((self.total, self.count)),
        }
    }
}

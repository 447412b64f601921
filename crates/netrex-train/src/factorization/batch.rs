//! One batch's ids and negatives, and what a run of batches adds up to.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use netrex_data::Interactions;

use crate::engine::progress::Progress;
use crate::error::NetrexError;
use crate::factorization::fused;
use crate::optim::prefetch_lines;

/// Positives per unit of sampling and work when training one positive at a time.
pub(super) const PER_EXAMPLE_UNIT: usize = 1024;

/// How many swaps ahead [`shuffle_rows`] draws and prefetches the random slot it will touch:
/// over a million interactions the shuffled buffer is 8 MB, and each random access would
/// otherwise wait for memory in turn.
const AHEAD: usize = 16;

fn prefetch<T>(value: &T) {
    prefetch_lines((value as *const T).cast(), std::mem::size_of::<T>());
}

/// Fisher-Yates over `order` (and `also`, when given, with the same swaps), the same
/// permutation as `rand`'s `SliceRandom::shuffle` for the same generator state (the same
/// draws, `gen_range(0..i + 1)` for `i` from the end), with each swap's random slot drawn
/// [`AHEAD`] swaps early and prefetched.
pub(super) fn shuffle_rows<T, R: Rng + ?Sized>(
    order: &mut [T],
    mut also: Option<&mut [f32]>,
    rng: &mut R,
) {
    let mut drawn = [0u32; AHEAD];
    let mut i = order.len();
    while i > 1 {
        // swaps for i - 1, i - 2, ..., down to 1 at the most
        let block = (i - 1).min(AHEAD);
        for (k, slot) in drawn[..block].iter_mut().enumerate() {
            *slot = rng.gen_range(0..(i - k) as u32);
            prefetch(&order[*slot as usize]);
            if let Some(also) = also.as_deref() {
                prefetch(&also[*slot as usize]);
            }
        }
        for (k, &j) in drawn[..block].iter().enumerate() {
            order.swap(i - 1 - k, j as usize);
            if let Some(also) = also.as_deref_mut() {
                also.swap(i - 1 - k, j as usize);
            }
        }
        i -= block;
    }
}

/// An epoch's training examples in shuffled order: `(user, item)` pairs side by side, so
/// that reading a batch is sequential (gathering shuffled row numbers from the id columns
/// cost two random memory accesses per example), and their weights, if any.
pub(super) struct Shuffled {
    pairs: Vec<[u32; 2]>,
    weights: Option<Vec<f32>>,
}

impl Shuffled {
    /// `train`'s examples, shuffled as `rand`'s shuffle of its row numbers would order them.
    pub(super) fn new<R: Rng + ?Sized>(train: &Interactions, rng: &mut R) -> Self {
        let mut pairs: Vec<[u32; 2]> = train
            .users()
            .iter()
            .zip(train.items())
            .map(|(&u, &i)| [u, i])
            .collect();
        let mut weights = train.weights().map(<[f32]>::to_vec);
        shuffle_rows(&mut pairs, weights.as_deref_mut(), rng);
        Shuffled { pairs, weights }
    }

    /// Number of examples.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The examples cut into runs of `unit` (the last one shorter).
    pub(super) fn batches(&self, unit: usize) -> Vec<Rows<'_>> {
        runs(&self.pairs, self.weights.as_deref(), unit).collect()
    }
}

/// Examples `pairs` (with their `weights`, if any) cut into runs of `unit`, the last one
/// shorter.
pub(super) fn runs<'a>(
    pairs: &'a [[u32; 2]],
    weights: Option<&'a [f32]>,
    unit: usize,
) -> impl Iterator<Item = Rows<'a>> {
    let unit = unit.max(1);
    (0..pairs.len()).step_by(unit).map(move |start| {
        let end = (start + unit).min(pairs.len());
        Rows {
            pairs: &pairs[start..end],
            weights: weights.map(|w| &w[start..end]),
        }
    })
}

/// One batch's examples (a run of [`Shuffled`]).
#[derive(Clone, Copy)]
pub(super) struct Rows<'a> {
    pairs: &'a [[u32; 2]],
    weights: Option<&'a [f32]>,
}

impl Rows<'_> {
    /// Number of examples.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }
}

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
    pub(super) fn fill(&mut self, rows: Rows<'_>, sampler: &Sampler, batch: usize) {
        self.fill_with(rows, |negatives| {
            let mut rng = sampler.rng(batch);
            let draws = rows.len() * sampler.negatives;
            match &sampler.pool {
                None => negatives.extend((0..draws).map(|_| rng.gen_range(0..sampler.num_items))),
                Some(pool) => {
                    negatives.extend((0..draws).map(|_| pool[rng.gen_range(0..pool.len())]))
                }
            }
        });
    }

    /// The batch of `rows`, with the negatives `draw` appends to the (emptied) list.
    pub(super) fn fill_with(&mut self, rows: Rows<'_>, draw: impl FnOnce(&mut Vec<u32>)) {
        self.users.clear();
        self.positives.clear();
        self.negatives.clear();
        self.users.extend(rows.pairs.iter().map(|p| p[0]));
        self.positives.extend(rows.pairs.iter().map(|p| p[1]));
        draw(&mut self.negatives);
        self.weights = rows.weights.map(|w| {
            let mut weights = self.weights.take().unwrap_or_default();
            weights.clear();
            weights.extend_from_slice(w);
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

/// What an epoch trains on, shared by its three paths.
#[derive(Clone, Copy)]
pub(super) struct EpochPlan<'a> {
    /// The shuffled training examples, cut into batches (units of per-example SGD).
    pub(super) batches: &'a [Rows<'a>],
    pub(super) sampler: &'a Sampler,
    pub(super) progress: &'a Progress,
    /// The items per-example SGD copies per worker on two or more threads (see
    /// [`fused::hot_items::HotItems`]); empty otherwise.
    pub(super) hot_items: &'a [u32],
}

#[cfg(test)]
mod tests {
    use super::shuffle_rows;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;

    #[test]
    fn shuffle_rows_is_rands_shuffle() {
        for len in [0usize, 1, 2, 3, 16, 17, 18, 33, 1000, 4099] {
            for seed in 0..3 {
                let mut ours: Vec<u32> = (0..len as u32).collect();
                let mut weights: Vec<f32> = (0..len).map(|i| i as f32).collect();
                let mut theirs = ours.clone();
                let (mut a, mut b) = (StdRng::seed_from_u64(seed), StdRng::seed_from_u64(seed));
                shuffle_rows(&mut ours, Some(&mut weights), &mut a);
                theirs.shuffle(&mut b);
                assert_eq!(ours, theirs, "len {len}, seed {seed}");
                let moved: Vec<u32> = weights.iter().map(|&w| w as u32).collect();
                assert_eq!(moved, theirs, "weights move with their rows");
                // and the generators end in the same state
                assert_eq!(rand::Rng::gen::<u64>(&mut a), rand::Rng::gen::<u64>(&mut b));
            }
        }
    }
}

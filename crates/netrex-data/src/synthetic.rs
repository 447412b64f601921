//! Seeded synthetic data: the talk's sanity set, a Spotlight-style Markov chain, and a
//! Zipf-popularity generator for benchmarks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma};

use crate::error::{DataError, Result};
use crate::interactions::Interactions;

/// The talk's sanity set: `rows` users, each with items `0, 1, .., length - 1` in that order.
///
/// A sequence model that learns anything should predict item `t` after item `t - 1` almost
/// perfectly; a popularity model cannot.
pub fn tiled(rows: usize, length: usize) -> Result<Interactions> {
    if rows == 0 || length == 0 {
        return Err(DataError::param("rows, length", "must both be at least 1"));
    }
    let users = (0..rows)
        .flat_map(|u| std::iter::repeat_n(u as u32, length))
        .collect();
    let items = (0..rows).flat_map(|_| 0..length as u32).collect();
    let timestamps = (0..rows).flat_map(|_| 0..length as i64).collect();
    Interactions::new(users, items, rows, length)?.with_timestamps(timestamps)
}

/// Parameters of [`markov`], with Spotlight's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkovConfig {
    /// Number of users.
    pub num_users: usize,
    /// Number of items (chain states).
    pub num_items: usize,
    /// Length of the chain, shared out among users.
    pub num_interactions: usize,
    /// Dirichlet concentration of each transition row: near 0, predictable; large, random.
    pub concentration: f64,
    /// Order of the chain: the next item depends on the last `order` items.
    pub order: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for MarkovConfig {
    fn default() -> Self {
        MarkovConfig {
            num_users: 100,
            num_items: 1000,
            num_interactions: 10_000,
            concentration: 0.1,
            order: 3,
            seed: 0,
        }
    }
}

/// One Dirichlet(alpha, .., alpha) row, stable for tiny alpha: Gamma(alpha) is sampled in log
/// space as Gamma(alpha + 1) * U^(1/alpha), which would underflow to zero if exponentiated
/// before normalising.
fn dirichlet_row(n: usize, alpha: f64, rng: &mut StdRng) -> Vec<f64> {
    let gamma = Gamma::new(alpha + 1.0, 1.0).expect("alpha + 1 > 0 is a valid shape");
    let logs: Vec<f64> = (0..n)
        .map(|_| {
            let g: f64 = gamma.sample(rng);
            let u: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
            g.ln() + u.ln() / alpha
        })
        .collect();
    let max = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logs.iter().map(|&l| (l - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The most items [`markov`] takes: its dense transition matrix then holds 100M entries
/// (800 MB).
pub const MARKOV_MAX_ITEMS: usize = 10_000;

/// Spotlight's `generate_sequential`: a chain over a doubly-stochastic transition matrix
/// (Dirichlet rows balanced by Sinkhorn iterations), where the next item's distribution is the
/// mean of the rows of the last `order` items. User ids are drawn uniformly and sorted, so each
/// user gets a contiguous stretch of the chain; timestamps are the chain positions.
pub fn markov(config: &MarkovConfig) -> Result<Interactions> {
    let MarkovConfig {
        num_users,
        num_items,
        num_interactions,
        concentration,
        order,
        seed,
    } = *config;
    if num_users == 0 || num_items == 0 || num_interactions == 0 || order == 0 {
        return Err(DataError::param(
            "num_users, num_items, num_interactions, order",
            "must all be at least 1",
        ));
    }
    if !(concentration.is_finite() && concentration > 0.0) {
        return Err(DataError::param(
            "concentration",
            format!("{concentration} must be > 0"),
        ));
    }
    // the transition matrix is num_items^2 f64s, balanced in up to 100 sweeps
    if num_items > MARKOV_MAX_ITEMS {
        return Err(DataError::param(
            "num_items",
            format!(
                "{num_items} is more than the {MARKOV_MAX_ITEMS} items a Markov chain is drawn for (its \
                 transition matrix has num_items^2 entries): generate larger catalogs with the \
                 library's `netrex_data::synthetic::zipf`, or read them from a CSV"
            ),
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let n = num_items;
    let mut matrix: Vec<f64> = (0..n)
        .flat_map(|_| dirichlet_row(n, concentration, &mut rng))
        .collect();
    for _ in 0..100 {
        let col_sums: Vec<f64> = (0..n)
            .map(|j| (0..n).map(|i| matrix[i * n + j]).sum())
            .collect();
        let row_sums: Vec<f64> = (0..n)
            .map(|i| matrix[i * n..(i + 1) * n].iter().sum())
            .collect();
        if col_sums
            .iter()
            .chain(&row_sums)
            .all(|s| (1.0 - s).abs() < 1e-3)
        {
            break;
        }
        for i in 0..n {
            for j in 0..n {
                matrix[i * n + j] /= col_sums[j].max(f64::MIN_POSITIVE);
            }
        }
        for i in 0..n {
            let s: f64 = matrix[i * n..(i + 1) * n]
                .iter()
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
            matrix[i * n..(i + 1) * n].iter_mut().for_each(|v| *v /= s);
        }
    }
    // cumulative rows, so a uniform draw picks a state by binary search
    for i in 0..n {
        let mut acc = 0.0;
        for j in 0..n {
            acc += matrix[i * n + j];
            matrix[i * n + j] = acc;
        }
    }
    let mut users: Vec<u32> = (0..num_interactions)
        .map(|_| rng.gen_range(0..num_users) as u32)
        .collect();
    users.sort_unstable();
    let mut state: Vec<usize> = (0..order).map(|_| rng.gen_range(0..n)).collect();
    let mut items = Vec::with_capacity(num_interactions);
    let mut row = vec![0.0f64; n];
    for _ in 0..num_interactions {
        let rv: f64 = rng.gen();
        row.iter_mut().for_each(|v| *v = 0.0);
        for &s in &state {
            for (r, m) in row.iter_mut().zip(&matrix[s * n..(s + 1) * n]) {
                *r += m / order as f64;
            }
        }
        let next = row.partition_point(|&c| c < rv).min(n - 1);
        state.rotate_left(1);
        state[order - 1] = next;
        items.push(next as u32);
    }
    let timestamps = (0..num_interactions as i64).collect();
    Interactions::new(users, items, num_users, num_items)?.with_timestamps(timestamps)
}

/// Parameters of [`zipf`].
#[derive(Clone, Debug, PartialEq)]
pub struct ZipfConfig {
    /// Number of users (drawn uniformly).
    pub num_users: usize,
    /// Number of items (drawn with Zipf popularity).
    pub num_items: usize,
    /// Number of interactions.
    pub num_interactions: usize,
    /// Zipf exponent: the item of popularity rank r is drawn with weight 1 / r^exponent.
    pub exponent: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for ZipfConfig {
    /// The benchmark set of the speed issue: 1M interactions, 50k users, 20k items.
    fn default() -> Self {
        ZipfConfig {
            num_users: 50_000,
            num_items: 20_000,
            num_interactions: 1_000_000,
            exponent: 1.0,
            seed: 0,
        }
    }
}

/// Implicit interactions with Zipf item popularity, for benchmarks at any size (20M rows take
/// about 160 MB). Popularity ranks are assigned to item ids by a seeded shuffle, so popular
/// items are not simply the low ids.
pub fn zipf(config: &ZipfConfig) -> Result<Interactions> {
    let ZipfConfig {
        num_users,
        num_items,
        num_interactions,
        exponent,
        seed,
    } = *config;
    if num_users == 0 || num_items == 0 || num_interactions == 0 {
        return Err(DataError::param(
            "num_users, num_items, num_interactions",
            "must all be at least 1",
        ));
    }
    if !(exponent.is_finite() && exponent >= 0.0) {
        return Err(DataError::param(
            "exponent",
            format!("{exponent} must be >= 0"),
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cumulative = Vec::with_capacity(num_items);
    let mut acc = 0.0f64;
    for rank in 1..=num_items {
        acc += (rank as f64).powf(-exponent);
        cumulative.push(acc);
    }
    let mut ids: Vec<u32> = (0..num_items as u32).collect();
    rand::seq::SliceRandom::shuffle(ids.as_mut_slice(), &mut rng);
    let mut users = Vec::with_capacity(num_interactions);
    let mut items = Vec::with_capacity(num_interactions);
    for _ in 0..num_interactions {
        users.push(rng.gen_range(0..num_users as u32));
        let x = rng.gen::<f64>() * acc;
        let rank = cumulative.partition_point(|&c| c < x).min(num_items - 1);
        items.push(ids[rank]);
    }
    let timestamps = (0..num_interactions as i64).collect();
    Interactions::new(users, items, num_users, num_items)?.with_timestamps(timestamps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_shape() {
        let t = tiled(3, 4).unwrap();
        assert_eq!(t.len(), 12);
        assert_eq!(t.histories().get(2), &[0, 1, 2, 3]);
    }

    #[test]
    fn markov_is_seeded_and_predictable_at_low_concentration() {
        let c = MarkovConfig {
            num_users: 10,
            num_items: 20,
            num_interactions: 2000,
            concentration: 1e-3,
            order: 1,
            seed: 3,
        };
        let a = markov(&c).unwrap();
        assert_eq!(a, markov(&c).unwrap());
        // with order 1 and near-deterministic rows, the most common successor of each item
        // accounts for most transitions
        let items = a.items();
        let mut counts = vec![vec![0usize; 20]; 20];
        for w in items.windows(2) {
            counts[w[0] as usize][w[1] as usize] += 1;
        }
        let top: usize = counts.iter().map(|r| *r.iter().max().unwrap()).sum();
        assert!(top as f64 > 0.8 * (items.len() - 1) as f64, "top {top}");
    }

    #[test]
    fn markov_refuses_a_catalog_whose_matrix_would_not_fit() {
        let c = MarkovConfig {
            num_users: 10,
            num_items: MARKOV_MAX_ITEMS + 1,
            num_interactions: 100,
            concentration: 1e-3,
            order: 1,
            seed: 0,
        };
        // an error at once, before num_items^2 entries are allocated
        let err = markov(&c).unwrap_err();
        assert!(matches!(err, DataError::InvalidParameter { .. }), "{err}");
        assert!(err.to_string().contains("num_items"), "{err}");
    }

    #[test]
    fn zipf_is_skewed() {
        let z = zipf(&ZipfConfig {
            num_users: 100,
            num_items: 1000,
            num_interactions: 20_000,
            exponent: 1.0,
            seed: 1,
        })
        .unwrap();
        let mut counts = z.item_counts();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        assert!(counts[0] > 10 * counts[100].max(1));
    }
}

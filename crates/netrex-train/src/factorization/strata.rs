//! Per-example SGD on `W >= 2` threads in strata (DSGD, Gemulla et al. 2011): users and
//! items are cut into `W` blocks each, and an epoch runs `W` rounds; in round `s` worker `w`
//! trains the examples of user block `w` and item block `(w + s) mod W`, drawing its
//! negatives from that item block. The workers of a round touch disjoint rows, so a popular
//! row's cache lines no longer move between cores at every step (Hogwild workers that share
//! Zipf-popular rows went slower on two cores than on one, `row_bandwidth`; only lines that
//! hold neighbouring rows or biases of two blocks are still shared), each worker steps its
//! rows in place, and the result does not depend on timing: same seed and thread count, same
//! model.
//!
//! What it changes: a positive is contrasted with negatives of its own item block. The item
//! blocks are drawn again every epoch (balanced by the items' positive counts), so over epochs
//! every item meets every other.

use rand::rngs::{SmallRng, StdRng};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use netrex_data::Interactions;

use super::batch::{runs, shuffle_rows, Rows};

/// The training data's examples cut into `workers x workers` cells, and each item block's
/// negatives.
///
/// Made once for a set of training data (the blocks from a stream of the model's seed alone):
/// cutting a million examples into cells took an eighth of a two-thread epoch. Each epoch's cells are
/// the same examples, shuffled afresh from the data's order, so an epoch's order depends on
/// its seed only (a resumed run trains as an uninterrupted one).
pub(super) struct Strata {
    workers: usize,
    /// Examples by cell (`user block * workers + item block`), cell `c` in
    /// `order[starts[c]..starts[c + 1]]`, each cell in the training data's order.
    order: Vec<[u32; 2]>,
    order_weights: Option<Vec<f32>>,
    /// The [`fingerprint`] of the data the cells were cut from.
    cut_from: u64,
    /// The epoch's copy of `order`, which [`Cell::shuffle`] shuffles cell by cell.
    pairs: Vec<[u32; 2]>,
    weights: Option<Vec<f32>>,
    starts: Vec<usize>,
    /// Item block -> the items its negatives are drawn from.
    negatives: Vec<Vec<u32>>,
    seed: u64,
}

/// One cell of a round: the examples a worker trains and where its negatives come from.
pub(super) struct Cell<'a> {
    /// Index of the cell among all of them (for seeds and error positions).
    pub(super) index: usize,
    /// Where the cell's first example is among the epoch's examples.
    pub(super) offset: usize,
    pub(super) pairs: &'a mut [[u32; 2]],
    pub(super) weights: Option<&'a mut [f32]>,
    /// The cell's examples (and weights) in the data's order.
    order: &'a [[u32; 2]],
    order_weights: Option<&'a [f32]>,
    pub(super) negatives: &'a [u32],
}

impl Cell<'_> {
    /// Puts the cell's examples in the data's order, then shuffles them with a stream of its
    /// own.
    pub(super) fn shuffle(&mut self, seed: u64) {
        self.pairs.copy_from_slice(self.order);
        if let (Some(weights), Some(order)) = (self.weights.as_deref_mut(), self.order_weights) {
            weights.copy_from_slice(order);
        }
        let mut rng = cell_rng(seed, self.index, 0);
        shuffle_rows(self.pairs, self.weights.as_deref_mut(), &mut rng);
    }

    /// The shuffled examples in runs of `unit`.
    pub(super) fn units(&self, unit: usize) -> impl Iterator<Item = Rows<'_>> {
        runs(self.pairs, self.weights.as_deref(), unit)
    }

    /// Appends `count` negatives for unit `u` of the cell to `out`.
    pub(super) fn draw_negatives(&self, seed: u64, u: usize, count: usize, out: &mut Vec<u32>) {
        let mut rng = cell_rng(seed, self.index, u + 1);
        let pool = self.negatives;
        out.extend((0..count).map(|_| pool[rng.gen_range(0..pool.len())]));
    }
}

/// A generator of its own for draw `k` of cell `cell`: a small fast one (xoshiro), since a
/// cell's shuffle and negatives take one draw per example each, inside the workers' time.
fn cell_rng(seed: u64, cell: usize, k: usize) -> SmallRng {
    let stream = (cell as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    SmallRng::seed_from_u64(seed ^ stream)
}

impl Strata {
    /// `train`'s examples in cells for `workers` workers, with item blocks drawn from `rng`;
    /// negatives from `pool` (else every item of the block). `None` when some item block would
    /// have no negative to draw (a catalog or pool smaller than the workers), where the caller
    /// trains without strata. [`reseed`](Self::reseed) before each epoch.
    pub(super) fn new(
        train: &Interactions,
        num_items: usize,
        workers: usize,
        pool: Option<&[u32]>,
        rng: &mut StdRng,
    ) -> Option<Self> {
        let w = workers.max(1);
        let (user_counts, item_counts) = counts(train, num_items);
        let item_block = item_blocks(&item_counts, w, rng);
        let user_starts = user_starts(&user_counts, w);
        let mut negatives = vec![Vec::new(); w];
        match pool {
            Some(pool) => pool.iter().for_each(|&i| {
                if let Some(&b) = item_block.get(i as usize) {
                    negatives[b as usize].push(i);
                }
            }),
            None => (0..num_items as u32)
                .for_each(|i| negatives[item_block[i as usize] as usize].push(i)),
        }
        if negatives.iter().any(Vec::is_empty) {
            return None;
        }
        // each user's block in a table: a search among the blocks' starts branches on every
        // example, at random (half the epoch's partitioning time went to those branches)
        let user_block: Vec<u32> = (0..user_counts.len() as u32)
            .map(|u| user_starts.partition_point(|&s| s <= u).saturating_sub(1) as u32)
            .collect();
        let cell_of = |u: u32, i: u32| -> usize {
            let block = |table: &[u32], id: u32| table.get(id as usize).map_or(0, |&b| b as usize);
            block(&user_block, u) * w + block(&item_block, i)
        };
        let (order, order_weights, starts) = partition(train, w * w, cell_of);
        // every value is copied from `order` by the cells' shuffles
        let pairs = vec![[0, 0]; order.len()];
        let weights = order_weights.as_ref().map(|o| vec![0.0; o.len()]);
        Some(Strata {
            workers: w,
            order,
            order_weights,
            cut_from: fingerprint(train),
            pairs,
            weights,
            starts,
            negatives,
            seed: 0,
        })
    }

    /// The [`fingerprint`] of the data the cells were cut from.
    pub(super) fn cut_from(&self) -> u64 {
        self.cut_from
    }

    /// Sets the seed of the next epoch's shuffles and negatives.
    pub(super) fn reseed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Number of workers the cells are cut for.
    pub(super) fn workers(&self) -> usize {
        self.workers
    }

    /// The seed the cells' shuffles and negatives derive from.
    pub(super) fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of examples.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The cells, round by round: round `s` holds worker `w`'s cell (user block `w`, item
    /// block `(w + s) mod W`) at place `w`.
    pub(super) fn rounds(&mut self) -> Vec<Vec<Cell<'_>>> {
        let w = self.workers;
        let mut cells: Vec<Option<Cell<'_>>> = Vec::with_capacity(w * w);
        let (mut pairs, mut weights) = (&mut self.pairs[..], self.weights.as_deref_mut());
        for c in 0..w * w {
            let (start, end) = (self.starts[c], self.starts[c + 1]);
            let (head, rest) = std::mem::take(&mut pairs).split_at_mut(end - start);
            pairs = rest;
            let head_weights = weights.take().map(|ws| {
                let (h, r) = ws.split_at_mut(end - start);
                weights = Some(r);
                h
            });
            cells.push(Some(Cell {
                index: c,
                offset: start,
                pairs: head,
                weights: head_weights,
                order: &self.order[start..end],
                order_weights: self.order_weights.as_ref().map(|o| &o[start..end]),
                negatives: &self.negatives[c % w],
            }));
        }
        (0..w)
            .map(|s| {
                (0..w)
                    .map(|worker| {
                        let c = worker * w + (worker + s) % w;
                        cells[c].take().expect("each cell is in one round")
                    })
                    .collect()
            })
            .collect()
    }
}

/// A 64-bit digest of `train` (its shape, examples and weights), telling whether strata cut
/// from some data may serve for `train`.
pub(super) fn fingerprint(train: &Interactions) -> u64 {
    let mut digest = 0x243F_6A88_85A3_08D3u64;
    let mut mix = |v: u64| {
        digest = (digest ^ v)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29)
    };
    mix(train.len() as u64);
    mix(train.num_users() as u64);
    mix(train.num_items() as u64);
    for (&u, &i) in train.users().iter().zip(train.items()) {
        mix((u64::from(u) << 32) | u64::from(i));
    }
    for &w in train.weights().unwrap_or(&[]) {
        mix(u64::from(w.to_bits()));
    }
    mix(u64::from(train.weights().is_some()));
    digest
}

/// How many examples of `train` each user and each item has (one pass, cut among the pool's
/// threads).
fn counts(train: &Interactions, num_items: usize) -> (Vec<u32>, Vec<u32>) {
    let (users, items, num_users) = (train.users(), train.items(), train.num_users());
    let size = users
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    users
        .par_chunks(size)
        .zip(items.par_chunks(size))
        .map(|(us, is)| {
            let (mut by_user, mut by_item) = (vec![0u32; num_users], vec![0u32; num_items]);
            for (&u, &i) in us.iter().zip(is) {
                if let Some(c) = by_user.get_mut(u as usize) {
                    *c += 1;
                }
                if let Some(c) = by_item.get_mut(i as usize) {
                    *c += 1;
                }
            }
            (by_user, by_item)
        })
        .reduce(
            || (vec![0u32; num_users], vec![0u32; num_items]),
            |(mut a, mut b), (c, d)| {
                a.iter_mut().zip(&c).for_each(|(x, y)| *x += y);
                b.iter_mut().zip(&d).for_each(|(x, y)| *x += y);
                (a, b)
            },
        )
}

/// The first user of each of `w` blocks of consecutive users (block 0 starts at 0) holding
/// about the same number of examples. Consecutive, because 16 user biases share a cache line,
/// and a line that two workers write moves between their cores at every write.
fn user_starts(counts: &[u32], w: usize) -> Vec<u32> {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let mut starts = vec![0u32];
    let mut sum = 0u64;
    for (u, &c) in counts.iter().enumerate() {
        // block b starts at the first user past b / w of the examples
        while starts.len() < w && u > 0 && sum * w as u64 >= starts.len() as u64 * total {
            starts.push(u as u32);
        }
        sum += u64::from(c);
    }
    while starts.len() < w {
        starts.push(counts.len() as u32);
    }
    starts
}

/// Item id -> block, for `w` blocks with about the same number of positives each: the items
/// from the most positives (`item_counts`) to the fewest, ties in an order drawn from `rng`,
/// each dealt to the block that holds the fewest positives so far. Under Zipf popularity the
/// first item alone can be a tenth of the positives, which dealing in a fixed or random
/// order would leave as the difference between the blocks (and the workers' waits).
fn item_blocks(item_counts: &[u32], w: usize, rng: &mut StdRng) -> Vec<u32> {
    let mut order: Vec<(u32, u32)> = (0..item_counts.len() as u32)
        .map(|i| (i, rng.gen()))
        .collect();
    order.sort_unstable_by_key(|&(i, key)| (std::cmp::Reverse(item_counts[i as usize]), key, i));
    let mut block = vec![0u32; item_counts.len()];
    let mut load = vec![0u64; w];
    for (i, _) in order {
        let b = (0..w).min_by_key(|&b| (load[b], b)).unwrap_or(0);
        block[i as usize] = b as u32;
        load[b] += u64::from(item_counts[i as usize]);
    }
    block
}

/// `train`'s examples (and weights) grouped by `cell_of(user, item)` (below `cells`), in the
/// data's order within each cell, with each cell's start (and the end, last). Two passes over
/// the data, each cut among the pool's threads.
#[allow(clippy::type_complexity)]
fn partition(
    train: &Interactions,
    cells: usize,
    cell_of: impl Fn(u32, u32) -> usize + Sync,
) -> (Vec<[u32; 2]>, Option<Vec<f32>>, Vec<usize>) {
    let (users, items, weights) = (train.users(), train.items(), train.weights());
    let n = users.len();
    let chunks = rayon::current_num_threads().max(1);
    let size = n.div_ceil(chunks).max(1);
    let ranges: Vec<(usize, usize)> = (0..n)
        .step_by(size)
        .map(|s| (s, (s + size).min(n)))
        .collect();
    // each chunk's count per cell
    let counts: Vec<Vec<usize>> = ranges
        .par_iter()
        .map(|&(s, e)| {
            let mut count = vec![0usize; cells];
            for k in s..e {
                count[cell_of(users[k], items[k])] += 1;
            }
            count
        })
        .collect();
    // where each chunk writes each cell: cells in order, chunks in order within a cell
    let mut starts = vec![0usize; cells + 1];
    let mut at: Vec<Vec<usize>> = vec![vec![0; cells]; ranges.len()];
    let mut next = 0;
    for c in 0..cells {
        starts[c] = next;
        for (chunk, count) in counts.iter().enumerate() {
            at[chunk][c] = next;
            next += count[c];
        }
    }
    starts[cells] = next;
    let mut pairs = vec![[0, 0]; n];
    let mut out_weights = weights.map(|_| vec![0f32; n]);
    {
        // every (chunk, cell) writes its own run of the output
        let pairs_at = SharedOut(pairs.as_mut_ptr());
        let weights_at = SharedOut(
            out_weights
                .as_mut()
                .map_or(std::ptr::null_mut(), |w| w.as_mut_ptr()),
        );
        ranges.par_iter().zip(at).for_each(|(&(s, e), mut at)| {
            for k in s..e {
                let c = cell_of(users[k], items[k]);
                let to = at[c];
                at[c] += 1;
                // SAFETY: `to` is in this chunk's run of cell `c` (the runs are disjoint and
                // within `n`, from the counts above); no other thread writes it
                unsafe { pairs_at.write(to, [users[k], items[k]]) };
                if let Some(w) = weights {
                    // SAFETY: as above; the weights' buffer has `n` values when `weights` is
                    // there
                    unsafe { weights_at.write(to, w[k]) };
                }
            }
        });
    }
    (pairs, out_weights, starts)
}

/// A buffer that the chunks of [`partition`] write at disjoint places.
#[derive(Clone, Copy)]
struct SharedOut<T>(*mut T);

// SAFETY: the threads of `partition` write disjoint elements only (see its comments)
unsafe impl<T: Send> Send for SharedOut<T> {}
// SAFETY: as above
unsafe impl<T: Send> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// # Safety
    /// `at` must be within the buffer and written by no other thread.
    unsafe fn write(self, at: usize, value: T) {
        // SAFETY: the caller's contract
        unsafe { self.0.add(at).write(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Interactions {
        let (mut users, mut items) = (Vec::new(), Vec::new());
        for u in 0..50u32 {
            for i in 0..(u % 7 + 3) {
                users.push(u);
                items.push((u * 3 + i * i) % 40);
            }
        }
        Interactions::new(users, items, 50, 40).unwrap()
    }

    #[test]
    fn cells_hold_every_example_once_and_rounds_share_no_row() {
        let train = data();
        for w in [2usize, 3] {
            let mut rng = StdRng::seed_from_u64(7);
            let mut strata = Strata::new(&train, 40, w, None, &mut rng).unwrap();
            assert_eq!(strata.len(), train.len());
            let mut seen: Vec<[u32; 2]> = Vec::new();
            let mut rounds = strata.rounds();
            assert_eq!(rounds.len(), w);
            for round in &mut rounds {
                // (user or item, worker) of every row a cell of the round touches
                let (mut users, mut items) = (Vec::new(), Vec::new());
                for (worker, cell) in round.iter_mut().enumerate() {
                    cell.shuffle(1);
                    for p in cell.pairs.iter() {
                        users.push((p[0], worker));
                        items.push((p[1], worker));
                    }
                    items.extend(cell.negatives.iter().map(|&n| (n, worker)));
                    seen.extend(cell.pairs.iter());
                }
                for (kind, rows) in [("user", users), ("item", items)] {
                    let mut owner = std::collections::HashMap::new();
                    for (id, worker) in rows {
                        let first = *owner.entry(id).or_insert(worker);
                        assert_eq!(first, worker, "{kind} {id} in two cells of a round");
                    }
                }
            }
            // every worker has examples: the blocks are balanced
            assert!(rounds[0].iter().all(|cell| !cell.pairs.is_empty()));
            let mut expected: Vec<[u32; 2]> = train
                .users()
                .iter()
                .zip(train.items())
                .map(|(&u, &i)| [u, i])
                .collect();
            expected.sort_unstable();
            seen.sort_unstable();
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn an_epochs_order_depends_on_its_seed_alone() {
        let train = data();
        let mut rng = StdRng::seed_from_u64(7);
        let mut strata = Strata::new(&train, 40, 2, None, &mut rng).unwrap();
        let mut epoch = |seed: u64| -> Vec<[u32; 2]> {
            strata.reseed(seed);
            let mut rounds = strata.rounds();
            let mut order = Vec::new();
            for cell in rounds.iter_mut().flatten() {
                cell.shuffle(seed);
                order.extend(cell.pairs.iter().copied());
            }
            order
        };
        let first = epoch(3);
        let other = epoch(4);
        assert_ne!(first, other, "another seed, another order");
        let mut sorted = [first.clone(), other];
        sorted.iter_mut().for_each(|o| o.sort_unstable());
        assert_eq!(sorted[0], sorted[1], "the same examples");
        // seed 3 again, after seed 4's epoch: the order of the first time (a resumed run's
        // epoch is the uninterrupted one's)
        assert_eq!(epoch(3), first);
    }

    #[test]
    fn blocks_are_balanced_by_count() {
        // Zipf counts: item i has 1000 / (i + 1) positives, the first 13% of them
        let counts: Vec<u32> = (0..100u32).map(|i| 1000 / (i + 1)).collect();
        let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        for w in [2usize, 3] {
            let mut rng = StdRng::seed_from_u64(3);
            let block = item_blocks(&counts, w, &mut rng);
            let mut load = vec![0u64; w];
            for (i, &b) in block.iter().enumerate() {
                load[b as usize] += u64::from(counts[i]);
            }
            let (lo, hi) = (load.iter().min().unwrap(), load.iter().max().unwrap());
            // within the smallest count's worth of each other
            assert!(hi - lo <= 10, "items, {w} blocks: {load:?} of {total}");
            let starts = user_starts(&counts, w);
            assert_eq!(starts.len(), w);
            assert_eq!(starts[0], 0);
            let ends = starts[1..].iter().copied().chain([counts.len() as u32]);
            let sums: Vec<u64> = starts
                .iter()
                .zip(ends)
                .map(|(&s, e)| {
                    counts[s as usize..e as usize]
                        .iter()
                        .map(|&c| u64::from(c))
                        .sum()
                })
                .collect();
            // consecutive users: the first one alone is 1000 of the total
            assert!(sums.iter().all(|&s| s > 0), "users, {w} blocks: {sums:?}");
            assert_eq!(sums.iter().sum::<u64>(), total);
        }
    }

    #[test]
    fn a_pool_smaller_than_the_workers_gives_no_strata() {
        let train = data();
        let mut rng = StdRng::seed_from_u64(1);
        assert!(Strata::new(&train, 40, 2, Some(&[3]), &mut rng).is_none());
    }
}

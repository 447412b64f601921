//! The item rows a Hogwild worker of per-example SGD keeps copies of: the most frequent items,
//! merged back into the shared table every few units, so that workers do not fight over the
//! cache lines of popular rows.

use super::*;

/// Bytes of item rows each Hogwild worker keeps copies of (see [`HotItems`]): 256 rows at
/// dim 64, well inside a core's L2.
pub(crate) const HOT_ITEM_BYTES: usize = 64 << 10;

/// Units of per-example SGD between two merges of a worker's [`HotItems`].
pub(crate) const MERGE_EVERY: usize = 4;

/// The ids of the items `items` (one per training positive, below `num_items`) names most
/// often, as many as [`HOT_ITEM_BYTES`] of rows of `dim` hold.
pub(crate) fn hot_item_ids(items: &[u32], num_items: usize, dim: usize) -> Vec<u32> {
    let mut counts = vec![0u32; num_items];
    for &i in items {
        if let Some(c) = counts.get_mut(i as usize) {
            *c += 1;
        }
    }
    let mut ids: Vec<u32> = (0..num_items as u32)
        .filter(|&i| counts[i as usize] > 1)
        .collect();
    // ties by id, so that the choice does not depend on the sort
    ids.sort_unstable_by_key(|&i| (std::cmp::Reverse(counts[i as usize]), i));
    ids.truncate(HOT_ITEM_BYTES / (dim.max(1) * 4));
    ids
}

/// Item id -> its slot in `ids` plus one (0 for the items not in `ids`), over `num_items` ids:
/// what [`HotItems`] looks ids up in.
pub(crate) fn hot_item_slots(ids: &[u32], num_items: usize) -> Vec<u32> {
    let mut slots = vec![0u32; num_items];
    for (s, &id) in ids.iter().enumerate() {
        slots[id as usize] = s as u32 + 1;
    }
    slots
}

/// A Hogwild worker's own copies of the most-trained item rows and biases, for per-example SGD
/// on two or more threads. Under Zipf popularity a few items take most positives, and two
/// workers writing the same rows pass their cache lines back and forth at every step
/// (`row_bandwidth 64 4000000 2`: Zipf rows updated on one shared table go slower on two
/// workers than on one, on a copy each 1.9x faster). A worker steps its copies and, every
/// [`MERGE_EVERY`] units, adds its change since the last merge into the shared tables and
/// takes theirs (the other workers' changes included).
pub(crate) struct HotItems<'a> {
    /// Item id -> slot + 1 (0: no copy), shared by the workers.
    slots: &'a [u32],
    /// Slot -> item id.
    ids: &'a [u32],
    dim: usize,
    pub(super) rows: Vec<f32>,
    /// The rows as of the last merge.
    base: Vec<f32>,
    pub(super) bias: Vec<f32>,
    base_bias: Vec<f32>,
}

impl<'a> HotItems<'a> {
    /// Copies of rows `ids` of `item` and `item_bias`; `slots` maps every item id to its slot
    /// in `ids` plus one, or 0.
    pub(crate) fn new<S: RowStore>(
        slots: &'a [u32],
        ids: &'a [u32],
        item: &S,
        item_bias: &S,
    ) -> Self {
        let dim = item.cols();
        let mut hot = HotItems {
            slots,
            ids,
            dim,
            rows: vec![0.0; ids.len() * dim],
            base: vec![0.0; ids.len() * dim],
            bias: vec![0.0; ids.len()],
            base_bias: vec![0.0; ids.len()],
        };
        for (s, &id) in ids.iter().enumerate() {
            item.read(id as usize, &mut hot.rows[s * dim..(s + 1) * dim]);
            item_bias.read(id as usize, &mut hot.bias[s..s + 1]);
        }
        hot.base.copy_from_slice(&hot.rows);
        hot.base_bias.copy_from_slice(&hot.bias);
        hot
    }

    #[inline]
    pub(super) fn slot(&self, id: u32) -> Option<usize> {
        match self.slots.get(id as usize) {
            Some(&s) if s > 0 => Some(s as usize - 1),
            _ => None,
        }
    }

    /// Adds this worker's change since the last merge into `item` and `item_bias`, and takes
    /// their rows as the new copies. Two workers merging one row at the same instant can lose
    /// one's change to it, as Hogwild's own writes can.
    pub(crate) fn merge<S: RowStore>(&mut self, item: &S, item_bias: &S) {
        let dim = self.dim;
        let mut now = vec![0.0f32; dim];
        for (s, &id) in self.ids.iter().enumerate() {
            if let Some(&next) = self.ids.get(s + PREFETCH_AHEAD) {
                item.prefetch(next as usize);
            }
            let id = id as usize;
            let row = &mut self.rows[s * dim..(s + 1) * dim];
            let base = &mut self.base[s * dim..(s + 1) * dim];
            item.read(id, &mut now);
            for ((n, r), b) in now.iter_mut().zip(row.iter()).zip(base.iter()) {
                *n += r - b;
            }
            item.write(id, &now);
            row.copy_from_slice(&now);
            base.copy_from_slice(&now);
            let mut bias = [0.0f32];
            item_bias.read(id, &mut bias);
            bias[0] += self.bias[s] - self.base_bias[s];
            item_bias.write(id, &bias);
            self.bias[s] = bias[0];
            self.base_bias[s] = bias[0];
        }
    }
}

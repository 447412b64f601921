//! The user x item matrix as the linear models read it: each user's distinct items, sorted.

use netrex_data::Interactions;

/// Each user's distinct items in increasing order (a binary CSR matrix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserItems {
    offsets: Vec<usize>,
    items: Vec<u32>,
    num_items: usize,
}

impl UserItems {
    /// The distinct (user, item) pairs of `data`; repeated pairs count once.
    pub fn of(data: &Interactions) -> Self {
        let lists = data.histories();
        let mut offsets = Vec::with_capacity(data.num_users() + 1);
        let mut items = Vec::with_capacity(data.len());
        offsets.push(0);
        for (_, row) in lists.iter() {
            let start = items.len();
            items.extend_from_slice(row);
            items[start..].sort_unstable();
            let mut kept = start;
            for k in start..items.len() {
                if k == start || items[k] != items[kept - 1] {
                    items[kept] = items[k];
                    kept += 1;
                }
            }
            items.truncate(kept);
            offsets.push(items.len());
        }
        // users with no interactions after the last one that has any
        offsets.resize(data.num_users() + 1, items.len());
        UserItems {
            offsets,
            items,
            num_items: data.num_items(),
        }
    }

    /// Builds the matrix from its parts, checking them.
    pub fn from_parts(offsets: Vec<usize>, items: Vec<u32>, num_items: usize) -> Option<Self> {
        let sorted = offsets.windows(2).all(|w| w[0] <= w[1]);
        let ends = offsets.first() == Some(&0) && offsets.last() == Some(&items.len());
        let in_range = items.iter().all(|&i| (i as usize) < num_items);
        (sorted && ends && in_range).then_some(UserItems {
            offsets,
            items,
            num_items,
        })
    }

    /// Number of users (rows).
    pub fn num_users(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of items (columns).
    pub fn num_items(&self) -> usize {
        self.num_items
    }

    /// Number of stored (user, item) pairs.
    pub fn nnz(&self) -> usize {
        self.items.len()
    }

    /// `user`'s items (empty for a user beyond the matrix).
    pub fn get(&self, user: usize) -> &[u32] {
        match (self.offsets.get(user), self.offsets.get(user + 1)) {
            (Some(&a), Some(&b)) => &self.items[a..b],
            _ => &[],
        }
    }

    /// The row offsets (`num_users + 1`).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The items of every row, row after row.
    pub fn items(&self) -> &[u32] {
        &self.items
    }

    /// The transpose: each item's users, in increasing order.
    pub fn transpose(&self) -> UserItems {
        let mut counts = vec![0usize; self.num_items + 1];
        for &i in &self.items {
            counts[i as usize + 1] += 1;
        }
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        let mut next = counts.clone();
        let mut users = vec![0u32; self.items.len()];
        for u in 0..self.num_users() {
            for &i in self.get(u) {
                users[next[i as usize]] = u as u32;
                next[i as usize] += 1;
            }
        }
        UserItems {
            offsets: counts,
            items: users,
            num_items: self.num_users(),
        }
    }
}

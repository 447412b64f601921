//! Implicit-feedback interactions and per-user views of them.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// A set of (user, item) interactions over dense ids, with optional ratings, timestamps and
/// weights, one value per interaction.
///
/// `num_users` and `num_items` may exceed the largest id present: a train and a test set cut
/// from one dataset share the same id space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interactions {
    users: Vec<u32>,
    items: Vec<u32>,
    ratings: Option<Vec<f32>>,
    timestamps: Option<Vec<i64>>,
    weights: Option<Vec<f32>>,
    num_users: usize,
    num_items: usize,
}

fn check_ids(ids: &[u32], count: usize, kind: &'static str) -> Result<()> {
    match ids.iter().find(|&&id| id as usize >= count) {
        Some(&id) => Err(DataError::IdOutOfRange {
            kind,
            id: u64::from(id),
            count,
        }),
        None => Ok(()),
    }
}

fn check_len(column: &'static str, actual: usize, expected: usize) -> Result<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(DataError::LengthMismatch {
            column,
            actual,
            expected,
        })
    }
}

fn check_finite(column: &'static str, values: &[f32], non_negative: bool) -> Result<()> {
    for (row, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(DataError::InvalidValue {
                column,
                row,
                value: f64::from(v),
                why: "must be finite",
            });
        }
        if non_negative && v < 0.0 {
            return Err(DataError::InvalidValue {
                column,
                row,
                value: f64::from(v),
                why: "must not be negative",
            });
        }
    }
    Ok(())
}

impl Interactions {
    /// Interactions of `users[i]` with `items[i]`; every id must be below its count.
    pub fn new(
        users: Vec<u32>,
        items: Vec<u32>,
        num_users: usize,
        num_items: usize,
    ) -> Result<Self> {
        check_len("items", items.len(), users.len())?;
        check_ids(&users, num_users, "user")?;
        check_ids(&items, num_items, "item")?;
        Ok(Interactions {
            users,
            items,
            ratings: None,
            timestamps: None,
            weights: None,
            num_users,
            num_items,
        })
    }

    /// The same interactions over larger id ranges: `num_users` and `num_items` may only grow
    /// (ids that a features file adds have no interactions yet).
    pub fn with_counts(mut self, num_users: usize, num_items: usize) -> Result<Self> {
        if num_users < self.num_users || num_items < self.num_items {
            return Err(DataError::param(
                "num_users, num_items",
                format!(
                    "{num_users} x {num_items} is smaller than the {} x {} the interactions have",
                    self.num_users, self.num_items
                ),
            ));
        }
        (self.num_users, self.num_items) = (num_users, num_items);
        Ok(self)
    }

    /// Adds ratings (finite values).
    pub fn with_ratings(mut self, ratings: Vec<f32>) -> Result<Self> {
        check_len("ratings", ratings.len(), self.len())?;
        check_finite("rating", &ratings, false)?;
        self.ratings = Some(ratings);
        Ok(self)
    }

    /// Adds timestamps (any integer unit; only their order matters).
    pub fn with_timestamps(mut self, timestamps: Vec<i64>) -> Result<Self> {
        check_len("timestamps", timestamps.len(), self.len())?;
        self.timestamps = Some(timestamps);
        Ok(self)
    }

    /// Adds sample weights (finite and non-negative).
    pub fn with_weights(mut self, weights: Vec<f32>) -> Result<Self> {
        check_len("weights", weights.len(), self.len())?;
        check_finite("weight", &weights, true)?;
        self.weights = Some(weights);
        Ok(self)
    }

    /// Number of interactions.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no interactions.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Size of the user id space.
    pub fn num_users(&self) -> usize {
        self.num_users
    }

    /// Size of the item id space.
    pub fn num_items(&self) -> usize {
        self.num_items
    }

    /// Dense user id of each interaction.
    pub fn users(&self) -> &[u32] {
        &self.users
    }

    /// Dense item id of each interaction.
    pub fn items(&self) -> &[u32] {
        &self.items
    }

    /// Ratings, if any.
    pub fn ratings(&self) -> Option<&[f32]> {
        self.ratings.as_deref()
    }

    /// Timestamps, if any.
    pub fn timestamps(&self) -> Option<&[i64]> {
        self.timestamps.as_deref()
    }

    /// Sample weights, if any.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// Fails with [`DataError::Empty`] when there are no interactions.
    pub fn ensure_not_empty(&self, what: &str) -> Result<()> {
        if self.is_empty() {
            Err(DataError::Empty {
                what: what.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// The interactions at `rows`, in that order, in the same id space.
    pub fn select(&self, rows: &[usize]) -> Interactions {
        fn pick<T: Copy>(values: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&r| values[r]).collect()
        }
        Interactions {
            users: pick(&self.users, rows),
            items: pick(&self.items, rows),
            ratings: self.ratings.as_deref().map(|v| pick(v, rows)),
            timestamps: self.timestamps.as_deref().map(|v| pick(v, rows)),
            weights: self.weights.as_deref().map(|v| pick(v, rows)),
            num_users: self.num_users,
            num_items: self.num_items,
        }
    }

    /// The interactions for which `keep(row)` holds, in their original order.
    pub fn filter(&self, mut keep: impl FnMut(usize) -> bool) -> Interactions {
        let rows: Vec<usize> = (0..self.len()).filter(|&r| keep(r)).collect();
        self.select(&rows)
    }

    /// Number of interactions per item.
    pub fn item_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.num_items];
        for &i in &self.items {
            counts[i as usize] += 1;
        }
        counts
    }

    /// Row indices grouped by user, each user's rows ordered by (timestamp, row).
    ///
    /// The sort is stable, so interactions sharing a timestamp keep their file order: the view
    /// is deterministic and holds every row exactly once.
    pub fn user_rows(&self) -> PerUser<usize> {
        let mut offsets = vec![0usize; self.num_users + 1];
        for &u in &self.users {
            offsets[u as usize + 1] += 1;
        }
        for u in 0..self.num_users {
            offsets[u + 1] += offsets[u];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0usize; self.len()];
        for (r, &u) in self.users.iter().enumerate() {
            rows[next[u as usize]] = r;
            next[u as usize] += 1;
        }
        if let Some(ts) = &self.timestamps {
            for u in 0..self.num_users {
                rows[offsets[u]..offsets[u + 1]].sort_by_key(|&r| ts[r]);
            }
        }
        PerUser {
            offsets,
            values: rows,
        }
    }

    /// Item ids grouped by user, each user's items in (timestamp, row) order: the histories
    /// that sequence models learn from.
    pub fn histories(&self) -> PerUser<u32> {
        let rows = self.user_rows();
        PerUser {
            values: rows.values.iter().map(|&r| self.items[r]).collect(),
            offsets: rows.offsets,
        }
    }

    /// Appends `other` (same id space) after these interactions.
    ///
    /// Optional columns are kept only when both sides have them.
    pub fn concat(&self, other: &Interactions) -> Result<Interactions> {
        if self.num_users != other.num_users || self.num_items != other.num_items {
            return Err(DataError::param(
                "other",
                format!(
                    "id spaces differ: {}x{} and {}x{}",
                    self.num_users, self.num_items, other.num_users, other.num_items
                ),
            ));
        }
        fn join<T: Copy>(a: Option<&[T]>, b: Option<&[T]>) -> Option<Vec<T>> {
            Some([a?, b?].concat())
        }
        Ok(Interactions {
            users: [self.users.as_slice(), &other.users].concat(),
            items: [self.items.as_slice(), &other.items].concat(),
            ratings: join(self.ratings(), other.ratings()),
            timestamps: join(self.timestamps(), other.timestamps()),
            weights: join(self.weights(), other.weights()),
            num_users: self.num_users,
            num_items: self.num_items,
        })
    }
}

/// A compressed per-user table: `get(u)` is user `u`'s slice of values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerUser<T> {
    offsets: Vec<usize>,
    values: Vec<T>,
}

impl<T> PerUser<T> {
    /// Builds the table from one list per user.
    pub fn from_lists(lists: Vec<Vec<T>>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0);
        let mut values = Vec::new();
        for list in lists {
            values.extend(list);
            offsets.push(values.len());
        }
        PerUser { offsets, values }
    }

    /// User `user`'s values (empty when out of range).
    pub fn get(&self, user: usize) -> &[T] {
        match (self.offsets.get(user), self.offsets.get(user + 1)) {
            (Some(&a), Some(&b)) => &self.values[a..b],
            _ => &[],
        }
    }

    /// Number of users.
    pub fn num_users(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// All values, user by user.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Iterates over (user, values).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[T])> + '_ {
        (0..self.num_users()).map(move |u| (u, self.get(u)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_file_order_and_lose_nothing() {
        let x = Interactions::new(vec![0, 1, 0, 0, 0], vec![5, 1, 3, 4, 2], 2, 6)
            .unwrap()
            .with_timestamps(vec![10, 1, 5, 10, 5])
            .unwrap();
        let h = x.histories();
        assert_eq!(h.get(0), &[3, 2, 5, 4]);
        assert_eq!(h.get(1), &[1]);
    }

    #[test]
    fn out_of_range_ids_are_rejected() {
        let err = Interactions::new(vec![0, 2], vec![0, 0], 2, 1).unwrap_err();
        assert!(matches!(
            err,
            DataError::IdOutOfRange {
                kind: "user",
                id: 2,
                count: 2
            }
        ));
        let err = Interactions::new(vec![0], vec![0], 1, 1)
            .unwrap()
            .with_weights(vec![f32::NAN])
            .unwrap_err();
        assert!(matches!(
            err,
            DataError::InvalidValue {
                column: "weight",
                ..
            }
        ));
    }
}

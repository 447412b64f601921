//! Left-padded sequences for next-item models.
//!
//! Item ids are shifted by one (`item + 1`), so 0 is free to mean padding. A history
//! `[a, b, c, d]` becomes input `[0, a, b, c]` and targets `[a, b, c, d]`: the input at
//! position t is what the model has seen before it predicts the target at t.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::interactions::PerUser;

/// The padding id.
pub const PADDING: u32 = 0;

/// Fixed-length rows of inputs and targets, left-padded with [`PADDING`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sequences {
    inputs: Vec<u32>,
    targets: Vec<u32>,
    users: Vec<u32>,
    max_len: usize,
    num_items: usize,
}

impl Sequences {
    fn new(max_len: usize, num_items: usize) -> Self {
        Sequences {
            inputs: Vec::new(),
            targets: Vec::new(),
            users: Vec::new(),
            max_len,
            num_items,
        }
    }

    /// Adds one row from `items` (shifted ids, at most `max_len`) and the shifted item seen
    /// just before them (`PADDING` if none).
    fn push(&mut self, user: u32, previous: u32, items: &[u32]) {
        let pad = self.max_len - items.len();
        self.targets.extend(std::iter::repeat_n(PADDING, pad));
        self.targets.extend_from_slice(items);
        self.inputs.extend(std::iter::repeat_n(PADDING, pad));
        if !items.is_empty() {
            self.inputs.push(previous);
            self.inputs.extend_from_slice(&items[..items.len() - 1]);
        }
        self.users.push(user);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Row length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Number of items before shifting (valid shifted ids are `1..=num_items`).
    pub fn num_items(&self) -> usize {
        self.num_items
    }

    /// Inputs of row `i` (shifted ids, `max_len` long).
    pub fn input(&self, i: usize) -> &[u32] {
        &self.inputs[i * self.max_len..(i + 1) * self.max_len]
    }

    /// Targets of row `i` (shifted ids, `max_len` long; `PADDING` where there is none).
    pub fn target(&self, i: usize) -> &[u32] {
        &self.targets[i * self.max_len..(i + 1) * self.max_len]
    }

    /// All inputs, row-major `(len, max_len)`.
    pub fn inputs(&self) -> &[u32] {
        &self.inputs
    }

    /// All targets, row-major `(len, max_len)`.
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// The user of each row.
    pub fn users(&self) -> &[u32] {
        &self.users
    }

    /// Each row's real targets as a history of dense (unshifted) ids, one "user" per row: the
    /// form sequence metrics take, so that every window of a held-out history is evaluated,
    /// as Spotlight evaluates `to_sequence` windows.
    pub fn target_histories(&self) -> PerUser<u32> {
        PerUser::from_lists(
            (0..self.len())
                .map(|r| {
                    self.target(r)
                        .iter()
                        .filter(|&&x| x != PADDING)
                        .map(|&x| x - 1)
                        .collect()
                })
                .collect(),
        )
    }
}

fn check_max_len(max_len: usize) -> Result<()> {
    if max_len == 0 {
        Err(DataError::param("max_len", "must be at least 1"))
    } else {
        Ok(())
    }
}

/// The talk's form: each user's history cut into chunks of `max_len`, from the end, so the
/// latest chunk is full and only the earliest is padded. A chunk's first input is the last
/// item of the chunk before it (padding for the first), so no transition is lost.
pub fn chunked(histories: &PerUser<u32>, num_items: usize, max_len: usize) -> Result<Sequences> {
    check_max_len(max_len)?;
    let mut out = Sequences::new(max_len, num_items);
    for (user, history) in histories.iter() {
        let shifted: Vec<u32> = history.iter().map(|&i| i + 1).collect();
        let first = shifted.len() % max_len;
        let mut start = 0;
        let mut bounds = Vec::new();
        if first > 0 {
            bounds.push((0, first));
            start = first;
        }
        while start < shifted.len() {
            bounds.push((start, start + max_len));
            start += max_len;
        }
        for (a, b) in bounds {
            let previous = if a == 0 { PADDING } else { shifted[a - 1] };
            out.push(user as u32, previous, &shifted[a..b]);
        }
    }
    Ok(out)
}

/// Spotlight's form: windows of up to `max_sequence_length` items ending at the end of each
/// history and stepping back by `step_size`; windows shorter than `min_sequence_length` are
/// dropped. Each window starts from padding, as Spotlight's models see it.
pub fn windows(
    histories: &PerUser<u32>,
    num_items: usize,
    max_sequence_length: usize,
    min_sequence_length: usize,
    step_size: usize,
) -> Result<Sequences> {
    check_max_len(max_sequence_length)?;
    if step_size == 0 {
        return Err(DataError::param("step_size", "must be at least 1"));
    }
    let mut out = Sequences::new(max_sequence_length, num_items);
    for (user, history) in histories.iter() {
        let shifted: Vec<u32> = history.iter().map(|&i| i + 1).collect();
        let mut end = shifted.len();
        while end > 0 {
            let start = end.saturating_sub(max_sequence_length);
            if end - start >= min_sequence_length.max(1) {
                out.push(user as u32, PADDING, &shifted[start..end]);
            }
            if end <= step_size {
                break;
            }
            end -= step_size;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talk_example() {
        let h = PerUser::from_lists(vec![vec![0, 1, 2, 3]]);
        let s = chunked(&h, 4, 4).unwrap();
        assert_eq!(s.input(0), &[0, 1, 2, 3]);
        assert_eq!(s.target(0), &[1, 2, 3, 4]);
        let s = chunked(&h, 4, 6).unwrap();
        assert_eq!(s.input(0), &[0, 0, 0, 1, 2, 3]);
        assert_eq!(s.target(0), &[0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn long_history_is_chunked_from_the_end() {
        let h = PerUser::from_lists(vec![vec![0, 1, 2, 3, 4]]);
        let s = chunked(&h, 5, 2).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.target(0), &[0, 1]);
        assert_eq!(s.target(1), &[2, 3]);
        assert_eq!(s.input(1), &[1, 2]);
        assert_eq!(s.target(2), &[4, 5]);
    }

    #[test]
    fn target_histories_unshift_and_drop_padding() {
        let h = PerUser::from_lists(vec![(0..5).collect()]);
        let s = windows(&h, 5, 3, 1, 3).unwrap();
        let t = s.target_histories();
        assert_eq!(t.get(0), &[2, 3, 4]);
        assert_eq!(t.get(1), &[0, 1]);
    }

    #[test]
    fn spotlight_windows() {
        let h = PerUser::from_lists(vec![(0..5).collect()]);
        let s = windows(&h, 5, 3, 2, 2).unwrap();
        // ends at 5, 3 (and 1 is shorter than min 2)
        assert_eq!(s.len(), 2);
        assert_eq!(s.target(0), &[3, 4, 5]);
        assert_eq!(s.input(0), &[0, 3, 4]);
        assert_eq!(s.target(1), &[1, 2, 3]);
    }
}

//! Baselines a neural model must beat to earn its cost: popularity (every user and every
//! sequence gets the train counts as scores) and item-to-item co-occurrence (the next item
//! scored by how often it followed the history's last item).

use netrex_data::{Interactions, PerUser};

use crate::scorer::{ItemScorer, SequenceScorer};

/// Scores each item by how often it occurs in the training interactions.
#[derive(Clone, Debug, PartialEq)]
pub struct Popularity {
    counts: Vec<f32>,
    num_users: usize,
}

impl Popularity {
    /// Counts the items of `train`.
    pub fn fit(train: &Interactions) -> Self {
        Popularity {
            counts: train.item_counts().into_iter().map(|c| c as f32).collect(),
            num_users: train.num_users(),
        }
    }

    /// The count of each item.
    pub fn counts(&self) -> &[f32] {
        &self.counts
    }
}

impl ItemScorer for Popularity {
    fn num_users(&self) -> usize {
        self.num_users
    }
    fn num_items(&self) -> usize {
        self.counts.len()
    }
    fn score_items(&self, _user: u32, scores: &mut [f32]) {
        scores.copy_from_slice(&self.counts);
    }
}

impl SequenceScorer for Popularity {
    fn num_items(&self) -> usize {
        self.counts.len()
    }
    fn score_next(&self, _history: &[u32], scores: &mut [f32]) {
        scores.copy_from_slice(&self.counts);
    }
    fn score_positions(
        &self,
        _history: &[u32],
        candidates: &[u32],
        _per_position: usize,
        out: &mut [f32],
    ) {
        for (o, &c) in out.iter_mut().zip(candidates) {
            *o = self.counts[c as usize];
        }
    }
}

/// The item-to-item baseline of session recommendation: the next item is scored by how often
/// it directly followed the history's last item in the training histories, popularity breaking
/// ties (and scoring alone after an empty history or an item never followed).
#[derive(Clone, Debug, PartialEq)]
pub struct Cooccurrence {
    /// Row `i` of a sparse matrix: the items that followed item `i`, with their counts.
    offsets: Vec<usize>,
    followers: Vec<(u32, f32)>,
    /// Popularity scaled into `[0, 1)`, below any count.
    tie_break: Vec<f32>,
}

impl Cooccurrence {
    /// Counts the transitions of `histories` (dense ids below `num_items`, oldest first).
    pub fn fit(histories: &PerUser<u32>, num_items: usize) -> Self {
        let mut popularity = vec![0u32; num_items];
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (_, h) in histories.iter() {
            h.iter().for_each(|&i| popularity[i as usize] += 1);
            pairs.extend(h.windows(2).map(|w| (w[0], w[1])));
        }
        pairs.sort_unstable();
        let mut offsets = vec![0usize; num_items + 1];
        let mut followers: Vec<(u32, f32)> = Vec::new();
        for run in pairs.chunk_by(|a, b| a == b) {
            let (from, to) = run[0];
            offsets[from as usize + 1] += 1;
            followers.push((to, run.len() as f32));
        }
        for i in 0..num_items {
            offsets[i + 1] += offsets[i];
        }
        let top = popularity.iter().copied().max().unwrap_or(0) as f32 + 1.0;
        Cooccurrence {
            offsets,
            followers,
            tie_break: popularity.iter().map(|&c| c as f32 / top).collect(),
        }
    }

    /// The items that followed `item`, with how often.
    pub fn followers(&self, item: u32) -> &[(u32, f32)] {
        let i = item as usize;
        if i + 1 >= self.offsets.len() {
            return &[];
        }
        &self.followers[self.offsets[i]..self.offsets[i + 1]]
    }
}

impl SequenceScorer for Cooccurrence {
    fn num_items(&self) -> usize {
        self.tie_break.len()
    }
    fn score_next(&self, history: &[u32], scores: &mut [f32]) {
        scores.copy_from_slice(&self.tie_break);
        if let Some(&last) = history.last() {
            for &(j, count) in self.followers(last) {
                scores[j as usize] += count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooccurrence_scores_what_followed_the_last_item_then_popularity() {
        // 0 -> 1 twice, 0 -> 2 once; item 3 the most popular
        let h = PerUser::from_lists(vec![vec![0, 1, 3], vec![0, 2, 3], vec![0, 1], vec![3, 3]]);
        let model = Cooccurrence::fit(&h, 5);
        let mut scores = vec![0.0; 5];
        model.score_next(&[4, 0], &mut scores);
        assert!(scores[1] > scores[2] && scores[2] > scores[3] && scores[3] > scores[4]);
        assert!(
            scores[3] > scores[0],
            "popularity breaks the ties: {scores:?}"
        );
        // after an item nothing followed, popularity alone
        model.score_next(&[4], &mut scores);
        assert!(scores[3] > scores[0] && scores[0] > scores[4] && scores.iter().all(|&s| s < 1.0));
        model.score_next(&[], &mut scores);
        assert_eq!(scores[4], 0.0);
    }
}

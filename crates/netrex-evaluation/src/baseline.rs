//! The popularity baseline: every user and every sequence gets the train counts as scores.

use netrex_data::Interactions;

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

//! What a model must offer to be evaluated.

/// Scores items for a user: implemented by factorization models and baselines.
pub trait ItemScorer {
    /// Number of users the model knows.
    fn num_users(&self) -> usize;

    /// Number of items it scores.
    fn num_items(&self) -> usize;

    /// Writes one score per item into `scores` (`num_items` long) for `user`; higher means
    /// more likely. Scores must be finite.
    fn score_items(&self, user: u32, scores: &mut [f32]);
}

/// Scores items as the next one in a sequence: implemented by sequence models.
///
/// Item ids here are dense (`0..num_items`), not the shifted ids of padded sequences.
pub trait SequenceScorer {
    /// Number of items it scores.
    fn num_items(&self) -> usize;

    /// Writes one score per item into `scores` (`num_items` long) for the item that follows
    /// `history` (oldest first; may be empty).
    fn score_next(&self, history: &[u32], scores: &mut [f32]);

    /// [`score_next`](Self::score_next) for each of `histories`, row after row into `scores`
    /// (`histories.len() * num_items`). The default scores one history at a time; a model
    /// that can encode and score many at once (as one matrix product) overrides it.
    fn score_next_batch(&self, histories: &[&[u32]], scores: &mut [f32]) {
        let n = self.num_items();
        for (history, row) in histories.iter().zip(scores.chunks_exact_mut(n.max(1))) {
            self.score_next(history, row);
        }
    }

    /// For every position `t` of `history`, scores the `per_position` candidates
    /// `candidates[t * per_position..(t + 1) * per_position]` as the item after `history[..t]`,
    /// writing them to the same places of `out`.
    ///
    /// The default calls [`score_next`](Self::score_next) once per position; a recurrent
    /// model should override it with one pass over the sequence.
    fn score_positions(
        &self,
        history: &[u32],
        candidates: &[u32],
        per_position: usize,
        out: &mut [f32],
    ) {
        let mut scores = vec![0.0; self.num_items()];
        for t in 0..history.len() {
            self.score_next(&history[..t], &mut scores);
            let range = t * per_position..(t + 1) * per_position;
            for (o, &c) in out[range.clone()].iter_mut().zip(&candidates[range]) {
                *o = scores[c as usize];
            }
        }
    }
}

impl<T: ItemScorer + ?Sized> ItemScorer for &T {
    fn num_users(&self) -> usize {
        (**self).num_users()
    }
    fn num_items(&self) -> usize {
        (**self).num_items()
    }
    fn score_items(&self, user: u32, scores: &mut [f32]) {
        (**self).score_items(user, scores)
    }
}

impl<T: SequenceScorer + ?Sized> SequenceScorer for &T {
    fn num_items(&self) -> usize {
        (**self).num_items()
    }
    fn score_next(&self, history: &[u32], scores: &mut [f32]) {
        (**self).score_next(history, scores)
    }
    fn score_positions(
        &self,
        history: &[u32],
        candidates: &[u32],
        per_position: usize,
        out: &mut [f32],
    ) {
        (**self).score_positions(history, candidates, per_position, out)
    }
}

//! Keeping the best `k` of a stream of scored items, and the naive sort it must equal.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One ranked item: its id and score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    /// The item's id (its row in the index).
    pub id: u32,
    /// Its score.
    pub score: f32,
}

/// Ranking order: higher score first, then lower id.
pub(crate) fn better(a: &Ranked, b: &Ranked) -> Ordering {
    b.score.total_cmp(&a.score).then(a.id.cmp(&b.id))
}

/// A heap entry whose maximum is the worst kept item, so that it is the one to replace.
#[derive(Clone, Copy)]
pub(crate) struct Worst(pub(crate) Ranked);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        better(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for Worst {}

impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        better(&self.0, &other.0)
    }
}

/// The best `k` items offered so far.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// The score an item must beat (with the id tie-break) to be kept, once `k` are held.
    fn floor(&self) -> Option<&Ranked> {
        (self.heap.len() == self.k).then(|| &self.heap.peek().expect("k > 0 items").0)
    }

    /// The worst kept score once `k` items are held: an item scoring at or below it, with a
    /// higher id than every kept one, cannot enter.
    #[inline]
    pub(crate) fn floor_score(&self) -> Option<f32> {
        if self.k == 0 {
            return Some(f32::INFINITY);
        }
        self.floor().map(|r| r.score)
    }

    /// Offers `item`; NaN scores are never kept.
    #[inline]
    pub(crate) fn offer(&mut self, item: Ranked) {
        if self.k == 0 || item.score.is_nan() {
            return;
        }
        match self.floor() {
            Some(worst) if better(&item, worst) != Ordering::Less => {}
            Some(_) => {
                self.heap.pop();
                self.heap.push(Worst(item));
            }
            None => self.heap.push(Worst(item)),
        }
    }

    /// The kept items, best first.
    pub(crate) fn into_sorted(self) -> Vec<Ranked> {
        let mut out: Vec<Ranked> = self.heap.into_iter().map(|w| w.0).collect();
        out.sort_by(better);
        out
    }
}

/// The best `k` of `scores` (item `i` scored `scores[i]`) by sorting them all, skipping ids in
/// `skip` and NaN scores: the reference the index's search equals.
pub fn top_k_naive(scores: &[f32], k: usize, skip: impl Fn(u32) -> bool) -> Vec<Ranked> {
    let mut all: Vec<Ranked> = scores
        .iter()
        .enumerate()
        .map(|(i, &score)| Ranked {
            id: i as u32,
            score,
        })
        .filter(|r| !r.score.is_nan() && !skip(r.id))
        .collect();
    all.sort_by(better);
    all.truncate(k);
    all
}

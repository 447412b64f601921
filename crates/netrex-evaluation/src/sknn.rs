//! Session-based nearest neighbours (SKNN, and V-SKNN's weights; Jannach & Ludewig 2017,
//! Ludewig & Jannach 2018): the baseline that matches or beats neural models on session data.
//! A history's neighbours are the training sessions that share items with it, most similar
//! first; the next item is scored by the similarities of the neighbours that hold it.

use std::collections::HashMap;

use netrex_data::PerUser;

use crate::scorer::SequenceScorer;

/// How SKNN finds and weighs neighbours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SknnConfig {
    /// Neighbours kept per history (the `k` of kNN).
    pub neighbours: usize,
    /// Of the sessions holding an item, only the most recent this many are candidates (by
    /// their order in the training data; V-SKNN's sample). 0: all.
    pub sample: usize,
    /// V-SKNN's position weights: a history item counts `position / length` (the last item
    /// 1, the first `1 / length`); otherwise every item counts 1 and the similarity is the
    /// cosine of the two sessions' item sets.
    pub positions: bool,
    /// Weigh each shared item by its inverse document frequency, `ln(sessions / sessions
    /// holding it)`, so that rare shared items count more.
    pub idf: bool,
}

impl Default for SknnConfig {
    fn default() -> Self {
        SknnConfig {
            neighbours: 100,
            sample: 1000,
            positions: false,
            idf: false,
        }
    }
}

/// Session kNN over the training histories (each a session).
#[derive(Clone, Debug)]
pub struct Sknn {
    config: SknnConfig,
    sessions: PerUser<u32>,
    /// Item `i`'s sessions (newest first, at most `sample`) in `holders[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    holders: Vec<u32>,
    /// Each item's inverse document frequency.
    idf: Vec<f32>,
    /// Popularity scaled into `[0, 1)`: ranks the items no neighbour holds, below every one
    /// that a neighbour holds.
    tie_break: Vec<f32>,
}

impl Sknn {
    /// Indexes `sessions` (dense ids below `num_items`, oldest first; repeats within a session
    /// count once).
    pub fn fit(sessions: &PerUser<u32>, num_items: usize, config: SknnConfig) -> Self {
        let mut lists: Vec<Vec<u32>> = Vec::with_capacity(sessions.num_users());
        let mut popularity = vec![0u32; num_items];
        let mut holders_of: Vec<Vec<u32>> = vec![Vec::new(); num_items];
        for (s, items) in sessions.iter() {
            let mut distinct: Vec<u32> = items.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            for &i in &distinct {
                popularity[i as usize] += 1;
                holders_of[i as usize].push(s as u32);
            }
            lists.push(distinct);
        }
        let mut offsets = Vec::with_capacity(num_items + 1);
        let mut holders = Vec::new();
        offsets.push(0);
        for list in &mut holders_of {
            list.reverse(); // newest first
            if config.sample > 0 {
                list.truncate(config.sample);
            }
            holders.extend_from_slice(list);
            offsets.push(holders.len());
        }
        let total = sessions.num_users().max(1) as f32;
        let idf = popularity
            .iter()
            .map(|&n| if n == 0 { 0.0 } else { (total / n as f32).ln() })
            .collect();
        let top = popularity.iter().copied().max().unwrap_or(0) as f32 + 1.0;
        Sknn {
            config,
            sessions: PerUser::from_lists(lists),
            offsets,
            holders,
            idf,
            tie_break: popularity.iter().map(|&c| c as f32 / top).collect(),
        }
    }

    /// The `neighbours` training sessions most similar to `history`, with their similarity,
    /// most similar first (ties by session id).
    pub fn neighbours(&self, history: &[u32]) -> Vec<(u32, f32)> {
        let n = self.tie_break.len();
        // each distinct history item's weight: its latest position's, times its idf
        let mut weight: HashMap<u32, f32> = HashMap::new();
        let len = history.len().max(1) as f32;
        for (p, &i) in history
            .iter()
            .enumerate()
            .filter(|(_, &i)| (i as usize) < n)
        {
            let mut w = if self.config.positions {
                (p + 1) as f32 / len
            } else {
                1.0
            };
            if self.config.idf {
                w *= self.idf[i as usize];
            }
            weight.insert(i, w);
        }
        let mut overlap: HashMap<u32, f32> = HashMap::new();
        for (&i, &w) in &weight {
            let i = i as usize;
            for &s in &self.holders[self.offsets[i]..self.offsets[i + 1]] {
                *overlap.entry(s).or_insert(0.0) += w;
            }
        }
        let distinct = weight.len().max(1) as f32;
        let mut ranked: Vec<(u32, f32)> = overlap
            .into_iter()
            .map(|(s, o)| {
                let size = self.sessions.get(s as usize).len().max(1) as f32;
                (s, o / (distinct * size).sqrt())
            })
            .filter(|&(_, sim)| sim > 0.0)
            .collect();
        let keep = self.config.neighbours.min(ranked.len());
        if keep == 0 {
            return Vec::new();
        }
        let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        ranked.select_nth_unstable_by(keep - 1, order);
        ranked.truncate(keep);
        ranked.sort_by(order);
        ranked
    }
}

impl SequenceScorer for Sknn {
    fn num_items(&self) -> usize {
        self.tie_break.len()
    }

    fn score_next(&self, history: &[u32], scores: &mut [f32]) {
        // below zero: any item a neighbour holds outranks every item none holds
        for (s, &t) in scores.iter_mut().zip(&self.tie_break) {
            *s = t - 1.0;
        }
        let mut held = vec![false; scores.len()];
        for (session, sim) in self.neighbours(history) {
            for &j in self.sessions.get(session as usize) {
                let j = j as usize;
                if !held[j] {
                    held[j] = true;
                    scores[j] = self.tie_break[j] * 1e-3 * sim;
                }
                scores[j] += sim;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_the_sessions_sharing_most_and_score_their_items() {
        let sessions = PerUser::from_lists(vec![
            vec![0, 1, 2],    // shares 0 and 1 with the history
            vec![0, 3],       // shares 0
            vec![4, 5],       // shares nothing
            vec![0, 1, 2, 6], // shares 0 and 1, longer
        ]);
        let model = Sknn::fit(&sessions, 7, SknnConfig::default());
        let near = model.neighbours(&[0, 1]);
        assert_eq!(near.iter().map(|n| n.0).collect::<Vec<_>>(), vec![0, 3, 1]);
        // cosine: 2 / sqrt(2 * 3)
        assert!((near[0].1 - 2.0 / 6f32.sqrt()).abs() < 1e-6);
        let mut scores = vec![0.0; 7];
        model.score_next(&[0, 1], &mut scores);
        // 2 is in the two nearest sessions, 3 and 6 in one each, 4 and 5 in none
        assert!(scores[2] > scores[6] && scores[2] > scores[3]);
        assert!(scores[3] > 0.0 && scores[6] > 0.0);
        assert!(scores[4] < 0.0 && scores[5] < 0.0);
    }

    #[test]
    fn positions_and_idf_change_the_weights() {
        let sessions = PerUser::from_lists(vec![vec![0, 9], vec![1, 8], vec![1, 7], vec![1, 6]]);
        let plain = Sknn::fit(&sessions, 10, SknnConfig::default());
        let weighted = Sknn::fit(
            &sessions,
            10,
            SknnConfig {
                positions: true,
                idf: true,
                ..SknnConfig::default()
            },
        );
        // history [0, 1]: item 0 is rarer, item 1 more recent
        let a = plain.neighbours(&[0, 1]);
        assert!(a.iter().all(|n| (n.1 - a[0].1).abs() < 1e-6)); // every neighbour shares one item
        let b = weighted.neighbours(&[1, 0]);
        assert_eq!(b[0].0, 0); // the rare item, last: session 0 leads
        let limited = Sknn::fit(
            &sessions,
            10,
            SknnConfig {
                neighbours: 2,
                sample: 1,
                ..SknnConfig::default()
            },
        );
        // only the newest session holding item 1 is a candidate
        assert_eq!(limited.neighbours(&[1]).len(), 1);
        assert_eq!(limited.neighbours(&[1])[0].0, 3);
    }
}

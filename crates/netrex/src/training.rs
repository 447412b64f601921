//! Pieces both model kinds share: the worker pool, the negatives check, ranking for
//! recommendations.

use crate::error::NetrexError;

/// A rayon pool of `threads` workers, in which fitting and evaluation run.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, NetrexError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| NetrexError::Device(e.to_string()))
}

/// Uniform negatives need at least one other item per positive.
pub(crate) fn check_negatives(
    loss: &str,
    negatives: usize,
    num_items: usize,
) -> Result<(), NetrexError> {
    if negatives == 0 || negatives >= num_items {
        return Err(NetrexError::Training(format!(
            "the loss {loss} wants {negatives} negatives per positive but there are only {num_items} items: use fewer negatives"
        )));
    }
    Ok(())
}

/// The `k` best (item, score) pairs, best first, ties by id, leaving out `exclude`.
pub(crate) fn top_k(scores: Vec<f32>, exclude: &[u32], k: usize) -> Vec<(u32, f32)> {
    let mut skip = vec![false; scores.len()];
    for &i in exclude {
        if let Some(s) = skip.get_mut(i as usize) {
            *s = true;
        }
    }
    let mut ranked: Vec<(u32, f32)> = scores
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !skip[*i])
        .map(|(i, s)| (i as u32, s))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}

//! The exact index: item vectors and biases, searched by blocked matrix products.

use rayon::prelude::*;

use crate::error::RetrievalError;
use crate::select::{Ranked, TopK};

/// Queries scored together: one matrix product's rows.
const QUERY_BLOCK: usize = 64;
/// Items scored together: the product's columns (`64 x 2048` floats stay in cache).
const ITEM_BLOCK: usize = 2048;

/// How [`ItemIndex::similar_items`] compares two items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Similarity {
    /// `v_i · v_j / (|v_i| |v_j|)`; an item with a zero vector is similar to nothing.
    Cosine,
    /// `v_i · v_j`.
    Dot,
}

/// Which items a search may return. The default allows every item.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    /// One list per query of items to leave out (a user's seen items), or empty for none.
    pub seen: &'a [&'a [u32]],
    /// Only these items, when given.
    pub allow: Option<&'a [u32]>,
    /// Never these items.
    pub deny: &'a [u32],
}

/// What a search keeps for each query: `k` items that `allowed` lets through and that are not
/// in the query's list of `seen`, scored with the query's own bias (from `biases`, if given).
struct Wanted<'a> {
    k: usize,
    /// `None` when every item is allowed.
    allowed: Option<&'a [bool]>,
    biases: Option<&'a [f32]>,
    seen: &'a [&'a [u32]],
}

/// Item vectors `v_i` (one row each) and biases `b_i`: a query `q` scores item `i` as
/// `q · v_i + b_i`.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemIndex {
    vectors: Vec<f32>,
    biases: Vec<f32>,
    dim: usize,
}

impl ItemIndex {
    /// An index of the rows of `vectors` (`items x dim`, row-major) with `biases` (one per
    /// item; none is all zero).
    pub fn new(
        vectors: Vec<f32>,
        dim: usize,
        biases: Option<Vec<f32>>,
    ) -> Result<Self, RetrievalError> {
        let values = vectors.len();
        if dim == 0 || values == 0 {
            let items = values.checked_div(dim).unwrap_or(0);
            return Err(RetrievalError::Empty { items, dim });
        }
        if !values.is_multiple_of(dim) {
            return Err(RetrievalError::Ragged { values, dim });
        }
        let items = values / dim;
        let biases = biases.unwrap_or_else(|| vec![0.0; items]);
        if biases.len() != items {
            return Err(RetrievalError::Biases {
                biases: biases.len(),
                items,
            });
        }
        Ok(ItemIndex {
            vectors,
            biases,
            dim,
        })
    }

    /// Items in the index.
    pub fn num_items(&self) -> usize {
        self.biases.len()
    }

    /// The vectors' dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Item `i`'s vector.
    pub fn vector(&self, i: u32) -> Result<&[f32], RetrievalError> {
        self.check(i)?;
        let i = i as usize;
        Ok(&self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    fn check(&self, id: u32) -> Result<(), RetrievalError> {
        let items = self.num_items();
        if id as usize >= items {
            return Err(RetrievalError::UnknownItem { id, items });
        }
        Ok(())
    }

    /// `out (rows x items in range) = queries (rows x dim) V[range]^T`, row-major.
    fn products(&self, queries: &[f32], range: std::ops::Range<usize>, out: &mut [f32]) {
        let (d, rows, cols) = (self.dim, queries.len() / self.dim, range.len());
        assert!(out.len() >= rows * cols && queries.len() == rows * d);
        let items = &self.vectors[range.start * d..range.end * d];
        // SAFETY: `out` holds rows x cols, `queries` rows x d and `items` cols x d (checked
        // above and by the range's slice); gemm reads and writes only those elements.
        unsafe {
            gemm::gemm(
                rows,
                cols,
                d,
                out.as_mut_ptr(),
                1,
                cols as isize,
                false,
                queries.as_ptr(),
                1,
                d as isize,
                items.as_ptr(),
                d as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }

    /// Every item's score for one `query` (with its own `query_bias` added), as the searches
    /// compute them.
    pub fn scores(&self, query: &[f32], query_bias: f32) -> Result<Vec<f32>, RetrievalError> {
        self.check_queries(query)?;
        let mut out = vec![0.0; self.num_items()];
        self.products(query, 0..self.num_items(), &mut out);
        for (s, b) in out.iter_mut().zip(&self.biases) {
            *s += b + query_bias;
        }
        Ok(out)
    }

    fn check_queries(&self, queries: &[f32]) -> Result<usize, RetrievalError> {
        if !queries.len().is_multiple_of(self.dim) {
            return Err(RetrievalError::Query {
                values: queries.len(),
                dim: self.dim,
            });
        }
        Ok(queries.len() / self.dim)
    }

    /// Which items `filter` lets through for every query (allow- and deny-lists).
    fn allowed(&self, filter: &Filter<'_>) -> Result<Vec<bool>, RetrievalError> {
        let mut allowed = vec![filter.allow.is_none(); self.num_items()];
        for &i in filter.allow.unwrap_or(&[]) {
            self.check(i)?;
            allowed[i as usize] = true;
        }
        for &i in filter.deny {
            self.check(i)?;
            allowed[i as usize] = false;
        }
        Ok(allowed)
    }

    /// The best `k` items for each of `queries` (`queries x dim`, row-major), best first, by
    /// `q · v_i + b_i` plus the query's own bias from `query_biases` (one per query, or none):
    /// exact, in blocks of queries on all cores.
    pub fn top_k(
        &self,
        queries: &[f32],
        query_biases: Option<&[f32]>,
        k: usize,
        filter: &Filter<'_>,
    ) -> Result<Vec<Vec<Ranked>>, RetrievalError> {
        let n = self.check_queries(queries)?;
        if let Some(b) = query_biases.filter(|b| b.len() != n) {
            return Err(RetrievalError::Query {
                values: b.len(),
                dim: 1,
            });
        }
        if !filter.seen.is_empty() && filter.seen.len() != n {
            return Err(RetrievalError::Seen {
                lists: filter.seen.len(),
                queries: n,
            });
        }
        for &i in filter.seen.iter().flat_map(|s| s.iter()) {
            self.check(i)?;
        }
        let allowed = (filter.allow.is_some() || !filter.deny.is_empty())
            .then(|| self.allowed(filter))
            .transpose()?;
        let wanted = Wanted {
            k,
            allowed: allowed.as_deref(),
            biases: query_biases,
            seen: filter.seen,
        };
        // fewer blocks of queries than threads: each block's catalog is cut in parts too
        let (d, items) = (self.dim, self.num_items());
        let query_blocks = n.div_ceil(QUERY_BLOCK);
        let threads = rayon::current_num_threads();
        let parts = threads
            .div_ceil(query_blocks.max(1))
            .min(items.div_ceil(ITEM_BLOCK))
            .max(1);
        let per_part = items.div_ceil(parts).div_ceil(ITEM_BLOCK) * ITEM_BLOCK;
        let found: Vec<Vec<Vec<Ranked>>> = (0..query_blocks * parts)
            .into_par_iter()
            .map(|task| {
                let (b, part) = (task / parts, task % parts);
                let block = &queries[b * QUERY_BLOCK * d..((b + 1) * QUERY_BLOCK).min(n) * d];
                let range = (part * per_part).min(items)..((part + 1) * per_part).min(items);
                self.search_block(block, b * QUERY_BLOCK, &wanted, range)
            })
            .collect();
        // each query's best over the parts of its block's catalog
        Ok(found
            .chunks(parts)
            .flat_map(|block_parts| {
                let rows = block_parts[0].len();
                (0..rows).map(move |q| {
                    let mut top = TopK::new(k);
                    block_parts
                        .iter()
                        .for_each(|p| p[q].iter().for_each(|&r| top.offer(r)));
                    top.into_sorted()
                })
            })
            .collect())
    }

    /// [`top_k`](Self::top_k) over the items of `range` for one block of queries, the first
    /// of them query `first`.
    fn search_block(
        &self,
        block: &[f32],
        first: usize,
        wanted: &Wanted<'_>,
        range: std::ops::Range<usize>,
    ) -> Vec<Vec<Ranked>> {
        let (items, rows) = (self.num_items(), block.len() / self.dim);
        let mut best: Vec<TopK> = (0..rows).map(|_| TopK::new(wanted.k)).collect();
        // each query's seen items, marked while its row is read (none marked: no array)
        let any_seen =
            (first..first + rows).any(|q| wanted.seen.get(q).is_some_and(|s| !s.is_empty()));
        let mut skip = if any_seen {
            vec![false; items]
        } else {
            Vec::new()
        };
        let mut scores = vec![0.0f32; rows * ITEM_BLOCK];
        for start in range.clone().step_by(ITEM_BLOCK) {
            let range = start..(start + ITEM_BLOCK).min(range.end);
            let cols = range.len();
            self.products(block, range.clone(), &mut scores[..rows * cols]);
            let biases = &self.biases[range];
            for (q, top) in best.iter_mut().enumerate() {
                let bias = wanted.biases.map_or(0.0, |b| b[first + q]);
                let seen = wanted.seen.get(first + q).copied().unwrap_or(&[]);
                seen.iter().for_each(|&i| skip[i as usize] = true);
                let row = &scores[q * cols..(q + 1) * cols];
                // Ids rise along the row, so an item that only ties the worst kept one loses
                // the tie: a score at or below the floor can be passed over unread.
                let mut floor = top.floor_score();
                for (j, (&s, &b)) in row.iter().zip(biases).enumerate() {
                    let score = s + b + bias;
                    if floor.is_some_and(|f| score <= f) {
                        continue;
                    }
                    let id = start + j;
                    if wanted.allowed.is_some_and(|a| !a[id]) || (any_seen && skip[id]) {
                        continue;
                    }
                    top.offer(Ranked {
                        id: id as u32,
                        score,
                    });
                    floor = top.floor_score();
                }
                seen.iter().for_each(|&i| skip[i as usize] = false);
            }
        }
        best.into_iter().map(TopK::into_sorted).collect()
    }

    /// The `k` items most similar to `item` (itself left out), best first, that `filter`'s
    /// allow- and deny-lists let through; `filter.seen` must be empty or one list.
    pub fn similar_items(
        &self,
        item: u32,
        k: usize,
        similarity: Similarity,
        filter: &Filter<'_>,
    ) -> Result<Vec<Ranked>, RetrievalError> {
        let query = self.vector(item)?.to_vec();
        let mut scores = vec![0.0; self.num_items()];
        self.products(&query, 0..self.num_items(), &mut scores);
        if similarity == Similarity::Cosine {
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let own = norm(&query);
            for (s, v) in scores.iter_mut().zip(self.vectors.chunks_exact(self.dim)) {
                let denominator = own * norm(v);
                *s = if denominator > 0.0 {
                    *s / denominator
                } else {
                    f32::NAN
                };
            }
        }
        let allowed = self.allowed(filter)?;
        let seen = match filter.seen {
            [] => &[][..],
            [one] => one,
            lists => {
                return Err(RetrievalError::Seen {
                    lists: lists.len(),
                    queries: 1,
                })
            }
        };
        let mut top = TopK::new(k);
        for (id, &score) in scores.iter().enumerate() {
            let id32 = id as u32;
            if id32 != item && allowed[id] && !seen.contains(&id32) {
                top.offer(Ranked { id: id32, score });
            }
        }
        Ok(top.into_sorted())
    }
}

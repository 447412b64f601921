//! Top-k retrieval over a model's item vectors, the serving half of a recommender.
//!
//! A factorization model scores item `i` for a query (a user's vector, a folded-in user, a
//! sequence model's encoded history) as `q · v_i + b_i`. [`ItemIndex`] holds the `v_i` and
//! `b_i` and answers many queries at once exactly: the scores of a block of queries against a
//! block of items are one matrix product (the `gemm` crate's SIMD kernels), and each query
//! keeps its best `k` in a bounded selection, so memory stays `queries x block` whatever the
//! catalog. Blocks of queries run on all cores. [`Filter`] leaves out each query's seen items
//! and applies allow- and deny-lists; [`ItemIndex::similar_items`] ranks items against an item
//! (cosine or dot).
//!
//! With the `hnsw` feature, [`HnswIndex`] answers approximately from a navigable graph built
//! over the same vectors (its recall against exact search is measured in the tests and in
//! `docs/results.md`), and saves to a file beside a model.
//!
//! Ranking order, everywhere: higher score first, then lower item id; items whose score is
//! NaN are never returned.

mod error;
#[cfg(feature = "hnsw")]
mod hnsw;
mod index;
mod select;

pub use error::RetrievalError;
#[cfg(feature = "hnsw")]
pub use hnsw::{HnswConfig, HnswIndex};
pub use index::{Filter, ItemIndex, Similarity};
pub use select::{top_k_naive, Ranked};

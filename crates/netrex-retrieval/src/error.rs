//! The errors of building an index and querying it.

use thiserror::Error;

/// What is wrong with an index or a query.
#[derive(Debug, Error, PartialEq)]
pub enum RetrievalError {
    /// The item vectors do not make whole rows of the dimension.
    #[error("{values} item values do not make rows of dimension {dim}")]
    Ragged {
        /// Values given.
        values: usize,
        /// The dimension asked for.
        dim: usize,
    },
    /// A dimension of zero, or no items.
    #[error(
        "an index needs items and a dimension of at least 1 (got {items} items of dimension {dim})"
    )]
    Empty {
        /// Items given.
        items: usize,
        /// The dimension given.
        dim: usize,
    },
    /// Biases that are not one per item.
    #[error("{biases} item biases for {items} items")]
    Biases {
        /// Biases given.
        biases: usize,
        /// Items in the index.
        items: usize,
    },
    /// Queries that are not rows of the index's dimension.
    #[error("{values} query values do not make queries of dimension {dim}")]
    Query {
        /// Values given.
        values: usize,
        /// The index's dimension.
        dim: usize,
    },
    /// An item id beyond the catalog (in a query, a filter or `similar_items`).
    #[error("item {id} is not in the index ({items} items)")]
    UnknownItem {
        /// The id.
        id: u32,
        /// Items in the index.
        items: usize,
    },
    /// Per-query exclusions that are not one list per query.
    #[error("{lists} lists of seen items for {queries} queries")]
    Seen {
        /// Lists given.
        lists: usize,
        /// Queries given.
        queries: usize,
    },
    /// Settings an index cannot be built with.
    #[error("{0}")]
    Config(String),
    /// A saved index that cannot be read back (cut short, another format, links out of range).
    #[error("corrupt index: {0}")]
    Corrupt(String),
}

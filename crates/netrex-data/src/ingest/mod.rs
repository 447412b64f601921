//! Ingestion through polars: MovieLens releases and any CSV (or Parquet) interaction file.

mod movielens;
#[cfg(feature = "parquet")]
mod parquet;
mod quoting;
mod table;
pub(crate) mod text;
#[cfg(feature = "parquet")]
mod vectors;

pub use movielens::{
    load_movielens, load_movielens_from, load_movielens_split, load_movielens_split_from, locate,
};
#[cfg(feature = "parquet")]
pub use parquet::{load_parquet, read_parquet_table};
pub use table::{load_csv, load_csv_pair, read_csv_table, ColumnMapping, CsvFormat};
#[cfg(feature = "parquet")]
pub use vectors::write_vectors_parquet;

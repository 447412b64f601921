//! Ingestion through polars: MovieLens releases and any CSV (or Parquet) interaction file.

mod movielens;
mod table;
pub(crate) mod text;

pub use movielens::{
    load_movielens, load_movielens_from, load_movielens_split, load_movielens_split_from, locate,
};
pub use table::{load_csv, load_csv_pair, read_csv_table, ColumnMapping, CsvFormat};
#[cfg(feature = "parquet")]
pub use table::{load_parquet, read_parquet_table};

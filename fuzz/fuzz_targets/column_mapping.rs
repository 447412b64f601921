//! The column mapping of CSV and Parquet files: the first line names the user, item,
//! timestamp, rating and weight columns (comma-separated, empty for none); the rest is a CSV
//! file, and the whole input is also read as a Parquet file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netrex_data::ingest::{load_csv, load_parquet, ColumnMapping, CsvFormat};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (spec, body) = data.split_at(split);
    let spec = String::from_utf8_lossy(spec);
    let mut names = spec.split(',').map(str::to_owned);
    let optional = |name: Option<String>| name.filter(|n| !n.is_empty());
    let mut columns = ColumnMapping::new(
        names.next().unwrap_or_default(),
        names.next().unwrap_or_default(),
    );
    columns.timestamp = optional(names.next());
    columns.rating = optional(names.next());
    columns.weight = optional(names.next());
    let dir = common::scratch("mapping");
    let csv = dir.join("table.csv");
    std::fs::write(&csv, body.get(1..).unwrap_or_default()).expect("scratch file");
    let _ = load_csv(&csv, &CsvFormat::default(), &columns, None);
    let parquet = dir.join("table.parquet");
    std::fs::write(&parquet, data).expect("scratch file");
    let _ = load_parquet(&parquet, &columns, None);
});

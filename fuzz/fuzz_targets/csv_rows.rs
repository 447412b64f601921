//! CSV rows under every format option: the first byte picks separator, header and quoting;
//! the rest is the file. Any outcome but a panic is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netrex_data::ingest::{load_csv, ColumnMapping, CsvFormat};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let format = CsvFormat {
        separator: [b',', b'\t', b';', b'|'][usize::from(flags & 3)],
        has_header: flags & 4 == 0,
        quote: (flags & 8 == 0).then_some(b'"'),
    };
    let mut columns = ColumnMapping::new("user", "item");
    if format.has_header {
        columns.timestamp = (flags & 16 != 0).then(|| "ts".to_owned());
        columns.rating = (flags & 32 != 0).then(|| "rating".to_owned());
        columns.weight = (flags & 64 != 0).then(|| "weight".to_owned());
    } else {
        columns = ColumnMapping::new("column_1", "column_2");
    }
    let path = common::scratch("csv").join("rows.csv");
    std::fs::write(&path, body).expect("scratch file");
    let min_rating = (flags & 128 != 0).then_some(3.0);
    let _ = load_csv(&path, &format, &columns, min_rating);
});

//! Reading interaction tables from Parquet files through polars.

use std::path::Path;

use polars::prelude::*;

use super::table::ColumnMapping;
use crate::dataset::{build_dataset, Dataset, RawColumn, RawTable};
use crate::error::{DataError, Result};
use crate::ids::RawId;

/// Reads one Parquet file's mapped columns into a raw table. Ids may be integer or string
/// columns; timestamps any integer type; ratings and weights any numeric type.
#[cfg(feature = "parquet")]
pub fn read_parquet_table(path: &Path, columns: &ColumnMapping) -> Result<RawTable> {
    columns.check()?;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let format_err = |message: String| DataError::Format {
        path: path.to_owned(),
        message,
    };
    // a corrupt file must be an error even if the Parquet decoder panics on it
    let frame = crate::quiet::catch_quietly(|| ParquetReader::new(file).finish())
        .map_err(|_| format_err("not a readable Parquet file".into()))?
        .map_err(|e| format_err(e.to_string()))?;
    if frame.height() == 0 {
        return Err(DataError::Empty {
            what: path.display().to_string(),
        });
    }
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let get = |name: &str| -> Result<Series> {
        frame
            .column(name)
            .map(|c| c.as_materialized_series().clone())
            .map_err(|_| DataError::MissingColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                available: names.join(", "),
            })
    };
    // Parquet rows have no lines: a bad value is reported by its 1-based row.
    let bad =
        |name: &str, row: usize, why: &str| format_err(format!("row {}: {name} {why}", row + 1));
    let ids = |name: &str| -> Result<RawColumn> {
        let s = get(name)?;
        if s.dtype().is_integer() {
            let s = s
                .cast(&DataType::Int64)
                .map_err(|e| format_err(e.to_string()))?;
            let ca = s.i64().map_err(|e| format_err(e.to_string()))?;
            let v: Result<Vec<i64>> = ca
                .iter()
                .enumerate()
                .map(|(r, v)| v.ok_or_else(|| bad(name, r, "is missing")))
                .collect();
            Ok(RawColumn::Int(v?))
        } else {
            let s = s
                .cast(&DataType::String)
                .map_err(|e| format_err(e.to_string()))?;
            let ca = s.str().map_err(|e| format_err(e.to_string()))?;
            let v: Result<Vec<RawId>> = ca
                .iter()
                .enumerate()
                .map(|(r, v)| match v.map(str::trim) {
                    Some(t) if !t.is_empty() => Ok(RawId::parse(t)),
                    _ => Err(bad(name, r, "is missing")),
                })
                .collect();
            Ok(RawColumn::Str(v?))
        }
    };
    let numbers = |name: &str, non_negative: bool| -> Result<Vec<f32>> {
        let s = get(name)?
            .cast(&DataType::Float64)
            .map_err(|e| format_err(e.to_string()))?;
        let ca = s.f64().map_err(|e| format_err(e.to_string()))?;
        ca.iter()
            .enumerate()
            .map(|(r, v)| match v {
                Some(x) if x.is_finite() && (!non_negative || x >= 0.0) => Ok(x as f32),
                Some(_) => Err(bad(name, r, "is not a finite, allowed number")),
                None => Err(bad(name, r, "is missing")),
            })
            .collect()
    };
    let timestamps = |name: &str| -> Result<Vec<i64>> {
        let s = get(name)?;
        if !s.dtype().is_integer() {
            return Err(format_err(format!(
                "{name} must be an integer column, found {}",
                s.dtype()
            )));
        }
        let s = s
            .cast(&DataType::Int64)
            .map_err(|e| format_err(e.to_string()))?;
        let ca = s.i64().map_err(|e| format_err(e.to_string()))?;
        ca.iter()
            .enumerate()
            .map(|(r, v)| v.ok_or_else(|| bad(name, r, "is missing")))
            .collect()
    };
    Ok(RawTable {
        path: path.to_owned(),
        users: ids(&columns.user)?,
        items: ids(&columns.item)?,
        timestamps: columns.timestamp.as_deref().map(timestamps).transpose()?,
        ratings: columns
            .rating
            .as_deref()
            .map(|c| numbers(c, false))
            .transpose()?,
        weights: columns
            .weight
            .as_deref()
            .map(|c| numbers(c, true))
            .transpose()?,
    })
}

/// Loads interactions from a Parquet file.
#[cfg(feature = "parquet")]
pub fn load_parquet(
    path: impl AsRef<Path>,
    columns: &ColumnMapping,
    min_rating: Option<f32>,
) -> Result<Dataset> {
    let table = read_parquet_table(path.as_ref(), columns)?;
    Ok(build_dataset(&[table], min_rating)?.0)
}

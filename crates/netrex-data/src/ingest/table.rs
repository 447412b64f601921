//! Reading interaction tables from CSV (and Parquet) files through polars.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::quoting::quoting_error;
use super::text::{find_bad_line, split_fields, to_utf8, FieldKind, LineCheck};
use crate::dataset::{build_dataset, Dataset, RawColumn, RawTable};
use crate::error::{DataError, Result};
use crate::ids::RawId;
use crate::split::TrainTest;

/// How a delimited text file is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvFormat {
    /// Field separator (one byte).
    pub separator: u8,
    /// Whether the first line names the columns.
    pub has_header: bool,
    /// Quote character, if fields may be quoted.
    pub quote: Option<u8>,
}

impl Default for CsvFormat {
    /// Comma-separated, with a header, `"` quotes.
    fn default() -> Self {
        CsvFormat {
            separator: b',',
            has_header: true,
            quote: Some(b'"'),
        }
    }
}

/// Which columns hold what. Names refer to the header; in a file without one, columns are
/// named `column_1`, `column_2`, and so on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMapping {
    /// The user id column (integers or strings).
    pub user: String,
    /// The item id column (integers or strings).
    pub item: String,
    /// An integer timestamp column.
    pub timestamp: Option<String>,
    /// A numeric rating column.
    pub rating: Option<String>,
    /// A non-negative numeric weight column.
    pub weight: Option<String>,
}

impl ColumnMapping {
    /// User and item columns only.
    pub fn new(user: impl Into<String>, item: impl Into<String>) -> Self {
        ColumnMapping {
            user: user.into(),
            item: item.into(),
            timestamp: None,
            rating: None,
            weight: None,
        }
    }

    /// Adds a timestamp column.
    pub fn timestamp(mut self, name: impl Into<String>) -> Self {
        self.timestamp = Some(name.into());
        self
    }

    /// Adds a rating column.
    pub fn rating(mut self, name: impl Into<String>) -> Self {
        self.rating = Some(name.into());
        self
    }

    /// Adds a weight column.
    pub fn weight(mut self, name: impl Into<String>) -> Self {
        self.weight = Some(name.into());
        self
    }

    /// (name, kind, dtype) of every mapped column; ids are read as text unless `int_ids`.
    /// The mapped names must be distinct and non-empty: one file column cannot be two fields.
    pub(crate) fn check(&self) -> Result<()> {
        let names = [
            Some(&self.user),
            Some(&self.item),
            self.timestamp.as_ref(),
            self.rating.as_ref(),
            self.weight.as_ref(),
        ];
        let names: Vec<&String> = names.into_iter().flatten().collect();
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(DataError::InvalidParameter {
                    name: "columns",
                    message: "a column name in the mapping is empty".into(),
                });
            }
            if names[..i].contains(name) {
                return Err(DataError::InvalidParameter {
                    name: "columns",
                    message: format!(
                        "column {name:?} is mapped to two fields: give each field its own column"
                    ),
                });
            }
        }
        Ok(())
    }

    fn wanted(&self, int_ids: bool) -> Vec<(&str, FieldKind, DataType)> {
        let id = if int_ids {
            (FieldKind::IntId, DataType::Int64)
        } else {
            (FieldKind::Id, DataType::String)
        };
        let mut v = vec![
            (self.user.as_str(), id.0, id.1.clone()),
            (self.item.as_str(), id.0, id.1),
        ];
        if let Some(c) = &self.timestamp {
            v.push((c, FieldKind::Integer, DataType::Int64));
        }
        if let Some(c) = &self.rating {
            v.push((c, FieldKind::Number, DataType::Float64));
        }
        if let Some(c) = &self.weight {
            v.push((c, FieldKind::Weight, DataType::Float64));
        }
        v
    }
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

fn header_names(text: &[u8], format: &CsvFormat) -> Vec<String> {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(first);
    let line = line.trim_end_matches('\r');
    if format.has_header {
        // a name seen before gets a suffix, so that every column has its own name
        let mut names: Vec<String> = Vec::new();
        for field in split_fields(line, format.separator, format.quote) {
            let mut name = field.to_string();
            let mut k = 1;
            while names.contains(&name) {
                name = format!("{field}_{k}");
                k += 1;
            }
            names.push(name);
        }
        names
    } else {
        let n = split_fields(line, format.separator, format.quote).len();
        (1..=n).map(|i| format!("column_{i}")).collect()
    }
}

/// A polars frame from text already decoded to UTF-8, with line-level diagnosis of failures.
pub(crate) struct Parsed {
    pub frame: DataFrame,
    /// Index of each wanted column among the file's fields.
    check_columns: Vec<(usize, String, FieldKind)>,
    num_fields: usize,
}

pub(crate) fn parse_text(
    path: &Path,
    text: Vec<u8>,
    format: &CsvFormat,
    wanted: &[(&str, FieldKind, DataType)],
) -> Result<(Parsed, Vec<u8>)> {
    // a UTF-8 byte-order mark (Excel writes one) is not part of the first column's name
    let text = match text.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => text,
    };
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Empty {
            what: path.display().to_string(),
        });
    }
    let names = header_names(&text, format);
    let mut check_columns = Vec::new();
    for &(name, kind, _) in wanted {
        let idx = names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| DataError::MissingColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                available: names.join(", "),
            })?;
        check_columns.push((idx, name.to_owned(), kind));
    }
    // Every column is read as text except the wanted ones, so an odd column we do not use
    // cannot fail the load.
    let schema: Schema = names
        .iter()
        .map(|n| {
            let dtype = wanted
                .iter()
                .find(|(w, _, _)| w == n)
                .map(|(_, _, d)| d.clone())
                .unwrap_or(DataType::String);
            Field::new(n.as_str().into(), dtype)
        })
        .collect();
    let projection: Vec<PlSmallStr> = wanted
        .iter()
        .map(|(n, _, _)| PlSmallStr::from(*n))
        .collect();
    if let Some((line, what)) = format
        .quote
        .and_then(|q| quoting_error(&text, format.separator, q))
    {
        return Err(DataError::Parse {
            path: path.to_owned(),
            line,
            message: what.into(),
        });
    }
    // polars' reader has panicked on input this module does not foresee (bad quoting did,
    // before the check above): a panic becomes an error, not a crash
    let read = || {
        CsvReadOptions::default()
            .with_has_header(format.has_header)
            .with_schema(Some(Arc::new(schema)))
            .with_columns(Some(projection.into()))
            .with_parse_options(
                CsvParseOptions::default()
                    .with_separator(format.separator)
                    .with_quote_char(format.quote)
                    .with_missing_is_null(true),
            )
            .with_n_threads(Some(1))
            .into_reader_with_file_handle(Cursor::new(text.as_slice()))
            .finish()
    };
    let result = crate::quiet::catch_quietly(read).map_err(|_| DataError::Format {
        path: path.to_owned(),
        message: "the CSV reader failed on this file (a malformed row?)".into(),
    })?;
    let num_fields = names.len();
    let parsed = |frame| Parsed {
        frame,
        check_columns: check_columns.clone(),
        num_fields,
    };
    match result {
        Ok(frame) => Ok((parsed(frame), text)),
        Err(e) => {
            let p = parsed(DataFrame::empty());
            Err(p
                .diagnose(path, &text, format)
                .unwrap_or_else(|| DataError::Format {
                    path: path.to_owned(),
                    message: e.to_string(),
                }))
        }
    }
}

impl Parsed {
    fn diagnose(&self, path: &Path, text: &[u8], format: &CsvFormat) -> Option<DataError> {
        let columns: Vec<(usize, &str, FieldKind)> = self
            .check_columns
            .iter()
            .map(|(i, n, k)| (*i, n.as_str(), *k))
            .collect();
        find_bad_line(
            path,
            text,
            &LineCheck {
                separator: format.separator,
                quote: format.quote,
                has_header: format.has_header,
                num_fields: self.num_fields,
                columns: &columns,
            },
        )
    }

    /// A value polars accepted but we do not (null, NaN, negative weight): blame its line.
    fn reject(
        &self,
        path: &Path,
        text: &[u8],
        format: &CsvFormat,
        column: &str,
        row: usize,
        why: &str,
    ) -> DataError {
        self.diagnose(path, text, format)
            .unwrap_or_else(|| DataError::Format {
                path: path.to_owned(),
                message: format!("data row {} (1-based): {column} {why}", row + 1),
            })
    }
}

/// Reads the mapped columns of one delimited text file (already in memory) into a raw table.
pub(crate) fn table_from_text(
    path: &Path,
    text: Vec<u8>,
    format: &CsvFormat,
    columns: &ColumnMapping,
    int_ids: bool,
) -> Result<RawTable> {
    columns.check()?;
    let wanted = columns.wanted(int_ids);
    let (parsed, text) = parse_text(path, to_utf8(text), format, &wanted)?;
    let frame = &parsed.frame;
    let fail =
        |column: &str, row: usize, why: &str| parsed.reject(path, &text, format, column, row, why);
    let col = |name: &str| -> Result<Series> {
        frame
            .column(name)
            .map(|c| c.as_materialized_series().clone())
            .map_err(|e| DataError::Format {
                path: path.to_owned(),
                message: e.to_string(),
            })
    };
    let polars_err = |e: PolarsError| DataError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let ids = |name: &str| -> Result<RawColumn> {
        let s = col(name)?;
        if int_ids {
            let ca = s.i64().map_err(polars_err)?;
            let mut out = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                out.push(v.ok_or_else(|| fail(name, row, "is missing"))?);
            }
            Ok(RawColumn::Int(out))
        } else {
            let ca = s.str().map_err(polars_err)?;
            let mut out = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                match v.map(str::trim) {
                    Some(t) if !t.is_empty() => out.push(RawId::parse(t)),
                    _ => return Err(fail(name, row, "is missing")),
                }
            }
            Ok(RawColumn::Str(out))
        }
    };
    let ints = |name: &str| -> Result<Vec<i64>> {
        let s = col(name)?;
        let ca = s.i64().map_err(polars_err)?;
        ca.iter()
            .enumerate()
            .map(|(row, v)| v.ok_or_else(|| fail(name, row, "is missing")))
            .collect()
    };
    let floats = |name: &str, non_negative: bool| -> Result<Vec<f32>> {
        let s = col(name)?;
        let ca = s.f64().map_err(polars_err)?;
        ca.iter()
            .enumerate()
            .map(|(row, v)| match v {
                None => Err(fail(name, row, "is missing")),
                Some(x) if !x.is_finite() => Err(fail(name, row, "is not finite")),
                Some(x) if non_negative && x < 0.0 => Err(fail(name, row, "is negative")),
                Some(x) => Ok(x as f32),
            })
            .collect()
    };
    let table = RawTable {
        path: path.to_owned(),
        users: ids(&columns.user)?,
        items: ids(&columns.item)?,
        timestamps: columns.timestamp.as_deref().map(ints).transpose()?,
        ratings: columns
            .rating
            .as_deref()
            .map(|c| floats(c, false))
            .transpose()?,
        weights: columns
            .weight
            .as_deref()
            .map(|c| floats(c, true))
            .transpose()?,
    };
    Ok(table)
}

/// Reads one CSV file's mapped columns into a raw table.
pub fn read_csv_table(
    path: &Path,
    format: &CsvFormat,
    columns: &ColumnMapping,
) -> Result<RawTable> {
    table_from_text(path, read_bytes(path)?, format, columns, false)
}

/// Loads interactions from a CSV file; ratings below `min_rating` are dropped and counted in
/// the report.
pub fn load_csv(
    path: impl AsRef<Path>,
    format: &CsvFormat,
    columns: &ColumnMapping,
    min_rating: Option<f32>,
) -> Result<Dataset> {
    let table = read_csv_table(path.as_ref(), format, columns)?;
    Ok(build_dataset(&[table], min_rating)?.0)
}

/// Loads a train and a test file made elsewhere into one id space.
pub fn load_csv_pair(
    train: impl AsRef<Path>,
    test: impl AsRef<Path>,
    format: &CsvFormat,
    columns: &ColumnMapping,
    min_rating: Option<f32>,
) -> Result<(Dataset, TrainTest)> {
    let tables = [
        read_csv_table(train.as_ref(), format, columns)?,
        read_csv_table(test.as_ref(), format, columns)?,
    ];
    let (dataset, mut parts) = build_dataset(&tables, min_rating)?;
    let test = parts.pop().expect("two tables");
    let train = parts.pop().expect("two tables");
    Ok((dataset, TrainTest { train, test }))
}

/// Reads a two-column (id, title) lookup from a text file; ids are matched as raw ids.
pub(crate) fn read_titles(
    path: &Path,
    text: Vec<u8>,
    format: &CsvFormat,
    id_col: &str,
    title_col: &str,
) -> Result<std::collections::HashMap<RawId, String>> {
    let wanted = [
        (id_col, FieldKind::Id, DataType::String),
        (title_col, FieldKind::Id, DataType::String),
    ];
    let (parsed, text) = parse_text(path, to_utf8(text), format, &wanted)?;
    let err = |e: PolarsError| DataError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let ids = parsed
        .frame
        .column(id_col)
        .map_err(err)?
        .as_materialized_series()
        .clone();
    let titles = parsed
        .frame
        .column(title_col)
        .map_err(err)?
        .as_materialized_series()
        .clone();
    let ids = ids.str().map_err(err)?;
    let titles = titles.str().map_err(err)?;
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for (row, (id, title)) in ids.iter().zip(titles.iter()).enumerate() {
        match id.map(str::trim) {
            Some(id) if !id.is_empty() => {
                out.insert(RawId::parse(id), title.unwrap_or_default().to_owned());
            }
            _ => return Err(parsed.reject(path, &text, format, id_col, row, "is missing")),
        }
    }
    Ok(out)
}

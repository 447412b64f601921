//! The error type of the data phase: loading, validating, splitting and generating data.

use std::path::PathBuf;

/// Everything that can go wrong while reading or preparing interaction data.
///
/// Errors about files name the file, and where one line is at fault, the 1-based line number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A row could not be parsed.
    #[error("{path}, line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
        /// What is wrong with the row.
        message: String,
    },
    /// The file could not be parsed and no single line could be blamed.
    #[error("cannot parse {path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A column named in the mapping is not in the file.
    #[error("{path}: no column {column:?} (columns are: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The columns the file has, comma-separated.
        available: String,
    },
    /// The file or the interaction set holds no interactions.
    #[error("{what} holds no interactions")]
    Empty {
        /// The file, or a description of the data.
        what: String,
    },
    /// A dense id is not below the declared count.
    #[error("{kind} id {id} out of range: there are {count} {kind}s")]
    IdOutOfRange {
        /// "user" or "item".
        kind: &'static str,
        /// The offending dense id.
        id: u64,
        /// The declared number of users or items.
        count: usize,
    },
    /// A raw id has no dense index in the map.
    #[error("unknown {kind} id {id:?}")]
    UnknownId {
        /// "user" or "item".
        kind: &'static str,
        /// The raw id as given.
        id: String,
    },
    /// Columns of one interaction set have different lengths.
    #[error("column {column} has {actual} values, expected {expected}")]
    LengthMismatch {
        /// The column.
        column: &'static str,
        /// Its length.
        actual: usize,
        /// The number of interactions.
        expected: usize,
    },
    /// A rating or weight is NaN, infinite or (for weights) negative.
    #[error("{column} at row {row} is {value}: {why}")]
    InvalidValue {
        /// The column.
        column: &'static str,
        /// 0-based row in the interaction set.
        row: usize,
        /// The value.
        value: f64,
        /// Why it is rejected.
        why: &'static str,
    },
    /// An operation needs timestamps and the interactions have none.
    #[error("{operation} needs timestamps and these interactions have none")]
    MissingTimestamps {
        /// What was asked.
        operation: &'static str,
    },
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// A serialised id map holds the same raw id twice.
    #[error("id map is corrupt: raw id {0:?} appears twice")]
    DuplicateId(String),
    /// The dataset's files are not at any searched location.
    #[error(
        "{dataset} not found; looked in: {searched}. Pass a path, set NETREX_DATA_DIR, \
         or enable the `download` feature"
    )]
    NotFound {
        /// The dataset's name.
        dataset: String,
        /// The folders searched, comma-separated.
        searched: String,
    },
    /// A download failed.
    #[error("downloading {url}: {message}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A downloaded archive does not have the published checksum.
    #[error("{path}: MD5 {actual} does not match the published {expected} (truncated or corrupt download; it was deleted)")]
    Checksum {
        /// The archive.
        path: PathBuf,
        /// The published MD5.
        expected: String,
        /// The MD5 of the bytes received.
        actual: String,
    },
    /// An archive could not be unpacked.
    #[error("{path}: bad archive: {message}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl DataError {
    #[cfg(any(feature = "polars", feature = "download"))]
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn param(name: &'static str, message: impl Into<String>) -> Self {
        DataError::InvalidParameter {
            name,
            message: message.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

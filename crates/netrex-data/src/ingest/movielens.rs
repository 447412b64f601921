//! MovieLens loaders.

use std::path::Path;

use super::table::{read_bytes, read_titles, table_from_text, ColumnMapping, CsvFormat};
use super::text::{replace_double_colon, UNIT_SEPARATOR};
use crate::dataset::{build_dataset, Dataset, RawTable};
use crate::error::Result;
use crate::movielens::{find_folder, Layout, MovieLens, OfficialSplit};
use crate::split::TrainTest;

fn ratings_table(dataset: MovieLens, path: &Path) -> Result<RawTable> {
    let bytes = read_bytes(path)?;
    let positional = || {
        ColumnMapping::new("column_1", "column_2")
            .rating("column_3")
            .timestamp("column_4")
    };
    match dataset.layout() {
        Layout::Tab100k => {
            let format = CsvFormat {
                separator: b'\t',
                has_header: false,
                quote: None,
            };
            table_from_text(path, bytes, &format, &positional(), true)
        }
        Layout::DoubleColon => {
            let format = CsvFormat {
                separator: UNIT_SEPARATOR,
                has_header: false,
                quote: None,
            };
            table_from_text(
                path,
                replace_double_colon(&bytes),
                &format,
                &positional(),
                true,
            )
        }
        Layout::Csv => {
            let columns = ColumnMapping::new("userId", "movieId")
                .rating("rating")
                .timestamp("timestamp");
            table_from_text(path, bytes, &CsvFormat::default(), &columns, true)
        }
    }
}

fn attach_titles(dataset: MovieLens, dir: &Path, data: Dataset) -> Result<Dataset> {
    let path = dir.join(dataset.items_file());
    if !path.is_file() {
        return Ok(data);
    }
    let bytes = read_bytes(&path)?;
    let titles = match dataset.layout() {
        Layout::Tab100k => {
            let format = CsvFormat {
                separator: b'|',
                has_header: false,
                quote: None,
            };
            read_titles(&path, bytes, &format, "column_1", "column_2")?
        }
        Layout::DoubleColon => {
            let format = CsvFormat {
                separator: UNIT_SEPARATOR,
                has_header: false,
                quote: None,
            };
            read_titles(
                &path,
                replace_double_colon(&bytes),
                &format,
                "column_1",
                "column_2",
            )?
        }
        Layout::Csv => read_titles(&path, bytes, &CsvFormat::default(), "movieId", "title")?,
    };
    Ok(data.with_titles(&titles))
}

/// Loads every rating of a release from `dir` (the release's folder), with titles when the
/// item file is there. Ratings below `min_rating` are dropped and counted; `None` keeps every
/// rating as an interaction, as the talk does.
pub fn load_movielens_from(
    dataset: MovieLens,
    dir: &Path,
    min_rating: Option<f32>,
) -> Result<Dataset> {
    let table = ratings_table(dataset, &dir.join(dataset.ratings_file()))?;
    let (data, _) = build_dataset(&[table], min_rating)?;
    attach_titles(dataset, dir, data)
}

/// Loads one of ML-100K's official splits from `dir`; train and test share one id space
/// (the union of their ids), and the dataset holds both.
pub fn load_movielens_split_from(
    dir: &Path,
    split: OfficialSplit,
    min_rating: Option<f32>,
) -> Result<(Dataset, TrainTest)> {
    let (train_file, test_file) = split.files();
    let tables = [
        ratings_table(MovieLens::Ml100k, &dir.join(train_file))?,
        ratings_table(MovieLens::Ml100k, &dir.join(test_file))?,
    ];
    let (data, mut parts) = build_dataset(&tables, min_rating)?;
    let test = parts.pop().expect("two tables");
    let train = parts.pop().expect("two tables");
    Ok((
        attach_titles(MovieLens::Ml100k, dir, data)?,
        TrainTest { train, test },
    ))
}

/// Finds the release (see [`find_folder`]; with the `download` feature, fetches it into the
/// cache when it is nowhere) and loads it.
pub fn load_movielens(
    dataset: MovieLens,
    path: Option<&Path>,
    min_rating: Option<f32>,
) -> Result<Dataset> {
    let dir = locate(dataset, path)?;
    load_movielens_from(dataset, &dir, min_rating)
}

/// Finds ML-100K as [`load_movielens`] does and loads an official split.
pub fn load_movielens_split(
    path: Option<&Path>,
    split: OfficialSplit,
    min_rating: Option<f32>,
) -> Result<(Dataset, TrainTest)> {
    let dir = locate(MovieLens::Ml100k, path)?;
    load_movielens_split_from(&dir, split, min_rating)
}

/// The release's folder, downloading it into the cache when allowed and needed.
pub fn locate(dataset: MovieLens, path: Option<&Path>) -> Result<std::path::PathBuf> {
    match find_folder(dataset, path) {
        Ok(dir) => Ok(dir),
        #[cfg(feature = "download")]
        Err(crate::error::DataError::NotFound { .. }) if path.is_none() => {
            let cache = crate::movielens::cache_dir().ok_or_else(|| {
                crate::error::DataError::param(
                    "cache",
                    "no cache folder: set NETREX_CACHE_DIR or HOME",
                )
            })?;
            crate::download::fetch_movielens(dataset, &cache)
        }
        Err(e) => Err(e),
    }
}

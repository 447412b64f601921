//! Sequence files, one user a line: `user item item ...`, items in time order, separated by
//! whitespace. The S3Rec-preprocessed Amazon datasets the sequential-recommendation literature
//! benchmarks on (Beauty, Sports and Outdoors) come in this form. Needs no polars.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, LoadReport};
use crate::error::{DataError, Result};
use crate::ids::{IdMap, RawId};
use crate::interactions::Interactions;
use crate::movielens::cache_dir;

/// Reads a sequence file. Raw user and item ids are mapped to dense ids like any dataset's
/// (in order of first appearance); each interaction's timestamp is its position in its line,
/// so the order survives every split. A line with a user but no item, or a user on two lines,
/// is an error naming the line; blank lines are skipped.
pub fn read_sequence_file(path: &Path) -> Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_sequences(&text, path)
}

/// [`read_sequence_file`] on text already read (`path` names it in errors).
pub fn parse_sequences(text: &str, path: &Path) -> Result<Dataset> {
    let mut users = IdMap::new();
    let mut items = IdMap::new();
    let (mut user_ids, mut item_ids, mut positions) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows_read = 0;
    for (index, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(user) = words.next() else {
            continue;
        };
        rows_read += 1;
        let parse = |message: String| DataError::Parse {
            path: path.to_owned(),
            line: index + 1,
            message,
        };
        let before = users.len();
        let u = users.get_or_insert(RawId::parse(user));
        if users.len() == before {
            return Err(parse(format!("user {user:?} already has a line")));
        }
        let start = item_ids.len();
        for (position, item) in words.enumerate() {
            user_ids.push(u);
            item_ids.push(items.get_or_insert(RawId::parse(item)));
            positions.push(position as i64);
        }
        if item_ids.len() == start {
            return Err(parse(format!("user {user:?} has no items")));
        }
    }
    if item_ids.is_empty() {
        return Err(DataError::Empty {
            what: path.display().to_string(),
        });
    }
    let rows_kept = item_ids.len();
    let interactions = Interactions::new(user_ids, item_ids, users.len(), items.len())?
        .with_timestamps(positions)?;
    Ok(Dataset {
        interactions,
        users,
        items,
        item_titles: None,
        report: LoadReport {
            files: vec![path.to_owned()],
            rows_read,
            rows_kept,
            ..LoadReport::default()
        },
    })
}

/// The Amazon review datasets as S3Rec preprocessed them (5-core, time-ordered sequences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmazonS3Rec {
    /// `Beauty.txt`: 22,363 users, 12,101 items, 198,502 interactions.
    Beauty,
    /// `Sports_and_Outdoors.txt`: 35,598 users, 18,357 items, 296,337 interactions.
    Sports,
}

impl AmazonS3Rec {
    /// The folder the files sit in, under the data folder.
    pub const FOLDER: &'static str = "amazon-s3rec";

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AmazonS3Rec::Beauty => "amazon-beauty",
            AmazonS3Rec::Sports => "amazon-sports",
        }
    }

    /// The file's name.
    pub fn file_name(self) -> &'static str {
        match self {
            AmazonS3Rec::Beauty => "Beauty.txt",
            AmazonS3Rec::Sports => "Sports_and_Outdoors.txt",
        }
    }

    /// Where the file is, searched in order: `explicit` (the file's folder or its parent),
    /// then `$NETREX_DATA_DIR/amazon-s3rec`, then the cache folder's. These files cannot be
    /// downloaded from an official address: place them by hand.
    pub fn find(self, explicit: Option<&Path>) -> Result<PathBuf> {
        let mut folders: Vec<PathBuf> = Vec::new();
        if let Some(p) = explicit {
            folders.push(p.to_owned());
            folders.push(p.join(Self::FOLDER));
        } else {
            if let Some(dir) = std::env::var_os("NETREX_DATA_DIR") {
                folders.push(PathBuf::from(dir).join(Self::FOLDER));
            }
            if let Some(cache) = cache_dir() {
                folders.push(cache.join(Self::FOLDER));
            }
        }
        let files: Vec<PathBuf> = folders.iter().map(|f| f.join(self.file_name())).collect();
        files
            .iter()
            .find(|f| f.is_file())
            .cloned()
            .ok_or_else(|| DataError::NotFound {
                dataset: self.name().to_owned(),
                searched: files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Reads the dataset (see [`find`](Self::find) for where from).
    pub fn load(self, explicit: Option<&Path>) -> Result<Dataset> {
        read_sequence_file(&self.find(explicit)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_time_ordered_interactions_over_dense_ids() {
        let data = parse_sequences("7 3 9 3\n\n2 9 1\n", Path::new("s.txt")).unwrap();
        let x = &data.interactions;
        assert_eq!((x.num_users(), x.num_items(), x.len()), (2, 3, 5));
        assert_eq!(x.histories().get(0), &[0, 1, 0]);
        assert_eq!(x.histories().get(1), &[1, 2]);
        assert_eq!(data.users.raw_ids(), &[RawId::Int(7), RawId::Int(2)]);
        assert_eq!(data.report.rows_read, 2);
    }

    #[test]
    fn bad_lines_are_errors_that_name_them() {
        let err = parse_sequences("1 2 3\n2\n", Path::new("s.txt")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse_sequences("1 2\n1 3\n", Path::new("s.txt")).unwrap_err();
        assert!(err.to_string().contains("already has a line"), "{err}");
        let err = parse_sequences("\n \n", Path::new("s.txt")).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
    }
}

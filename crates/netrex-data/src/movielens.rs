//! The MovieLens datasets: names, archive addresses and checksums, and (with the `polars`
//! feature) their loaders.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::DataError;

/// A MovieLens release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MovieLens {
    /// 100,000 ratings (`u.data`), with the official `ua`/`ub` and `u1`..`u5` splits.
    Ml100k,
    /// 1M ratings (`ratings.dat`, `::`-separated).
    Ml1m,
    /// 10M ratings (`ratings.dat`, `::`-separated).
    Ml10m,
    /// 20M ratings (`ratings.csv`).
    Ml20m,
    /// 25M ratings (`ratings.csv`).
    Ml25m,
    /// 32M ratings (`ratings.csv`).
    Ml32m,
    /// The small "latest" release (`ratings.csv`).
    LatestSmall,
    /// The full "latest" release (`ratings.csv`).
    Latest,
}

/// How a release's files are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `u.data` (tab) and `u.item` (`|`).
    Tab100k,
    /// `ratings.dat` and `movies.dat`, `::`-separated.
    DoubleColon,
    /// `ratings.csv` and `movies.csv` with headers.
    Csv,
}

impl MovieLens {
    /// Every release, smallest first.
    pub const ALL: [MovieLens; 8] = [
        MovieLens::Ml100k,
        MovieLens::Ml1m,
        MovieLens::Ml10m,
        MovieLens::Ml20m,
        MovieLens::Ml25m,
        MovieLens::Ml32m,
        MovieLens::LatestSmall,
        MovieLens::Latest,
    ];

    /// The name used on the command line and in archive names, e.g. `ml-100k`.
    pub fn name(self) -> &'static str {
        match self {
            MovieLens::Ml100k => "ml-100k",
            MovieLens::Ml1m => "ml-1m",
            MovieLens::Ml10m => "ml-10m",
            MovieLens::Ml20m => "ml-20m",
            MovieLens::Ml25m => "ml-25m",
            MovieLens::Ml32m => "ml-32m",
            MovieLens::LatestSmall => "ml-latest-small",
            MovieLens::Latest => "ml-latest",
        }
    }

    /// The folder the archive unpacks to (ML-10M's is `ml-10M100K`).
    pub fn folder(self) -> &'static str {
        match self {
            MovieLens::Ml10m => "ml-10M100K",
            other => other.name(),
        }
    }

    /// The official archive address.
    pub fn url(self) -> String {
        format!(
            "https://files.grouplens.org/datasets/movielens/{}.zip",
            self.name()
        )
    }

    /// The MD5 GroupLens publishes for the archive. The 32M and "latest" archives have none
    /// recorded here (the latest ones change over time), so they are never downloaded
    /// unverified: place their files by hand.
    pub fn md5(self) -> Option<&'static str> {
        match self {
            MovieLens::Ml100k => Some("0e33842e24a9c977be4e0107933c0723"),
            MovieLens::Ml1m => Some("c4d9eecfca2ab87c1945afe126590906"),
            MovieLens::Ml10m => Some("ce571fd55effeba0271552578f2648bd"),
            MovieLens::Ml20m => Some("cd245b17a1ae2cc31bb14903e1204af3"),
            MovieLens::Ml25m => Some("6b51fb2759a8657d3bfcbfc42b592ada"),
            MovieLens::Ml32m | MovieLens::LatestSmall | MovieLens::Latest => None,
        }
    }

    pub(crate) fn layout(self) -> Layout {
        match self {
            MovieLens::Ml100k => Layout::Tab100k,
            MovieLens::Ml1m | MovieLens::Ml10m => Layout::DoubleColon,
            _ => Layout::Csv,
        }
    }

    /// The ratings file inside the folder.
    pub fn ratings_file(self) -> &'static str {
        match self.layout() {
            Layout::Tab100k => "u.data",
            Layout::DoubleColon => "ratings.dat",
            Layout::Csv => "ratings.csv",
        }
    }

    /// The item (title) file inside the folder.
    pub fn items_file(self) -> &'static str {
        match self.layout() {
            Layout::Tab100k => "u.item",
            Layout::DoubleColon => "movies.dat",
            Layout::Csv => "movies.csv",
        }
    }
}

impl fmt::Display for MovieLens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MovieLens {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        MovieLens::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = MovieLens::ALL.iter().map(|m| m.name()).collect();
                DataError::param(
                    "dataset",
                    format!("unknown dataset {s:?}; known: {}", names.join(", ")),
                )
            })
    }
}

/// An official ML-100K train/test split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfficialSplit {
    /// `ua.base` / `ua.test`: exactly 10 ratings per user in test.
    Ua,
    /// `ub.base` / `ub.test`: a second such split.
    Ub,
    /// `uK.base` / `uK.test`, K in 1..=5: the five-fold cross-validation splits.
    Fold(u8),
}

impl OfficialSplit {
    /// The (train, test) file names.
    pub fn files(self) -> (String, String) {
        let stem = match self {
            OfficialSplit::Ua => "ua".to_owned(),
            OfficialSplit::Ub => "ub".to_owned(),
            OfficialSplit::Fold(k) => format!("u{k}"),
        };
        (format!("{stem}.base"), format!("{stem}.test"))
    }
}

impl FromStr for OfficialSplit {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "ua" => Ok(OfficialSplit::Ua),
            "ub" => Ok(OfficialSplit::Ub),
            _ => match s.strip_prefix('u').and_then(|k| k.parse::<u8>().ok()) {
                Some(k @ 1..=5) => Ok(OfficialSplit::Fold(k)),
                _ => Err(DataError::param(
                    "split",
                    format!("{s:?} is not ua, ub or u1..u5"),
                )),
            },
        }
    }
}

/// Where a release's folder is, searched in order: `explicit` (the folder itself or its
/// parent), then `$NETREX_DATA_DIR`, then the cache folder. An explicit path that does not
/// hold the data is an error, not a reason to look elsewhere.
pub fn find_folder(dataset: MovieLens, explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    let holds = |dir: &Path| dir.join(dataset.ratings_file()).is_file();
    let mut searched = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_owned());
        candidates.push(p.join(dataset.folder()));
    } else {
        if let Some(dir) = std::env::var_os("NETREX_DATA_DIR") {
            candidates.push(PathBuf::from(dir).join(dataset.folder()));
        }
        if let Some(cache) = cache_dir() {
            candidates.push(cache.join(dataset.folder()));
        }
    }
    for c in candidates {
        if holds(&c) {
            return Ok(c);
        }
        searched.push(c.display().to_string());
    }
    Err(DataError::NotFound {
        dataset: dataset.name().to_owned(),
        searched: searched.join(", "),
    })
}

/// The per-user cache folder: `$NETREX_CACHE_DIR`, else `$XDG_CACHE_HOME/netrex`, else
/// `$HOME/.cache/netrex`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("NETREX_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("netrex"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("netrex"))
}

/// The data folder for a workspace crate's tests: `$NETREX_DATA_DIR`, a relative value taken
/// from the workspace root (cargo runs tests in the crate's folder, while the README's command
/// runs from the root), else the workspace's `../shared/data`. `crate_dir` is the crate's
/// `CARGO_MANIFEST_DIR`, two folders below the root. Behind the `testing` feature: a helper
/// for the workspace's tests, not API.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn testing_data_dir(crate_dir: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(crate_dir).join("../..");
    match std::env::var_os("NETREX_DATA_DIR").map(std::path::PathBuf::from) {
        Some(dir) if dir.is_relative() => root.join(dir),
        Some(dir) => dir,
        None => root.join("../shared/data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in MovieLens::ALL {
            assert_eq!(m.name().parse::<MovieLens>().unwrap(), m);
        }
        assert!("ml-7".parse::<MovieLens>().is_err());
        assert_eq!(
            "u3".parse::<OfficialSplit>().unwrap(),
            OfficialSplit::Fold(3)
        );
        assert!("u9".parse::<OfficialSplit>().is_err());
    }

    #[test]
    fn explicit_path_that_lacks_data_is_an_error() {
        let err = find_folder(MovieLens::Ml100k, Some(Path::new("/nonexistent/x"))).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    }
}

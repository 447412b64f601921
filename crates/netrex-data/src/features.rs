//! Side features of users or items: one sparse row of `(feature, weight)` per dense id, the
//! feature names in an [`IdMap`]. Read from a file of `raw id, feature[, weight]` rows, with raw
//! ids mapped through the dataset's map; ids the interactions never mention are added to it
//! (their rows are what scoring a cold user or item needs).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::ids::{IdMap, RawId};

/// Sparse feature rows: row `id` holds the features of dense id `id` with their weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Features {
    names: IdMap<String>,
    /// `rows + 1` offsets into `columns` and `weights`.
    offsets: Vec<usize>,
    columns: Vec<u32>,
    weights: Vec<f32>,
}

impl Features {
    /// Rows (dense ids) covered; ids at or beyond it have no features.
    pub fn num_rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Distinct features.
    pub fn num_features(&self) -> usize {
        self.names.len()
    }

    /// The features' names, by feature index.
    pub fn names(&self) -> &IdMap<String> {
        &self.names
    }

    /// Feature indices and weights of dense id `id` (empty beyond [`num_rows`](Self::num_rows)).
    pub fn row(&self, id: u32) -> (&[u32], &[f32]) {
        let id = id as usize;
        if id >= self.num_rows() {
            return (&[], &[]);
        }
        let range = self.offsets[id]..self.offsets[id + 1];
        (&self.columns[range.clone()], &self.weights[range])
    }

    /// Stored `(row, feature, weight)` entries.
    pub fn nnz(&self) -> usize {
        self.columns.len()
    }

    /// Each row's weights divided by their sum (LightFM's usual normalisation); a row whose
    /// weights sum to zero is kept as it is.
    pub fn normalised(&self) -> Features {
        let mut out = self.clone();
        for r in 0..self.num_rows() {
            let range = self.offsets[r]..self.offsets[r + 1];
            let sum: f32 = out.weights[range.clone()].iter().sum();
            if sum != 0.0 {
                out.weights[range].iter_mut().for_each(|w| *w /= sum);
            }
        }
        out
    }

    /// The same rows with `rows` rows (empty ones added at the end); never drops a row.
    pub fn with_rows(mut self, rows: usize) -> Features {
        let end = *self.offsets.last().unwrap_or(&0);
        while self.offsets.len() < rows + 1 {
            self.offsets.push(end);
        }
        self
    }
}

/// Builds [`Features`] row by row; a feature is named the first time it is used.
#[derive(Clone, Debug, Default)]
pub struct FeaturesBuilder {
    names: IdMap<String>,
    rows: Vec<Vec<(u32, f32)>>,
}

impl FeaturesBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds feature `name` with `weight` to dense id `id`. Returns `false` (and changes
    /// nothing) if `id` already has that feature.
    pub fn add(&mut self, id: u32, name: &str, weight: f32) -> bool {
        let feature = self.names.get_or_insert(name.to_owned());
        let id = id as usize;
        if self.rows.len() <= id {
            self.rows.resize_with(id + 1, Vec::new);
        }
        if self.rows[id].iter().any(|&(f, _)| f == feature) {
            return false;
        }
        self.rows[id].push((feature, weight));
        true
    }

    /// The rows built, features of each row in the order added.
    pub fn build(self) -> Features {
        let mut offsets = Vec::with_capacity(self.rows.len() + 1);
        let (mut columns, mut weights) = (Vec::new(), Vec::new());
        offsets.push(0);
        for row in self.rows {
            for (f, w) in row {
                columns.push(f);
                weights.push(w);
            }
            offsets.push(columns.len());
        }
        Features {
            names: self.names,
            offsets,
            columns,
            weights,
        }
    }
}

/// First fields that make a file's first line a header.
const HEADER_NAMES: [&str; 8] = [
    "id", "user", "item", "user_id", "item_id", "userid", "itemid", "movieid",
];

/// Reads a feature file: one `raw id, feature[, weight]` row a line, separated by commas or
/// tabs (weight 1 when absent), `#` comments and blank lines skipped; a first line whose first
/// field is `id`, `user`, `item`, `user_id`, `item_id`, `userId`, `itemId` or `movieId` (any
/// case) is a header. Raw ids
/// go through `ids` (`kind`: "user" or "item", for messages); unknown ones are added to it.
/// A malformed row, a weight that is not a finite number, or a feature given twice for one
/// id is an error naming the line.
pub fn read_feature_file(
    path: &Path,
    kind: &'static str,
    ids: &mut IdMap<RawId>,
) -> Result<Features> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_features(&text, path, kind, ids)
}

/// The largest feature weight a file may give.
pub const MAX_WEIGHT: f32 = 1e6;

/// [`read_feature_file`] on text already read (`path` names it in errors).
pub fn parse_features(
    text: &str,
    path: &Path,
    kind: &'static str,
    ids: &mut IdMap<RawId>,
) -> Result<Features> {
    let mut builder = FeaturesBuilder::new();
    let mut first = true;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |message: String| DataError::Parse {
            path: path.to_owned(),
            line: index + 1,
            message,
        };
        let separator = if line.contains('\t') { '\t' } else { ',' };
        let fields: Vec<&str> = line.split(separator).map(str::trim).collect();
        let header = std::mem::take(&mut first)
            && HEADER_NAMES
                .iter()
                .any(|name| fields[0].eq_ignore_ascii_case(name));
        if header {
            continue;
        }
        if !(2..=3).contains(&fields.len()) || fields[0].is_empty() || fields[1].is_empty() {
            return Err(error(format!(
                "expected `{kind} id, feature[, weight]`, got {line:?}"
            )));
        }
        let weight = match fields.get(2) {
            None => 1.0,
            Some(w) => match w.parse::<f32>() {
                Ok(v) if (0.0..=MAX_WEIGHT).contains(&v) => v,
                _ => {
                    return Err(error(format!(
                        "weight {w:?} is not a number in [0, {MAX_WEIGHT:e}] (weights are \
                         relative importances: a negative one flips a feature's sign, a huge one \
                         overflows the sums)"
                    )))
                }
            },
        };
        let id = ids.get_or_insert(RawId::parse(fields[0]));
        if !builder.add(id, fields[1], weight) {
            return Err(error(format!(
                "{kind} {} has feature {:?} twice",
                fields[0], fields[1]
            )));
        }
    }
    let features = builder.build();
    if features.nnz() == 0 {
        return Err(DataError::Empty {
            what: format!("{} (no {kind} features)", path.display()),
        });
    }
    // a row of zero weights would make its id the zero vector (normalising divides by zero)
    for row in 0..features.num_rows() as u32 {
        let (f, w) = features.row(row);
        if !f.is_empty() && w.iter().all(|&w| w == 0.0) {
            let raw = ids.raw(row).map(ToString::to_string).unwrap_or_default();
            return Err(DataError::Format {
                path: path.to_owned(),
                message: format!("{kind} {raw}: every weight is 0; give at least one positive"),
            });
        }
    }
    Ok(features.with_rows(ids.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, ids: &mut IdMap<RawId>) -> Result<Features> {
        parse_features(text, Path::new("f.csv"), "item", ids)
    }

    #[test]
    fn rows_map_raw_ids_and_keep_unknown_ones() {
        let mut ids = IdMap::from_raw(vec![RawId::Int(10), RawId::Int(20)]).unwrap();
        let f = parse(
            "id,feature,weight\n20,genre:drama,0.5\n# comment\n\n10,genre:drama\n30,genre:comedy,2\n",
            &mut ids,
        )
        .unwrap();
        assert_eq!(ids.len(), 3, "item 30 is new: it gets the next dense id");
        assert_eq!(f.num_rows(), 3);
        assert_eq!(f.num_features(), 2);
        assert_eq!(f.row(1), (&[0u32][..], &[0.5f32][..]));
        assert_eq!(f.row(0), (&[0u32][..], &[1.0f32][..]));
        assert_eq!(f.row(2), (&[1u32][..], &[2.0f32][..]));
        assert_eq!(f.row(7), (&[][..], &[][..]));
        let n = f.normalised();
        assert_eq!(n.row(2).1, &[1.0]);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let mut ids = IdMap::new();
        for (text, line, what) in [
            ("1,a\n2\n", 2, "expected"),
            ("1,a,x\n", 1, "not a number in [0, 1e6]"),
            ("1,a\n1,b,NaN\n", 2, "not a number in [0, 1e6]"),
            ("1,a\n1,b,-0.5\n", 2, "flips a feature's sign"),
            ("1,a,1e38\n", 1, "overflows"),
            ("1,a\n1,a\n", 2, "twice"),
            ("1,a,1,2\n", 1, "expected"),
        ] {
            let err = parse(text, &mut ids).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}")), "{text:?}: {err}");
            assert!(err.contains(what), "{text:?}: {err}");
        }
        assert!(parse("# nothing\n", &mut ids).is_err());
        let zero = parse("1,a,0\n1,b,0\n2,a\n", &mut ids)
            .unwrap_err()
            .to_string();
        assert!(zero.contains("item 1: every weight is 0"), "{zero}");
        // a zero beside a positive weight is fine, and so is a byte-order mark
        assert!(parse("\u{feff}1,a,0\n1,b,2\n", &mut ids).is_ok());
    }

    #[test]
    fn normalising_leaves_rows_summing_to_one() {
        let mut b = FeaturesBuilder::new();
        b.add(0, "a", 1.0);
        b.add(0, "b", 3.0);
        b.add(2, "a", 0.0);
        let f = b.build().normalised();
        assert_eq!(f.row(0).1, &[0.25, 0.75]);
        assert_eq!(f.row(1).0.len(), 0);
        assert_eq!(f.row(2).1, &[0.0]);
    }
}

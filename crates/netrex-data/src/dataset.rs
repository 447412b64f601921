//! A loaded dataset: dense interactions plus the id maps and titles that turn them back into
//! the source's terms, and a report of what loading kept and dropped.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::ids::{IdMap, RawId};
use crate::interactions::Interactions;

/// What a load read, kept and filtered out. Nothing is dropped without being counted here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The files read.
    pub files: Vec<PathBuf>,
    /// Data rows read from them.
    pub rows_read: usize,
    /// Rows kept as interactions.
    pub rows_kept: usize,
    /// Rows dropped because their rating was below the minimum.
    pub below_min_rating: usize,
    /// Rows dropped because their item had too few interactions
    /// ([`Dataset::keep_items_with_at_least`]).
    #[serde(default)]
    pub below_min_item_count: usize,
}

/// Interactions over dense ids with the maps back to raw ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// All interactions kept, over dense ids.
    pub interactions: Interactions,
    /// Raw user id of each dense user index.
    pub users: IdMap<RawId>,
    /// Raw item id of each dense item index.
    pub items: IdMap<RawId>,
    /// Title of each dense item index, where the source has titles ("" when unknown).
    pub item_titles: Option<Vec<String>>,
    /// What loading did.
    pub report: LoadReport,
}

impl Dataset {
    /// The title of a dense item, if known.
    pub fn title(&self, item: u32) -> Option<&str> {
        let t = self.item_titles.as_ref()?.get(item as usize)?;
        (!t.is_empty()).then_some(t.as_str())
    }

    /// Keeps the items with at least `min_count` interactions (one pass: users are not
    /// filtered, and an item is counted before any other is dropped), renumbering them in
    /// their old order; the dropped rows are counted in the report.
    pub fn keep_items_with_at_least(mut self, min_count: u32) -> Result<Dataset> {
        let counts = self.interactions.item_counts();
        let mut new_id = vec![u32::MAX; counts.len()];
        let mut raw = Vec::new();
        for (i, &c) in counts.iter().enumerate() {
            if c >= min_count {
                new_id[i] = raw.len() as u32;
                raw.push(self.items.raw_ids()[i].clone());
            }
        }
        let x = &self.interactions;
        let kept = x.filter(|r| new_id[x.items()[r] as usize] != u32::MAX);
        let dropped = x.len() - kept.len();
        let items = kept.items().iter().map(|&i| new_id[i as usize]).collect();
        let mut renumbered =
            Interactions::new(kept.users().to_vec(), items, kept.num_users(), raw.len())?;
        if let Some(r) = kept.ratings() {
            renumbered = renumbered.with_ratings(r.to_vec())?;
        }
        if let Some(t) = kept.timestamps() {
            renumbered = renumbered.with_timestamps(t.to_vec())?;
        }
        if let Some(w) = kept.weights() {
            renumbered = renumbered.with_weights(w.to_vec())?;
        }
        self.item_titles = self.item_titles.map(|titles| {
            titles
                .into_iter()
                .enumerate()
                .filter(|&(i, _)| new_id[i] != u32::MAX)
                .map(|(_, t)| t)
                .collect()
        });
        self.items = IdMap::from_raw(raw)?;
        self.interactions = renumbered;
        self.report.rows_kept -= dropped;
        self.report.below_min_item_count += dropped;
        Ok(self)
    }

    /// Attaches titles given by raw item id; items without one get "".
    pub fn with_titles(mut self, titles: &HashMap<RawId, String>) -> Self {
        let by_index = self
            .items
            .raw_ids()
            .iter()
            .map(|raw| titles.get(raw).cloned().unwrap_or_default())
            .collect();
        self.item_titles = Some(by_index);
        self
    }
}

/// One column of raw ids, kept typed so integer ids cost 8 bytes, not a string each.
#[derive(Clone, Debug, PartialEq)]
pub enum RawColumn {
    /// Integer ids.
    Int(Vec<i64>),
    /// String ids (already canonicalised with [`RawId::parse`] where they look like integers).
    Str(Vec<RawId>),
    /// Ids as codes into a list of distinct ids (a factorized or categorical column): row `r`
    /// is `uniques[codes[r]]`. Mapped like `Str`, without an id per row.
    Coded {
        /// Each row's index into `uniques`.
        codes: Vec<u32>,
        /// The distinct ids (canonicalised as in `Str`).
        uniques: Vec<RawId>,
    },
}

impl RawColumn {
    fn len(&self) -> usize {
        match self {
            RawColumn::Int(v) => v.len(),
            RawColumn::Str(v) => v.len(),
            RawColumn::Coded { codes, .. } => codes.len(),
        }
    }

    /// A code beyond a coded column's ids is an error naming its row.
    fn check(&self, path: &std::path::Path) -> Result<()> {
        if let RawColumn::Coded { codes, uniques } = self {
            if let Some(row) = codes.iter().position(|&c| c as usize >= uniques.len()) {
                return Err(DataError::param(
                    "codes",
                    format!(
                        "{}: row {row} has code {} but there are {} ids",
                        path.display(),
                        codes[row],
                        uniques.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// For a coded column, which of its distinct ids the kept rows use.
    fn used(codes: &[u32], uniques: usize, keep: &[bool]) -> Vec<bool> {
        let mut used = vec![false; uniques];
        for (&c, _) in codes.iter().zip(keep).filter(|(_, &k)| k) {
            used[c as usize] = true;
        }
        used
    }
}

/// One file's rows before id mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTable {
    /// Where the rows came from (for error messages).
    pub path: PathBuf,
    /// Raw user ids.
    pub users: RawColumn,
    /// Raw item ids.
    pub items: RawColumn,
    /// Ratings, if the source has them.
    pub ratings: Option<Vec<f32>>,
    /// Timestamps, if the source has them.
    pub timestamps: Option<Vec<i64>>,
    /// Weights, if the source has them.
    pub weights: Option<Vec<f32>>,
}

impl RawTable {
    fn len(&self) -> usize {
        self.users.len()
    }
}

/// Builds a map over the raw ids of the kept rows of all tables, in sorted raw-id order, so
/// dense ids are independent of row order (and MovieLens' 1..=n become 0..n).
fn id_map<'a>(columns: impl Iterator<Item = (&'a RawColumn, &'a [bool])>) -> IdMap<RawId> {
    let columns: Vec<_> = columns.collect();
    let all_int = columns.iter().all(|(c, _)| matches!(c, RawColumn::Int(_)));
    let raws: Vec<RawId> = if all_int {
        let mut ids: Vec<i64> = Vec::new();
        for (c, keep) in &columns {
            if let RawColumn::Int(v) = c {
                ids.extend(
                    v.iter()
                        .zip(keep.iter())
                        .filter(|(_, &k)| k)
                        .map(|(&id, _)| id),
                );
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(RawId::Int).collect()
    } else {
        // distinct ids first (hashing borrowed strings), then the few distinct ones sorted:
        // millions of rows name far fewer ids, and cloning and sorting every row's id costs
        // seconds
        let mut distinct: HashSet<&RawId> = HashSet::new();
        let mut ints: Vec<RawId> = Vec::new();
        for (c, keep) in &columns {
            match c {
                RawColumn::Str(v) => distinct.extend(
                    v.iter()
                        .zip(keep.iter())
                        .filter(|(_, &k)| k)
                        .map(|(id, _)| id),
                ),
                RawColumn::Int(v) => ints.extend(
                    v.iter()
                        .zip(keep.iter())
                        .filter(|(_, &k)| k)
                        .map(|(&id, _)| RawId::Int(id)),
                ),
                RawColumn::Coded { codes, uniques } => {
                    let used = RawColumn::used(codes, uniques.len(), keep);
                    distinct.extend(
                        uniques
                            .iter()
                            .zip(used)
                            .filter(|(_, u)| *u)
                            .map(|(id, _)| id),
                    );
                }
            }
        }
        let mut ids: Vec<RawId> = distinct.into_iter().cloned().chain(ints).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    IdMap::from_raw(raws).expect("sorted, deduplicated ids are unique")
}

fn dense(column: &RawColumn, keep: &[bool], map: &IdMap<RawId>) -> Vec<u32> {
    match column {
        RawColumn::Int(v) => {
            let lookup: HashMap<i64, u32> = map
                .raw_ids()
                .iter()
                .enumerate()
                .filter_map(|(i, r)| match r {
                    RawId::Int(x) => Some((*x, i as u32)),
                    RawId::Str(_) => None,
                })
                .collect();
            v.iter()
                .zip(keep)
                .filter(|(_, &k)| k)
                .map(|(x, _)| lookup[x])
                .collect()
        }
        RawColumn::Str(v) => v
            .iter()
            .zip(keep)
            .filter(|(_, &k)| k)
            .map(|(x, _)| map.get(x).expect("every kept id is in the map"))
            .collect(),
        RawColumn::Coded { codes, uniques } => {
            // each distinct id looked up once; unused ones are never read
            let dense_of: Vec<u32> = uniques
                .iter()
                .map(|u| map.get(u).unwrap_or(u32::MAX))
                .collect();
            codes
                .iter()
                .zip(keep)
                .filter(|(_, &k)| k)
                .map(|(&c, _)| dense_of[c as usize])
                .collect()
        }
    }
}

fn keep<T: Copy>(values: &Option<Vec<T>>, keep: &[bool]) -> Option<Vec<T>> {
    values.as_ref().map(|v| {
        v.iter()
            .zip(keep)
            .filter(|(_, &k)| k)
            .map(|(x, _)| *x)
            .collect()
    })
}

/// Maps raw tables into one id space. Rows rated below `min_rating` are dropped and counted;
/// a table with no rows left is an error naming its file. Returns the dataset (all tables'
/// rows, in table order) and each table's interactions.
pub fn build_dataset(
    tables: &[RawTable],
    min_rating: Option<f32>,
) -> Result<(Dataset, Vec<Interactions>)> {
    let mut report = LoadReport::default();
    let mut masks = Vec::with_capacity(tables.len());
    for t in tables {
        t.users.check(&t.path)?;
        t.items.check(&t.path)?;
        report.files.push(t.path.clone());
        report.rows_read += t.len();
        let mask: Vec<bool> = match (min_rating, &t.ratings) {
            (None, _) => vec![true; t.len()],
            (Some(min), Some(r)) => r.iter().map(|&x| x >= min).collect(),
            (Some(_), None) => {
                return Err(DataError::param(
                    "min_rating",
                    format!("{} has no rating column to filter on", t.path.display()),
                ))
            }
        };
        let kept = mask.iter().filter(|&&k| k).count();
        if kept == 0 {
            return Err(DataError::Empty {
                what: if t.len() == 0 {
                    t.path.display().to_string()
                } else {
                    format!("{} after the minimum-rating filter", t.path.display())
                },
            });
        }
        report.rows_kept += kept;
        report.below_min_rating += t.len() - kept;
        masks.push(mask);
    }
    let users = id_map(
        tables
            .iter()
            .zip(&masks)
            .map(|(t, m)| (&t.users, m.as_slice())),
    );
    let items = id_map(
        tables
            .iter()
            .zip(&masks)
            .map(|(t, m)| (&t.items, m.as_slice())),
    );
    let mut parts = Vec::with_capacity(tables.len());
    for (t, m) in tables.iter().zip(&masks) {
        let mut x = Interactions::new(
            dense(&t.users, m, &users),
            dense(&t.items, m, &items),
            users.len(),
            items.len(),
        )?;
        if let Some(r) = keep(&t.ratings, m) {
            x = x.with_ratings(r)?;
        }
        if let Some(ts) = keep(&t.timestamps, m) {
            x = x.with_timestamps(ts)?;
        }
        if let Some(w) = keep(&t.weights, m) {
            x = x.with_weights(w)?;
        }
        parts.push(x);
    }
    let mut all = parts[0].clone();
    for p in &parts[1..] {
        all = all.concat(p)?;
    }
    Ok((
        Dataset {
            interactions: all,
            users,
            items,
            item_titles: None,
            report,
        },
        parts,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(path: &str, users: Vec<i64>, items: Vec<i64>, ratings: Vec<f32>) -> RawTable {
        RawTable {
            path: path.into(),
            users: RawColumn::Int(users),
            items: RawColumn::Int(items),
            ratings: Some(ratings),
            timestamps: None,
            weights: None,
        }
    }

    #[test]
    fn coded_columns_map_as_string_columns_do() {
        let strings = |v: &[&str]| v.iter().map(|s| RawId::parse(s)).collect::<Vec<_>>();
        let plain = |users: &[&str], items: &[&str]| RawTable {
            path: "plain".into(),
            users: RawColumn::Str(strings(users)),
            items: RawColumn::Str(strings(items)),
            ratings: None,
            timestamps: None,
            weights: None,
        };
        let (a, pa) =
            build_dataset(&[plain(&["b", "a", "7", "b"], &["x", "y", "x", "z"])], None).unwrap();
        let coded = RawTable {
            users: RawColumn::Coded {
                codes: vec![0, 1, 2, 0],
                uniques: strings(&["b", "a", "7", "unused"]),
            },
            items: RawColumn::Coded {
                codes: vec![2, 1, 2, 0],
                uniques: strings(&["z", "y", "x"]),
            },
            ..plain(&[], &[])
        };
        let (b, pb) = build_dataset(std::slice::from_ref(&coded), None).unwrap();
        assert_eq!((a.users, a.items), (b.users, b.items));
        assert_eq!(pa, pb);
        let bad = RawTable {
            users: RawColumn::Coded {
                codes: vec![0, 9],
                uniques: strings(&["a"]),
            },
            items: RawColumn::Int(vec![1, 2]),
            ..coded
        };
        assert!(build_dataset(&[bad], None).is_err());
    }

    #[test]
    fn shared_id_space_and_counted_filter() {
        let a = table("a", vec![10, 20, 10], vec![7, 8, 9], vec![5.0, 1.0, 4.0]);
        let b = table("b", vec![30], vec![7], vec![5.0]);
        let (d, parts) = build_dataset(&[a, b], Some(4.0)).unwrap();
        assert_eq!(d.report.below_min_rating, 1);
        let rows = d.report.rows_kept;
        let before = d.interactions.item_counts();
        let kept = d.clone().keep_items_with_at_least(2).unwrap();
        let dropped: u32 = before.iter().filter(|&&c| c < 2).sum();
        assert_eq!(kept.report.below_min_item_count, dropped as usize);
        assert_eq!(kept.report.rows_kept, rows - dropped as usize);
        assert!(kept.interactions.item_counts().iter().all(|&c| c >= 2));
        for r in 0..kept.interactions.len() {
            // every kept row still names the same raw item
            let raw = &kept.items.raw_ids()[kept.interactions.items()[r] as usize];
            assert!(d.items.get(raw).is_some());
        }
        assert_eq!(d.report.rows_kept, 3);
        assert_eq!(d.users.raw_ids(), &[RawId::Int(10), RawId::Int(30)]);
        assert_eq!(d.items.raw_ids(), &[RawId::Int(7), RawId::Int(9)]);
        assert_eq!(parts[1].users(), &[1]);
        assert_eq!(parts[1].num_items(), 2);
    }

    #[test]
    fn all_filtered_is_an_error() {
        let a = table("a.csv", vec![1], vec![1], vec![1.0]);
        let err = build_dataset(&[a], Some(4.0)).unwrap_err();
        assert!(err.to_string().contains("a.csv"), "{err}");
    }
}

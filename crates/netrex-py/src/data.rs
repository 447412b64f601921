//! Interactions as Python hands them over: dense id arrays, raw ids (integers or strings)
//! mapped as the command line maps them, MovieLens 100K's official splits and S3Rec sequence
//! files from a path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyList;

use netrex::data::dataset::{build_dataset, RawColumn, RawTable};
use netrex::data::{read_sequence_file, IdMap, Interactions, RawId};
use netrex::plan::SplitName;

use crate::errors::{err, OrRaise};

/// Raw ids by dense index, shared by the parts of one dataset and by the models trained on it.
#[pyclass(module = "netrex._netrex", frozen)]
#[derive(Clone)]
pub struct IdMapping {
    pub(crate) map: Arc<IdMap<RawId>>,
}

/// A raw id as a Python int or str.
pub(crate) fn raw_to_py(py: Python<'_>, raw: &RawId) -> PyResult<Py<PyAny>> {
    Ok(match raw {
        RawId::Int(v) => v.into_pyobject(py)?.into_any().unbind(),
        RawId::Str(s) => s.into_pyobject(py)?.into_any().unbind(),
    })
}

/// A raw id column from Python: an int64 array, a list of strings, or a factorized column
/// `(codes, uniques)` (int64 codes into a list of distinct strings: how a DataFrame's string
/// column arrives without one Python object per row).
fn raw_column(column: &Bound<'_, PyAny>, name: &str) -> PyResult<RawColumn> {
    if let Ok(array) = column.extract::<PyReadonlyArray1<'_, i64>>() {
        return Ok(RawColumn::Int(array.as_slice().or_raise()?.to_vec()));
    }
    if let Ok((codes, uniques)) = column.extract::<(PyReadonlyArray1<'_, i64>, Vec<String>)>() {
        let codes = codes
            .as_slice()
            .or_raise()?
            .iter()
            .enumerate()
            .map(|(row, &c)| {
                u32::try_from(c).map_err(|_| {
                    err(format!(
                        "the {name} ids contain a missing value (row {row})"
                    ))
                })
            })
            .collect::<PyResult<Vec<u32>>>()?;
        let uniques = uniques.iter().map(|s| RawId::parse(s)).collect();
        return Ok(RawColumn::Coded { codes, uniques });
    }
    match column.extract::<Vec<String>>() {
        Ok(strings) => Ok(RawColumn::Str(
            strings.iter().map(|s| RawId::parse(s)).collect(),
        )),
        Err(_) => Err(err(format!(
            "the {name} ids must be an integer array, a list of strings or (codes, uniques)"
        ))),
    }
}

impl IdMapping {
    /// Dense ids of `raw`; -1 where an id is not in the map.
    fn lookup_column(&self, raw: &RawColumn) -> Vec<i64> {
        let find = |id: &RawId| self.map.get(id).map_or(-1, i64::from);
        match raw {
            RawColumn::Int(v) => v.iter().map(|&x| find(&RawId::Int(x))).collect(),
            RawColumn::Str(v) => v.iter().map(find).collect(),
            RawColumn::Coded { codes, uniques } => {
                let found: Vec<i64> = uniques.iter().map(find).collect();
                codes
                    .iter()
                    .map(|&c| found.get(c as usize).copied().unwrap_or(-1))
                    .collect()
            }
        }
    }
}

#[pymethods]
impl IdMapping {
    /// Number of ids.
    fn __len__(&self) -> usize {
        self.map.len()
    }

    /// Dense ids (int64) of raw ids (an int64 array or a list of str); -1 for an unknown id.
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        raw: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let column = raw_column(raw, "raw")?;
        Ok(self.lookup_column(&column).into_pyarray(py))
    }

    /// Raw ids (int or str) of dense ids.
    fn raw<'py>(
        &self,
        py: Python<'py>,
        dense: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut out = Vec::with_capacity(dense.len()?);
        for &d in dense.as_slice().or_raise()? {
            let raw = u32::try_from(d)
                .ok()
                .and_then(|d| self.map.raw(d))
                .ok_or_else(|| {
                    err(format!(
                        "no raw id for dense id {d} ({} ids)",
                        self.map.len()
                    ))
                })?;
            out.push(raw_to_py(py, raw)?);
        }
        PyList::new(py, out)
    }

    /// Every raw id, by dense index.
    fn all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let ids: PyResult<Vec<_>> = self
            .map
            .raw_ids()
            .iter()
            .map(|r| raw_to_py(py, r))
            .collect();
        PyList::new(py, ids?)
    }

    /// Whether both map the same raw ids to the same dense ids.
    fn __eq__(&self, other: &IdMapping) -> bool {
        Arc::ptr_eq(&self.map, &other.map) || self.map == other.map
    }
}

/// Implicit-feedback interactions over dense ids, with the raw ids they came from when known.
#[pyclass(module = "netrex._netrex", frozen)]
pub struct Data {
    pub(crate) interactions: Interactions,
    pub(crate) users: Option<IdMapping>,
    pub(crate) items: Option<IdMapping>,
    /// Where the data came from, when a plan can name it.
    pub(crate) origin: Option<Origin>,
}

/// A source of data that a run plan can name.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// MovieLens 100K's official split.
    MovieLens(SplitName),
    /// A sequence file.
    Sequences(PathBuf),
}

impl Data {
    /// `interactions` (a part of this data) with this data's id maps and origin.
    pub(crate) fn relabel(&self, interactions: Interactions) -> Data {
        Data {
            interactions,
            users: self.users.clone(),
            items: self.items.clone(),
            origin: self.origin.clone(),
        }
    }

    /// The interactions, with an error naming what is empty.
    pub(crate) fn non_empty(&self, what: &str) -> PyResult<&Interactions> {
        if self.interactions.is_empty() {
            return Err(err(format!("the {what} data has no interactions")));
        }
        Ok(&self.interactions)
    }
}

#[pymethods]
impl Data {
    /// Number of interactions.
    fn __len__(&self) -> usize {
        self.interactions.len()
    }

    /// Size of the user id space.
    #[getter]
    fn num_users(&self) -> usize {
        self.interactions.num_users()
    }

    /// Size of the item id space.
    #[getter]
    fn num_items(&self) -> usize {
        self.interactions.num_items()
    }

    /// Dense user ids (uint32), one per interaction.
    #[getter]
    fn users<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        self.interactions.users().to_vec().into_pyarray(py)
    }

    /// Dense item ids (uint32), one per interaction.
    #[getter]
    fn items<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        self.interactions.items().to_vec().into_pyarray(py)
    }

    /// Timestamps (int64), if the data has them.
    #[getter]
    fn timestamps<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<i64>>> {
        self.interactions
            .timestamps()
            .map(|t| t.to_vec().into_pyarray(py))
    }

    /// Raw user ids by dense index (None when the data was built from dense ids).
    #[getter]
    fn user_map(&self) -> Option<IdMapping> {
        self.users.clone()
    }

    /// Raw item ids by dense index (None when the data was built from dense ids).
    #[getter]
    fn item_map(&self) -> Option<IdMapping> {
        self.items.clone()
    }

    /// These interactions followed by `other`'s (one id space: e.g. train and validation).
    fn concat(&self, other: &Data) -> PyResult<Data> {
        let same = |a: &Option<IdMapping>, b: &Option<IdMapping>| match (a, b) {
            (Some(a), Some(b)) => a.map == b.map,
            (None, None) => true,
            _ => false,
        };
        if !same(&self.users, &other.users) || !same(&self.items, &other.items) {
            return Err(err(
                "the two data map raw ids differently: they cannot be joined",
            ));
        }
        Ok(self.relabel(self.interactions.concat(&other.interactions).or_raise()?))
    }

    /// The same interactions labelled with raw-id maps (whose sizes must match the id spaces).
    fn with_maps(&self, users: IdMapping, items: IdMapping) -> PyResult<Data> {
        let x = &self.interactions;
        if (users.map.len(), items.map.len()) != (x.num_users(), x.num_items()) {
            return Err(err(format!(
                "maps of {} users x {} items do not fit data of {} x {}",
                users.map.len(),
                items.map.len(),
                x.num_users(),
                x.num_items()
            )));
        }
        Ok(Data {
            interactions: x.clone(),
            users: Some(users),
            items: Some(items),
            origin: self.origin.clone(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Data({} interactions, {} users x {} items)",
            self.interactions.len(),
            self.interactions.num_users(),
            self.interactions.num_items()
        )
    }
}

/// `ids` (a NumPy array) as dense ids below a model's `count`, or an error naming the first
/// that is not (`kind`: "user" or "item").
pub(crate) fn ids_below(
    ids: &PyReadonlyArray1<'_, i64>,
    count: usize,
    kind: &str,
) -> PyResult<Vec<u32>> {
    ids.as_slice()
        .or_raise()?
        .iter()
        .map(|&id| match u32::try_from(id) {
            Ok(d) if (d as usize) < count => Ok(d),
            _ => Err(err(format!(
                "unknown {kind} {id}: the model has {count} {kind}s (dense ids 0..{count})"
            ))),
        })
        .collect()
}

/// Raw-id maps read from a model folder's catalog.
pub(crate) fn mapping(map: Option<IdMap<RawId>>) -> Option<IdMapping> {
    map.map(|map| IdMapping { map: Arc::new(map) })
}

/// Writes the resolved `plan` into a model folder (`plan.toml`), as the command line does.
pub(crate) fn write_plan(dir: &Path, plan: &netrex::plan::RunPlan) -> PyResult<()> {
    std::fs::write(
        dir.join(netrex::plan::PLAN_FILE),
        plan.to_toml().or_raise()?,
    )
    .map_err(|e| err(format!("cannot write the plan into {}: {e}", dir.display())))
}

/// Dense ids checked to be non-negative and below `count` (default: the largest plus one).
fn dense_ids(ids: &[i64], count: Option<usize>, kind: &str) -> PyResult<(Vec<u32>, usize)> {
    let mut out = Vec::with_capacity(ids.len());
    let mut largest = None;
    for (row, &id) in ids.iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| {
            err(format!(
                "{kind} id {id} at row {row} is not a dense id (0 to 4294967295)"
            ))
        })?;
        largest = largest.max(Some(id));
        out.push(id);
    }
    let needed = largest.map_or(0, |l| l as usize + 1);
    let count = count.unwrap_or(needed);
    if needed > count {
        return Err(err(format!(
            "{kind} id {} is out of range: the data has {count} {kind}s",
            needed - 1
        )));
    }
    Ok((out, count))
}

/// Interactions of `users[i]` with `items[i]` over dense ids (a COO matrix's rows and
/// columns); `num_users`/`num_items` default to the largest id plus one.
#[pyfunction]
#[pyo3(signature = (users, items, num_users=None, num_items=None, timestamps=None, weights=None))]
pub fn from_dense(
    users: PyReadonlyArray1<'_, i64>,
    items: PyReadonlyArray1<'_, i64>,
    num_users: Option<usize>,
    num_items: Option<usize>,
    timestamps: Option<PyReadonlyArray1<'_, i64>>,
    weights: Option<PyReadonlyArray1<'_, f32>>,
) -> PyResult<Data> {
    let (users, num_users) = dense_ids(users.as_slice().or_raise()?, num_users, "user")?;
    let (items, num_items) = dense_ids(items.as_slice().or_raise()?, num_items, "item")?;
    let mut x = Interactions::new(users, items, num_users, num_items).or_raise()?;
    if let Some(t) = timestamps {
        x = x
            .with_timestamps(t.as_slice().or_raise()?.to_vec())
            .or_raise()?;
    }
    if let Some(w) = weights {
        x = x
            .with_weights(w.as_slice().or_raise()?.to_vec())
            .or_raise()?;
    }
    Ok(Data {
        interactions: x,
        users: None,
        items: None,
        origin: None,
    })
}

/// One table of raw ids: (users, items, timestamps or None, weights or None).
type PyTable<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Option<PyReadonlyArray1<'py, i64>>,
    Option<PyReadonlyArray1<'py, f32>>,
);

/// Tables of raw ids mapped into one id space, in sorted raw-id order as the command line
/// maps its files (so the same data gives the same dense ids, and the same run).
#[pyfunction]
pub fn from_raw(tables: Vec<PyTable<'_>>) -> PyResult<Vec<Data>> {
    if tables.is_empty() {
        return Err(err("no interactions were given"));
    }
    let mut raw = Vec::with_capacity(tables.len());
    for (k, (users, items, timestamps, weights)) in tables.iter().enumerate() {
        raw.push(RawTable {
            path: PathBuf::from(format!("<table {k}>")),
            users: raw_column(users, "user")?,
            items: raw_column(items, "item")?,
            ratings: None,
            timestamps: timestamps
                .as_ref()
                .map(|t| t.as_slice().map(<[i64]>::to_vec))
                .transpose()
                .or_raise()?,
            weights: weights
                .as_ref()
                .map(|w| w.as_slice().map(<[f32]>::to_vec))
                .transpose()
                .or_raise()?,
        });
    }
    data_of(&raw)
}

/// Every table of `raw` in one id space.
fn data_of(raw: &[RawTable]) -> PyResult<Vec<Data>> {
    let (dataset, parts) = build_dataset(raw, None).or_raise()?;
    let users = IdMapping {
        map: Arc::new(dataset.users),
    };
    let items = IdMapping {
        map: Arc::new(dataset.items),
    };
    Ok(parts
        .into_iter()
        .map(|interactions| Data {
            interactions,
            users: Some(users.clone()),
            items: Some(items.clone()),
            origin: None,
        })
        .collect())
}

/// One ML-100K ratings file (`user item rating timestamp`, tab-separated) as a raw table.
fn ratings_file(path: &Path) -> PyResult<RawTable> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    let (mut users, mut items, mut ratings, mut times) = (vec![], vec![], vec![], vec![]);
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || {
            err(format!(
                "{}:{}: expected `user item rating timestamp`, got {line:?}",
                path.display(),
                n + 1
            ))
        };
        if fields.len() != 4 {
            return Err(bad());
        }
        users.push(fields[0].parse::<i64>().map_err(|_| bad())?);
        items.push(fields[1].parse::<i64>().map_err(|_| bad())?);
        ratings.push(fields[2].parse::<f32>().map_err(|_| bad())?);
        times.push(fields[3].parse::<i64>().map_err(|_| bad())?);
    }
    Ok(RawTable {
        path: path.to_owned(),
        users: RawColumn::Int(users),
        items: RawColumn::Int(items),
        ratings: Some(ratings),
        timestamps: Some(times),
        weights: None,
    })
}

/// MovieLens 100K's official split `split` (`ua`, `ub`, `u1`..`u5`) from the release's folder:
/// (train, test) in one id space, as `netrex fit --dataset ml-100k --split ua` reads it.
#[pyfunction]
pub fn movielens_100k(dir: PathBuf, split: &str) -> PyResult<(Data, Data)> {
    let known = ["ua", "ub", "u1", "u2", "u3", "u4", "u5"];
    let name: SplitName = serde_json::from_value(serde_json::json!(split))
        .ok()
        .filter(|_| known.contains(&split))
        .ok_or_else(|| {
            err(format!(
                "unknown MovieLens 100K split {split:?}: use one of {known:?}"
            ))
        })?;
    let tables = [
        ratings_file(&dir.join(format!("{split}.base")))?,
        ratings_file(&dir.join(format!("{split}.test")))?,
    ];
    let mut parts = data_of(&tables)?;
    for part in &mut parts {
        part.origin = Some(Origin::MovieLens(name));
    }
    let test = parts.pop().expect("two tables");
    let train = parts.pop().expect("two tables");
    Ok((train, test))
}

/// A sequence file in the S3Rec format (`user item item ...` a line, in time order), each
/// interaction's timestamp its position in its line.
#[pyfunction]
pub fn read_sequences(path: PathBuf) -> PyResult<Data> {
    let dataset = read_sequence_file(&path).or_raise()?;
    Ok(Data {
        interactions: dataset.interactions,
        users: Some(IdMapping {
            map: Arc::new(dataset.users),
        }),
        items: Some(IdMapping {
            map: Arc::new(dataset.items),
        }),
        origin: Some(Origin::Sequences(path)),
    })
}

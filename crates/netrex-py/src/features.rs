//! Side features from Python: `(dense id, feature name, weight)` rows, checked as the
//! command line checks a features file.

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use netrex::data::{Features, FeaturesBuilder, MAX_WEIGHT};

use crate::errors::{err, OrRaise};

/// Feature rows as Python passes them: dense ids, feature names, weights.
pub(crate) type FeatureRows<'py> = (
    PyReadonlyArray1<'py, i64>,
    Vec<String>,
    PyReadonlyArray1<'py, f32>,
);

/// The features of `rows` over at least `count` ids (`kind`: "user" or "item"): weights in
/// [0, MAX_WEIGHT], each feature at most once per id, no id whose weights are all 0.
pub(crate) fn features_of(rows: &FeatureRows<'_>, count: usize, kind: &str) -> PyResult<Features> {
    let (ids, names, weights) = rows;
    let (ids, weights) = (ids.as_slice().or_raise()?, weights.as_slice().or_raise()?);
    if ids.len() != names.len() || ids.len() != weights.len() {
        return Err(err(format!(
            "{kind} features need one id, name and weight a row: {} ids, {} names, {} weights",
            ids.len(),
            names.len(),
            weights.len()
        )));
    }
    if ids.is_empty() {
        return Err(err(format!("the {kind} features have no rows")));
    }
    let mut builder = FeaturesBuilder::new();
    for (row, ((&id, name), &w)) in ids.iter().zip(names).zip(weights).enumerate() {
        let id = u32::try_from(id).map_err(|_| {
            err(format!(
                "{kind} features, row {row}: {id} is not a dense id"
            ))
        })?;
        if !(0.0..=MAX_WEIGHT).contains(&w) {
            return Err(err(format!(
                "{kind} features, row {row}: weight {w} is not a number in [0, {MAX_WEIGHT:e}]"
            )));
        }
        if !builder.add(id, name, w) {
            return Err(err(format!(
                "{kind} features, row {row}: {kind} {id} has feature {name:?} twice"
            )));
        }
    }
    let features = builder.build();
    let rows = features.num_rows().max(count);
    for id in 0..features.num_rows() as u32 {
        let (columns, w) = features.row(id);
        if !columns.is_empty() && w.iter().all(|&x| x == 0.0) {
            return Err(err(format!(
                "{kind} {id}: every feature weight is 0; give at least one positive"
            )));
        }
    }
    Ok(features.with_rows(rows))
}

//! What the models answer with, as Python receives it: ranked lists as NumPy arrays and
//! metrics as the command line's JSON keys.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Ranked lists of many queries: ids (int64) and scores (float32), one row a query.
pub(crate) type Ranked<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<f32>>);

/// One ranked list: ids (int64) and scores (float32).
pub(crate) type RankedOne<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>);

/// Ranked lists as `n x k` arrays of ids and scores, padded with -1 / -inf.
pub(crate) fn top_k_arrays<'py>(
    py: Python<'py>,
    lists: &[Vec<(u32, f32)>],
    k: usize,
) -> PyResult<Ranked<'py>> {
    let mut ids = Array2::from_elem((lists.len(), k), -1i64);
    let mut scores = Array2::from_elem((lists.len(), k), f32::NEG_INFINITY);
    for (row, list) in lists.iter().enumerate() {
        for (col, &(item, score)) in list.iter().enumerate().take(k) {
            ids[(row, col)] = i64::from(item);
            scores[(row, col)] = score;
        }
    }
    Ok((ids.into_pyarray(py), scores.into_pyarray(py)))
}

/// A full-ranking report as the command line's JSON keys, with the test interactions left out
/// because training never saw their user.
pub(crate) fn report_dict<'py>(
    py: Python<'py>,
    report: &netrex::evaluation::Report,
    excluded: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let at10 = report.at(10).copied().unwrap_or_default();
    let out = PyDict::new(py);
    out.set_item("mrr", report.mrr)?;
    out.set_item("auc", report.auc)?;
    out.set_item("precision_at_10", at10.precision)?;
    out.set_item("recall_at_10", at10.recall)?;
    out.set_item("ndcg_at_10", at10.ndcg)?;
    out.set_item("hit_rate_at_10", at10.hit_rate)?;
    out.set_item("test_users", report.per_user.len())?;
    out.set_item("excluded_test_interactions", excluded)?;
    Ok(out)
}

//! The extension module `netrex._netrex` of the `netrex` Python package: interactions built
//! from NumPy arrays, the factorization, sequence and linear models of a run plan, evaluation, and the
//! model files the command line reads and writes. The Python layer (`python/netrex`) turns
//! DataFrames, SciPy matrices and keyword arguments into these calls.
//!
//! Every error is a `netrex.NetrexError` (a `ValueError`) carrying the library's message; long
//! work runs with the GIL released.

use pyo3::prelude::*;

mod answers;
mod data;
mod errors;
mod factorization;
mod features;
mod fitting;
mod linear;
mod plans;
mod sequence;
mod setting;

/// The module's classes and functions.
#[pymodule]
fn _netrex(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NetrexError", m.py().get_type::<errors::NetrexError>())?;
    m.add_class::<data::Data>()?;
    m.add_class::<data::IdMapping>()?;
    m.add_class::<factorization::Factorization>()?;
    m.add_class::<sequence::Sequence>()?;
    m.add_class::<linear::Linear>()?;
    m.add_function(wrap_pyfunction!(sequence::split_leave_one_out, m)?)?;
    m.add_function(wrap_pyfunction!(sequence::split_leave_last, m)?)?;
    m.add_function(wrap_pyfunction!(data::from_dense, m)?)?;
    m.add_function(wrap_pyfunction!(data::from_raw, m)?)?;
    m.add_function(wrap_pyfunction!(data::movielens_100k, m)?)?;
    m.add_function(wrap_pyfunction!(data::read_sequences, m)?)?;
    m.add_function(wrap_pyfunction!(plans::saved_kind, m)?)?;
    m.add_function(wrap_pyfunction!(plans::plan_toml_to_json, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

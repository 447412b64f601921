//! One Python exception for every error of the library.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

create_exception!(
    _netrex,
    NetrexError,
    PyValueError,
    "An error of netrex: bad data, a bad hyperparameter, a missing or corrupt model file."
);

/// `e` as a `NetrexError` with the library's message.
pub(crate) fn err(e: impl std::fmt::Display) -> PyErr {
    NetrexError::new_err(e.to_string())
}

/// `Result` with errors turned into `NetrexError`.
pub(crate) trait OrRaise<T> {
    /// The value, or a `NetrexError` with the error's message.
    fn or_raise(self) -> Result<T, PyErr>;
}

impl<T, E: std::fmt::Display> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> Result<T, PyErr> {
        self.map_err(err)
    }
}

/// The fitted model, or an error saying to fit it first.
pub(crate) fn fitted<M>(model: &Option<M>) -> Result<&M, PyErr> {
    model
        .as_ref()
        .ok_or_else(|| err("the model is not fitted yet: call fit first"))
}

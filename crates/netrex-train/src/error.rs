//! The facade's error type: one variant per phase, wrapping the crates' own errors.

use std::path::PathBuf;

use netrex_data::DataError;
use netrex_evaluation::EvalError;
use netrex_representations::RepresentationError;

/// Anything that can go wrong using netrex.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetrexError {
    /// Loading or preparing data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Evaluating.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Building or restoring a representation.
    #[error(transparent)]
    Representation(#[from] RepresentationError),
    /// A hyperparameter is out of range.
    #[error("invalid hyperparameter {name}: {message}")]
    Config {
        /// The hyperparameter.
        name: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The training data does not fit the model.
    #[error("cannot train: {0}")]
    Training(String),
    /// Side features cannot make up a model's users or items.
    #[error("features: {0}")]
    Features(String),
    /// The loss became NaN or infinite.
    #[error("training diverged: the loss is {value} at epoch {epoch}, batch {batch}; lower the learning rate")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The loss value.
        value: f32,
    },
    /// A user or item id the model does not know.
    #[error("unknown {kind} {id}: the model knows {count} {kind}s")]
    UnknownId {
        /// "user" or "item".
        kind: &'static str,
        /// The id as given.
        id: String,
        /// How many the model knows.
        count: usize,
    },
    /// A saved model cannot be read.
    #[error("cannot load the model in {path}: {message}")]
    ModelFile {
        /// The model folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The compute device failed.
    #[error("device error: {0}")]
    Device(String),
    /// A chart could not be drawn or written.
    #[error("cannot draw {path}: {message} (check that the folder exists and is writable)")]
    Plot {
        /// The chart's file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl NetrexError {
    pub(crate) fn config(name: &'static str, message: impl Into<String>) -> Self {
        NetrexError::Config {
            name,
            message: message.into(),
        }
    }
}

//! # netrex-linear
//!
//! The models a neural recommender must beat, with no dfdx: [`Ease`] (a closed-form item-item
//! model, Steck 2019), [`LocalEase`] (EASE from each item's most co-occurring items, for large
//! catalogs) and [`Ials`] (implicit alternating least squares, Hu et al. 2008). All learn from a binary user x item matrix ([`UserItems`]) and score through
//! `netrex-evaluation`'s `ItemScorer` (through [`LinearModel`]), so the metrics that rank every
//! netrex model rank them too. [`LinearModel`] saves and loads any of them in a model folder.

#![warn(missing_docs)]

pub mod ease;
pub mod file;
pub mod ials;
pub mod local;
pub mod rows;
mod wide;

pub use ease::{Ease, EaseConfig, Precision};
pub use file::{is_linear_model, LinearModel};
pub use ials::{Ials, IalsConfig};
pub use local::{LocalEase, LocalEaseConfig};
pub use rows::UserItems;

/// What can go wrong fitting, using or reading a linear model.
#[derive(Debug, thiserror::Error)]
pub enum LinearError {
    /// A hyperparameter is out of range.
    #[error("{0}")]
    Parameter(String),
    /// Nothing to learn from.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// The numbers went wrong (a matrix that is not positive definite, a diverged fit).
    #[error("{0}")]
    Numerical(String),
    /// Parts that do not fit together.
    #[error("{0}")]
    Shape(String),
    /// A model file that cannot be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

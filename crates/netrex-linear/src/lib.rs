//! # netrex-linear
//!
//! The models a neural recommender must beat, with no dfdx: [`Ease`] (a closed-form item-item
//! model, Steck 2019) and [`Ials`] (implicit alternating least squares, Hu et al. 2008). Both
//! learn from a binary user x item matrix ([`UserItems`]) and score through
//! `netrex-evaluation`'s [`ItemScorer`], so the metrics that rank every netrex model rank
//! them too. [`LinearModel`] saves and loads either in a model folder.

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

use netrex_evaluation::ItemScorer;

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

impl ItemScorer for Ease {
    fn num_users(&self) -> usize {
        self.train().num_users()
    }
    fn num_items(&self) -> usize {
        Ease::num_items(self)
    }
    fn score_items(&self, user: u32, scores: &mut [f32]) {
        self.score_items_of(self.train().get(user as usize), scores);
    }
}

impl ItemScorer for LocalEase {
    fn num_users(&self) -> usize {
        self.train().num_users()
    }
    fn num_items(&self) -> usize {
        LocalEase::num_items(self)
    }
    fn score_items(&self, user: u32, scores: &mut [f32]) {
        self.score_items_of(self.train().get(user as usize), scores);
    }
}

impl ItemScorer for Ials {
    fn num_users(&self) -> usize {
        self.train().num_users()
    }
    fn num_items(&self) -> usize {
        Ials::num_items(self)
    }
    fn score_items(&self, user: u32, scores: &mut [f32]) {
        let k = self.config().factors;
        let u = user as usize;
        self.score_with(&self.user_factors()[u * k..(u + 1) * k], scores);
    }
}

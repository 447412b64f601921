//! The error type of representations.

/// What can go wrong building or restoring a representation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RepresentationError {
    /// Tables do not have the shapes the representation needs.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A representation's tables are not in the layout a kernel it asks for relies on.
    #[error("{representation}: {message}")]
    Layout {
        /// The representation's kind.
        representation: &'static str,
        /// Which table breaks the layout, and what was expected.
        message: String,
    },
    /// A table holds NaN or infinite values.
    #[error("table {0} holds NaN or infinite values")]
    NonFinite(String),
    /// A hyperparameter is out of range.
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

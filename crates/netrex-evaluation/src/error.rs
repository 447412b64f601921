//! The error type of the evaluation phase.

/// What can go wrong while evaluating a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// There is nothing to evaluate.
    #[error("nothing to evaluate: {0}")]
    Empty(String),
    /// The model and the data disagree on the number of items.
    #[error("the model scores {model} items but the data has {data}")]
    NumItemsMismatch {
        /// Items the model scores.
        model: usize,
        /// Items in the data's id space.
        data: usize,
    },
    /// A test user the model does not know.
    #[error("test user {user} is out of range: the model knows {num_users} users")]
    UserOutOfRange {
        /// The user.
        user: u32,
        /// Users the model knows.
        num_users: usize,
    },
    /// The model gave a NaN or infinite score.
    #[error("the model scored item {item} for {context} as {value} (dense ids): scores must be finite; a model whose weights went to NaN or infinity diverged in training (lower the learning rate) or was read from a corrupt file")]
    NonFiniteScore {
        /// Which user or sequence.
        context: String,
        /// The item.
        item: usize,
        /// The score.
        value: f32,
    },
    /// A parameter is out of range.
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

pub(crate) fn check_finite(
    scores: &[f32],
    context: impl FnOnce() -> String,
) -> Result<(), EvalError> {
    match scores.iter().position(|s| !s.is_finite()) {
        None => Ok(()),
        Some(item) => Err(EvalError::NonFiniteScore {
            context: context(),
            item,
            value: scores[item],
        }),
    }
}

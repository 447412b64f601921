//! What is wrong with a plan, found before any work.

use std::path::{Path, PathBuf};

use super::memory::TooLarge;

/// A plan that cannot run, or a config file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A setting out of range, or settings that do not go together.
    #[error("{}: {message}", shown(field))]
    Invalid {
        /// The plan's key (`training.dim`), shown with its flag.
        field: String,
        /// What is wrong, and what to do instead.
        message: String,
    },
    /// The run would allocate more memory than the machine has.
    #[error("{0}")]
    TooLarge(Box<TooLarge>),
    /// A config file that is not a valid plan.
    #[error("config: {0}")]
    Toml(String),
    /// A model the plan describes could not be built.
    #[error(transparent)]
    Model(#[from] netrex_train::NetrexError),
    /// A linear model the plan describes could not be fitted.
    #[error(transparent)]
    Linear(#[from] netrex_linear::LinearError),
    /// A file that could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
}

impl PlanError {
    /// `field` is invalid: `message` says why.
    pub fn invalid(field: &str, message: impl Into<String>) -> PlanError {
        PlanError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, e: std::io::Error) -> PlanError {
        PlanError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }

    /// The error, saying which config file it came from.
    pub(crate) fn in_file(self, path: &Path) -> PlanError {
        match self {
            PlanError::Toml(message) => PlanError::Toml(format!("{}: {message}", path.display())),
            other => other,
        }
    }
}

/// The command-line flag of a plan key, where it differs from the key's last part.
pub fn flag_of(field: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    let flag = match field {
        "split.method" => "split",
        "model.kind" => "model",
        "training.loss" => "loss",
        "features.item" => "item-features",
        "features.user" => "user-features",
        "features.weighting" => "feature-weighting",
        _ => last,
    };
    format!("--{}", flag.replace('_', "-"))
}

/// `--dim (training.dim)`: the flag a command-line user types and the key of a config file.
fn shown(field: &str) -> String {
    match field.contains('.') {
        true => format!("{} ({field})", flag_of(field)),
        false => field.to_owned(),
    }
}

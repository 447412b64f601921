//! What both model kinds share: the trainer and its epoch driver ([`training`]), early
//! stopping, the progress bar, checkpoints, the common parts of model files ([`files`]) and
//! tables kept on a GPU ([`resident`]).

pub mod checkpoint;
pub mod early_stopping;
pub mod files;
pub(crate) mod progress;
pub(crate) mod resident;
pub mod training;

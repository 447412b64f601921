//! Checkpoints: a saved model plus its optimizer state and its place in the run, written so
//! that a crash at any moment leaves the last complete checkpoint readable.
//!
//! `DIR/checkpoint/` holds the model as `save` writes it and `optimizer.safetensors`. A new
//! checkpoint is written to `DIR/checkpoint.tmp/`, the old one renamed to
//! `DIR/checkpoint.old/`, the new one renamed into place, the old one removed; a reader finds
//! `checkpoint/`, or `checkpoint.old/` if a crash came between the two renames.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::optim::RowOptimizer;
use netrex_losses::Loss;
use netrex_representations::{FactorizationRepresentation, Record, SequenceRepresentation};

#[cfg(feature = "cuda")]
use dfdx::prelude::Cuda;

use crate::engine::files::{corrupt, io, write_atomically, Catalog};
use crate::error::NetrexError;
use crate::{ImplicitFactorizationModel, ImplicitSequenceModel};

const STATE_FILE: &str = "optimizer.safetensors";

/// The folder of the last complete checkpoint under `dir`, if there is one.
pub fn checkpoint_dir(dir: impl AsRef<Path>) -> Option<PathBuf> {
    let dir = dir.as_ref();
    [dir.join("checkpoint"), dir.join("checkpoint.old")]
        .into_iter()
        .find(|d| d.join("model.json").is_file() && d.join(STATE_FILE).is_file())
}

/// Writes a checkpoint under `dir` with `save` (which writes the model into the folder it is
/// given) and the optimizer state.
fn write_checkpoint(
    dir: &Path,
    optimizer: &RowOptimizer,
    save: impl FnOnce(&Path) -> Result<(), NetrexError>,
) -> Result<(), NetrexError> {
    let (tmp, current, old) = (
        dir.join("checkpoint.tmp"),
        dir.join("checkpoint"),
        dir.join("checkpoint.old"),
    );
    fs::create_dir_all(dir).map_err(io(dir))?;
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    save(&tmp)?;
    write_state(&tmp, optimizer)?;
    if current.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        fs::rename(&current, &old).map_err(io(&current))?;
    }
    fs::rename(&tmp, &current).map_err(io(&tmp))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

fn write_state(dir: &Path, optimizer: &RowOptimizer) -> Result<(), NetrexError> {
    let state = optimizer.state();
    let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let steps: Vec<u8> = state.iter().flat_map(|s| s.2.to_le_bytes()).collect();
    buffers.push(("steps".into(), Dtype::I32, vec![state.len()], steps));
    for (k, (first, second, _)) in state.iter().enumerate() {
        for (name, values) in [("first", first), ("second", second)] {
            if !values.is_empty() {
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                buffers.push((format!("{name}.{k}"), Dtype::F32, vec![values.len()], bytes));
            }
        }
    }
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| corrupt(dir, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata = HashMap::new();
    metadata.insert("format".to_owned(), "netrex-optimizer".to_owned());
    let bytes =
        safetensors::serialize(views, &Some(metadata)).map_err(|e| corrupt(dir, e.to_string()))?;
    write_atomically(&dir.join(STATE_FILE), &bytes)
}

/// The model of the last checkpoint under `dir` (read by `load`) with its optimizer's state.
fn from_checkpoint<M>(
    dir: &Path,
    load: impl FnOnce(&Path) -> Result<(M, Catalog), NetrexError>,
    optimizer: impl FnOnce(&mut M) -> &mut RowOptimizer,
) -> Result<(M, Catalog), NetrexError> {
    let found = find_checkpoint(dir)?;
    let (mut model, catalog) = load(&found)?;
    read_state(&found, optimizer(&mut model))?;
    Ok((model, catalog))
}

fn read_state(dir: &Path, optimizer: &mut RowOptimizer) -> Result<(), NetrexError> {
    let path = dir.join(STATE_FILE);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(&path, e.to_string()))?;
    let floats = |name: &str| -> Result<Vec<f32>, NetrexError> {
        match st.tensor(name) {
            Ok(view) if view.dtype() == Dtype::F32 => Ok(view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()),
            Ok(view) => Err(corrupt(&path, format!("{name} is {:?}", view.dtype()))),
            Err(_) => Ok(Vec::new()),
        }
    };
    let steps = st
        .tensor("steps")
        .map_err(|e| corrupt(&path, format!("steps: {e}")))?;
    if steps.dtype() != Dtype::I32 {
        return Err(corrupt(&path, "steps are not I32"));
    }
    let steps: Vec<i32> = steps
        .data()
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let saved = steps
        .iter()
        .enumerate()
        .map(|(k, &step)| {
            Ok((
                floats(&format!("first.{k}"))?,
                floats(&format!("second.{k}"))?,
                step,
            ))
        })
        .collect::<Result<Vec<_>, NetrexError>>()?;
    optimizer
        .restore_state(saved)
        .map_err(|e| corrupt(&path, e.to_string()))
}

/// The folder of the last complete checkpoint under `dir`, or an error that says what is
/// missing: no checkpoint, or one missing its model or its optimizer state.
pub fn find_checkpoint(dir: &Path) -> Result<PathBuf, NetrexError> {
    for partial in [dir.join("checkpoint"), dir.join("checkpoint.old")] {
        let (model, state) = (partial.join("model.json"), partial.join(STATE_FILE));
        if model.is_file() != state.is_file() && checkpoint_dir(dir).is_none() {
            let missing = if model.is_file() {
                STATE_FILE
            } else {
                "model.json"
            };
            return Err(NetrexError::ModelFile {
                path: partial,
                message: format!("the checkpoint is incomplete: {missing} is missing"),
            });
        }
    }
    checkpoint_dir(dir).ok_or_else(|| NetrexError::ModelFile {
        path: dir.to_owned(),
        message: "no checkpoint here (expected checkpoint/ with model.json and \
                  optimizer.safetensors): fit with --checkpoint-every N --save DIR first"
            .into(),
    })
}

/// Models that can write a checkpoint.
pub trait Checkpoint {
    /// Writes a checkpoint under `dir` (see the module documentation): the model, its
    /// optimizer state, and where the current run stands.
    fn save_checkpoint(&self, dir: &Path, catalog: &Catalog) -> Result<(), NetrexError>;
}

impl<R: FactorizationRepresentation + Record, L: Loss> Checkpoint
    for ImplicitFactorizationModel<R, L>
{
    fn save_checkpoint(&self, dir: &Path, catalog: &Catalog) -> Result<(), NetrexError> {
        if self.uses_resident_tables() {
            return Err(resident_checkpoint());
        }
        write_checkpoint(dir, self.optimizer(), |d| self.save(d, catalog))
    }
}

impl<R: SequenceRepresentation + Record, L: Loss> Checkpoint for ImplicitSequenceModel<R, L> {
    fn save_checkpoint(&self, dir: &Path, catalog: &Catalog) -> Result<(), NetrexError> {
        if self.uses_resident_tables() {
            return Err(resident_checkpoint());
        }
        if self.item_feature_map().is_some() {
            // the feature tables' optimizer state is not in the checkpoint format
            return Err(NetrexError::Training(
                "checkpoints of sequence models with item features are not supported: save \
                 the final model with --save instead"
                    .into(),
            ));
        }
        write_checkpoint(dir, self.optimizer(), |d| self.save(d, catalog))
    }
}

/// Resident tables keep their optimizer state on the device, where a checkpoint cannot read it.
fn resident_checkpoint() -> NetrexError {
    NetrexError::Training(
        "checkpoints are written from host-table training: drop --resident to checkpoint".into(),
    )
}

#[cfg(feature = "cuda")]
fn gpu_checkpoint() -> NetrexError {
    NetrexError::Training(
        "checkpoints are written from CPU training (the GPU keeps its optimizer state on the \
         device): train with --device cpu to checkpoint"
            .into(),
    )
}

#[cfg(feature = "cuda")]
impl<R: FactorizationRepresentation + Record, L: Loss> Checkpoint
    for ImplicitFactorizationModel<R, L, Cuda>
{
    fn save_checkpoint(&self, _: &Path, _: &Catalog) -> Result<(), NetrexError> {
        Err(gpu_checkpoint())
    }
}

#[cfg(feature = "cuda")]
impl<R: SequenceRepresentation + Record, L: Loss> Checkpoint for ImplicitSequenceModel<R, L, Cuda> {
    fn save_checkpoint(&self, _: &Path, _: &Catalog) -> Result<(), NetrexError> {
        Err(gpu_checkpoint())
    }
}

impl<R: FactorizationRepresentation + Record, L: Loss> ImplicitFactorizationModel<R, L> {
    /// Loads the last checkpoint under `dir`, ready for
    /// [`resume_with`](Self::resume_with).
    pub fn load_checkpoint(dir: impl AsRef<Path>, loss: L) -> Result<(Self, Catalog), NetrexError> {
        from_checkpoint(dir.as_ref(), |d| Self::load(d, loss), Self::optimizer_mut)
    }
}

impl<R: SequenceRepresentation + Record, L: Loss> ImplicitSequenceModel<R, L> {
    /// Loads the last checkpoint under `dir`, ready for
    /// [`resume_with`](Self::resume_with).
    pub fn load_checkpoint(dir: impl AsRef<Path>, loss: L) -> Result<(Self, Catalog), NetrexError> {
        from_checkpoint(dir.as_ref(), |d| Self::load(d, loss), Self::optimizer_mut)
    }
}

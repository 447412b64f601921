//! The factorization model's file: its tables, hyperparameters and history (see
//! [`crate::engine::files`] for what both model kinds share).

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use netrex_losses::Loss;
use netrex_representations::{FactorizationRepresentation, Record};

use crate::config::{Checked, TrainingConfig};
use crate::device::ComputeDevice;
use crate::engine::files::{
    corrupt, io, read_json, read_tensors, restore, spec_json, write_json, write_tensors, Catalog,
    RunHistory, TableInfo, FORMAT_VERSION,
};
use crate::error::NetrexError;
use crate::factorization::ImplicitFactorizationModel;

#[derive(Serialize, Deserialize)]
struct ModelFile {
    format: String,
    version: u32,
    representation: String,
    loss: String,
    /// The representation's [`Record::Spec`] (`null` for a spec of `()`, as in files written
    /// before specs were saved).
    #[serde(default)]
    spec: serde_json::Value,
    config: Checked<TrainingConfig>,
    tables: Vec<TableInfo>,
    #[serde(flatten)]
    history: RunHistory,
    catalog: Catalog,
}

/// Where training stands, saved with a model (flat among the file's fields) so that it resumes
/// where it stopped.
const KIND: &str = "netrex-factorization";

impl<R: FactorizationRepresentation + Record, L: Loss, D: ComputeDevice>
    ImplicitFactorizationModel<R, L, D>
{
    /// Saves the model into `dir` (created if needed), with `catalog` for raw-id answers.
    pub fn save(&self, dir: impl AsRef<Path>, catalog: &Catalog) -> Result<(), NetrexError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tables = self.representation().tables();
        write_tensors(dir, KIND, tables, catalog.seen.as_ref())?;
        let file = ModelFile {
            format: KIND.into(),
            version: FORMAT_VERSION,
            representation: self.representation().name(),
            loss: self.loss().name(),
            spec: spec_json(self.representation(), dir)?,
            config: self.config.clone(),
            tables: TableInfo::of(tables),
            history: self.run_history(),
            catalog: catalog.clone(),
        };
        write_json(dir, &file)
    }

    /// Loads a model saved by [`save`](Self::save) onto `device`, training further with
    /// `loss`. Fails with a clear error on a missing, corrupt or mismatched file.
    pub fn load_on(
        device: D,
        dir: impl AsRef<Path>,
        loss: L,
    ) -> Result<(Self, Catalog), NetrexError> {
        let dir = dir.as_ref();
        let info = read_info(dir)?;
        let (tables, seen) = read_tensors(dir, &info.tables)?;
        let mut catalog = info.catalog;
        catalog.seen = seen;
        let representation: R = restore(dir, info.spec, tables, &info.representation, R::name)?;
        let (users, items) = (representation.num_users(), representation.num_items());
        catalog.check_sizes(dir, Some(users), items)?;
        info.history.check(dir, info.config.epochs)?;
        let mut model =
            ImplicitFactorizationModel::new_on(device, info.config, representation, loss)?;
        model.restore_history(info.history);
        Ok((model, catalog))
    }
}

impl<R: FactorizationRepresentation + Record, L: Loss> ImplicitFactorizationModel<R, L> {
    /// Loads a model saved by [`save`](Self::save) onto the CPU (see
    /// [`load_on`](Self::load_on)).
    pub fn load(dir: impl AsRef<Path>, loss: L) -> Result<(Self, Catalog), NetrexError> {
        Self::load_on(crate::device::cpu(), dir, loss)
    }
}

/// A representation's [`Record::Spec`] as JSON.
fn read_info(dir: &Path) -> Result<ModelFile, NetrexError> {
    let path = dir.join("model.json");
    let info: ModelFile = read_json(dir)?;
    if info.format != KIND {
        return Err(corrupt(
            &path,
            format!(
                "not a netrex factorization model (format {:?})",
                info.format
            ),
        ));
    }
    if info.version != FORMAT_VERSION {
        return Err(corrupt(
            &path,
            format!("format version {} is not {FORMAT_VERSION}", info.version),
        ));
    }
    Ok(info)
}

/// The name of the loss a saved model was trained with.
pub fn saved_loss_name(dir: impl AsRef<Path>) -> Result<String, NetrexError> {
    Ok(read_info(dir.as_ref())?.loss)
}

#[cfg(test)]
mod tests {
    use netrex_data::synthetic::{zipf, ZipfConfig};
    use netrex_losses::Bpr;

    use super::*;

    #[test]
    fn a_loaded_model_holds_no_optimizer_state_until_it_trains() {
        let train = zipf(&ZipfConfig {
            num_users: 30,
            num_items: 20,
            num_interactions: 300,
            exponent: 1.0,
            seed: 0,
        })
        .unwrap();
        let config = TrainingConfig::builder()
            .embedding_dim(4)
            .epochs(1)
            .build()
            .unwrap();
        let mut model =
            ImplicitFactorizationModel::bilinear(config, 30, 20, Bpr::default()).unwrap();
        assert!(!model.optimizer().is_allocated());
        model.fit(&train).unwrap();
        assert!(model.optimizer().is_allocated());
        let dir = std::env::temp_dir().join(format!("netrex-lazy-{}", std::process::id()));
        model.save(&dir, &Catalog::default()).unwrap();
        let (mut loaded, _) =
            ImplicitFactorizationModel::<netrex_representations::Bilinear, _>::load(
                &dir,
                Bpr::default(),
            )
            .unwrap();
        // scoring and recommending allocate nothing for training
        loaded.recommend(3, 5, &[]).unwrap();
        assert!(!loaded.optimizer().is_allocated());
        loaded.fit(&train).unwrap();
        assert!(loaded.optimizer().is_allocated());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Saving and loading sequence models, in the same folder layout as factorization models:
//! `model.safetensors` (tables) and `model.json` (format, the representation's name and
//! [`Record::Spec`], loss name, hyperparameters, history, raw-id maps), each written
//! atomically. Any representation that implements [`Record`], a user's own included, saves,
//! loads and checkpoints through this module.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use netrex_losses::Loss;
use netrex_representations::{HybridSide, HybridSideSpec, Record, SequenceRepresentation};

use crate::config::Checked;
use crate::device::ComputeDevice;
use crate::engine::files::RunHistory;
use crate::engine::files::{
    corrupt, io, read_json, read_tensors, restore, spec_json, write_json, write_tensors, Catalog,
    TableInfo,
};
use crate::error::NetrexError;
use crate::sequence::{ImplicitSequenceModel, SequenceConfig};

const KIND: &str = "netrex-sequence";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SequenceModelFile {
    format: String,
    version: u32,
    /// The representation's name (files written before names were saved have none).
    #[serde(default)]
    name: String,
    /// The representation's [`Record::Spec`].
    representation: serde_json::Value,
    loss: String,
    config: Checked<SequenceConfig>,
    tables: Vec<TableInfo>,
    #[serde(flatten)]
    history: RunHistory,
    catalog: Catalog,
    /// The item feature map when items are made of features (their tables follow the
    /// representation's in `tables`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item_features: Option<HybridSideSpec>,
}

fn read_info(dir: &Path) -> Result<SequenceModelFile, NetrexError> {
    let path = dir.join("model.json");
    let info: SequenceModelFile = read_json(dir)?;
    if info.format != KIND || info.version != VERSION {
        return Err(corrupt(
            &path,
            format!(
                "not a netrex sequence model of version {VERSION} ({} v{})",
                info.format, info.version
            ),
        ));
    }
    Ok(info)
}

/// Whether `dir` holds a sequence model (rather than a factorization model).
pub fn is_sequence_model(dir: impl AsRef<Path>) -> bool {
    let Ok(text) = fs::read(dir.as_ref().join("model.json")) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|v| v["format"] == KIND)
}

/// The loss name a saved sequence model was trained with.
pub fn saved_sequence_loss_name(dir: impl AsRef<Path>) -> Result<String, NetrexError> {
    Ok(read_info(dir.as_ref())?.loss)
}

impl<R: SequenceRepresentation + Record, L: Loss, D: ComputeDevice> ImplicitSequenceModel<R, L, D> {
    /// Saves the model into `dir` (created if needed), with `catalog` for raw-id answers.
    pub fn save(&self, dir: impl AsRef<Path>, catalog: &Catalog) -> Result<(), NetrexError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut tables = self.representation().tables().to_vec();
        let features = self
            .item_feature_map()
            .map(|map| HybridSideSpec::of(&HybridSide::Features(map.clone())));
        tables.extend(
            self.item_feature_tables()
                .unwrap_or_default()
                .iter()
                .cloned(),
        );
        let tables = tables.as_slice();
        write_tensors(dir, KIND, tables, None)?;
        let file = SequenceModelFile {
            format: KIND.into(),
            version: VERSION,
            name: self.representation().name(),
            representation: spec_json(self.representation(), dir)?,
            loss: self.loss().name(),
            config: self.config.clone(),
            tables: TableInfo::of(tables),
            history: self.run_history(),
            catalog: catalog.clone(),
            item_features: features,
        };
        write_json(dir, &file)
    }

    /// Loads a model saved by [`save`](Self::save) onto `device`, training further with
    /// `loss`. Fails with a clear error on a missing, corrupt or mismatched file (one saved
    /// from another representation included).
    pub fn load_on(
        device: D,
        dir: impl AsRef<Path>,
        loss: L,
    ) -> Result<(Self, Catalog), NetrexError> {
        let dir = dir.as_ref();
        let info = read_info(dir)?;
        let (mut tables, _) = read_tensors(dir, &info.tables)?;
        let feature_tables = match info.item_features {
            Some(_) if tables.len() < 2 => {
                return Err(corrupt(dir, "item features without their tables"))
            }
            Some(_) => tables.split_off(tables.len() - 2),
            None => Vec::new(),
        };
        let representation: R = restore(dir, info.representation, tables, &info.name, R::name)?;
        info.history.check(dir, info.config.training.epochs)?;
        let items = representation.num_items();
        info.catalog.check_sizes(dir, None, items)?;
        let mut model = ImplicitSequenceModel::new_on(device, info.config, representation, loss)?;
        if let Some(spec) = info.item_features {
            let HybridSide::Features(map) = spec
                .side()
                .map_err(|e| corrupt(dir, format!("item feature map: {e}")))?
            else {
                return Err(corrupt(dir, "the item feature map has no features"));
            };
            model = model
                .with_item_feature_tables(map, feature_tables)
                .map_err(|e| corrupt(dir, e.to_string()))?;
        }
        model.restore_history(info.history);
        Ok((model, info.catalog))
    }
}

impl<R: SequenceRepresentation + Record, L: Loss> ImplicitSequenceModel<R, L> {
    /// Loads a model saved by [`save`](Self::save) onto the CPU (see
    /// [`load_on`](Self::load_on)).
    pub fn load(dir: impl AsRef<Path>, loss: L) -> Result<(Self, Catalog), NetrexError> {
        Self::load_on(crate::device::cpu(), dir, loss)
    }
}

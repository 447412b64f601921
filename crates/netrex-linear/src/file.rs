//! A linear model in a model folder: `model.json` (kind, hyperparameters and the caller's
//! catalog: raw ids, the run plan) and `model.safetensors` (weights and each training user's
//! items), each written to a temporary name and renamed, so a crash never leaves half a model.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use netrex_evaluation::ItemScorer;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::{
    Ease, EaseConfig, Ials, IalsConfig, LinearError, LocalEase, LocalEaseConfig, UserItems,
};

/// The `format` of a linear model's `model.json`.
pub const FORMAT: &str = "netrex-linear";

/// Either linear model, as a folder holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum LinearModel {
    /// [`Ease`].
    Ease(Ease),
    /// [`Ials`].
    Ials(Ials),
    /// [`LocalEase`].
    LocalEase(LocalEase),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Settings {
    Ease(EaseConfig),
    Ials(IalsConfig),
    #[serde(rename = "local-ease")]
    LocalEase(LocalEaseConfig),
}

#[derive(Serialize, Deserialize)]
struct Info {
    format: String,
    #[serde(flatten)]
    settings: Settings,
    num_users: usize,
    num_items: usize,
    catalog: serde_json::Value,
}

/// Whether `dir` holds a linear model.
pub fn is_linear_model(dir: impl AsRef<Path>) -> bool {
    fs::read(dir.as_ref().join("model.json"))
        .ok()
        .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
        .is_some_and(|v| v["format"] == FORMAT)
}

fn fail(path: &Path, message: impl ToString) -> LinearError {
    LinearError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LinearError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| fail(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| fail(path, e))
}

/// A weight table's name, values and shape.
type Table<'a> = (&'a str, &'a [f32], Vec<usize>);

fn bytes_of<T: Copy, const N: usize>(values: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

impl LinearModel {
    /// `"ease"` or `"ials"`.
    pub fn kind(&self) -> &'static str {
        match self {
            LinearModel::Ease(_) => "ease",
            LinearModel::Ials(_) => "ials",
            LinearModel::LocalEase(_) => "local-ease",
        }
    }

    /// Each training user's items.
    pub fn train(&self) -> &UserItems {
        match self {
            LinearModel::Ease(m) => m.train(),
            LinearModel::Ials(m) => m.train(),
            LinearModel::LocalEase(m) => m.train(),
        }
    }

    /// Every item's score for someone who has `items` and is not a training user: EASE
    /// scores them directly, iALS folds them in first.
    pub fn score_new(&self, items: &[u32], scores: &mut [f32]) -> Result<(), LinearError> {
        if let Some(&bad) = items.iter().find(|&&i| i as usize >= self.num_items()) {
            return Err(LinearError::Parameter(format!(
                "item {bad} is not in the model's {} items",
                self.num_items()
            )));
        }
        match self {
            LinearModel::Ease(m) => m.score_items_of(items, scores),
            LinearModel::Ials(m) => m.score_with(&m.fold_in(items)?, scores),
            LinearModel::LocalEase(m) => m.score_items_of(items, scores),
        }
        Ok(())
    }

    /// Saves the model into `dir` (created if needed) with `catalog`, which the loader hands
    /// back as it was.
    pub fn save(
        &self,
        dir: impl AsRef<Path>,
        catalog: serde_json::Value,
    ) -> Result<(), LinearError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        let train = self.train();
        let sparse = match self {
            LinearModel::LocalEase(m) => Some(m.to_csr()),
            _ => None,
        };
        let (settings, tables): (Settings, Vec<Table<'_>>) = match self {
            LinearModel::Ease(m) => {
                let n = m.num_items();
                (
                    Settings::Ease(*m.config()),
                    vec![("weights", m.weights(), vec![n, n])],
                )
            }
            LinearModel::Ials(m) => {
                let k = m.config().factors;
                (
                    Settings::Ials(*m.config()),
                    vec![
                        ("user_factors", m.user_factors(), vec![train.num_users(), k]),
                        ("item_factors", m.item_factors(), vec![train.num_items(), k]),
                    ],
                )
            }
            LinearModel::LocalEase(m) => {
                let (_, _, weights) = sparse.as_ref().expect("built above");
                let len = weights.len();
                (
                    Settings::LocalEase(*m.config()),
                    vec![("weights", &weights[..], vec![len])],
                )
            }
        };
        let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tables
            .into_iter()
            .map(|(name, v, shape)| {
                (
                    name.to_owned(),
                    Dtype::F32,
                    shape,
                    bytes_of(v, f32::to_le_bytes),
                )
            })
            .collect();
        if let Some((offsets, targets, _)) = &sparse {
            let offsets: Vec<u64> = offsets.iter().map(|&o| o as u64).collect();
            buffers.push((
                "weight_offsets".into(),
                Dtype::U64,
                vec![offsets.len()],
                bytes_of(&offsets, u64::to_le_bytes),
            ));
            buffers.push((
                "weight_targets".into(),
                Dtype::U32,
                vec![targets.len()],
                bytes_of(targets, u32::to_le_bytes),
            ));
        }
        let offsets: Vec<u64> = train.offsets().iter().map(|&o| o as u64).collect();
        buffers.push((
            "train_offsets".into(),
            Dtype::U64,
            vec![offsets.len()],
            bytes_of(&offsets, u64::to_le_bytes),
        ));
        buffers.push((
            "train_items".into(),
            Dtype::U32,
            vec![train.nnz()],
            bytes_of(train.items(), u32::to_le_bytes),
        ));
        let mut views = Vec::with_capacity(buffers.len());
        for (name, dtype, shape, bytes) in &buffers {
            let view = TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| fail(dir, e))?;
            views.push((name.clone(), view));
        }
        let metadata = HashMap::from([("format".to_owned(), FORMAT.to_owned())]);
        let tensors = safetensors::serialize(views, &Some(metadata)).map_err(|e| fail(dir, e))?;
        write_atomically(&dir.join("model.safetensors"), &tensors)?;
        let info = Info {
            format: FORMAT.into(),
            settings,
            num_users: train.num_users(),
            num_items: train.num_items(),
            catalog,
        };
        let json = serde_json::to_string_pretty(&info).map_err(|e| fail(dir, e))?;
        write_atomically(&dir.join("model.json"), json.as_bytes())
    }

    /// Loads the model in `dir`, with the catalog it was saved with.
    pub fn load(dir: impl AsRef<Path>) -> Result<(Self, serde_json::Value), LinearError> {
        let dir = dir.as_ref();
        let json_path = dir.join("model.json");
        let text = fs::read(&json_path).map_err(|e| fail(&json_path, e))?;
        let info: Info = serde_json::from_slice(&text).map_err(|e| fail(&json_path, e))?;
        if info.format != FORMAT {
            return Err(fail(
                &json_path,
                format!("not a linear model (format {:?})", info.format),
            ));
        }
        let path = dir.join("model.safetensors");
        let bytes = fs::read(&path).map_err(|e| fail(&path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(&path, e))?;
        let read = |name: &str, dtype: Dtype, len: usize| -> Result<Vec<u8>, LinearError> {
            let view = st
                .tensor(name)
                .map_err(|e| fail(&path, format!("{name}: {e}")))?;
            let width = if dtype == Dtype::U64 { 8 } else { 4 };
            if view.dtype() != dtype || len.checked_mul(width) != Some(view.data().len()) {
                return Err(fail(&path, format!("{name} has the wrong type or size")));
            }
            Ok(view.data().to_vec())
        };
        let floats = |name: &str, len: usize| -> Result<Vec<f32>, LinearError> {
            let raw = read(name, Dtype::F32, len)?;
            let values: Vec<f32> = raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(fail(
                    &path,
                    format!("{name} holds values that are not finite"),
                ));
            }
            Ok(values)
        };
        // row offsets (u64) and the ids they delimit (u32), for the training rows and the
        // scalable EASE's weights alike
        let offsets = |name: &str, rows: usize| -> Result<Vec<usize>, LinearError> {
            Ok(read(name, Dtype::U64, rows.saturating_add(1))?
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
                .collect())
        };
        let ids = |name: &str, len: usize| -> Result<Vec<u32>, LinearError> {
            Ok(read(name, Dtype::U32, len)?
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let (users, items) = (info.num_users, info.num_items);
        let train_offsets = offsets("train_offsets", users)?;
        let nnz = train_offsets.last().copied().unwrap_or(0);
        let train_items = ids("train_items", nnz)?;
        let train = UserItems::from_parts(train_offsets, train_items, items)
            .ok_or_else(|| fail(&path, "the training items are out of order or out of range"))?;
        let model = match info.settings {
            Settings::Ease(config) => LinearModel::Ease(Ease::from_parts(
                config,
                floats("weights", items.saturating_mul(items))?,
                train,
            )?),
            Settings::LocalEase(config) => {
                config.check()?;
                let offsets = offsets("weight_offsets", items)?;
                let len = offsets.last().copied().unwrap_or(0);
                let targets = ids("weight_targets", len)?;
                let weights = floats("weights", len)?;
                LinearModel::LocalEase(LocalEase::from_csr(
                    config, offsets, targets, weights, train,
                )?)
            }
            Settings::Ials(config) => {
                config.check()?;
                let k = config.factors;
                let u = floats("user_factors", users.saturating_mul(k))?;
                let i = floats("item_factors", items.saturating_mul(k))?;
                LinearModel::Ials(Ials::from_parts(config, u, i, train)?)
            }
        };
        Ok((model, info.catalog))
    }
}

impl ItemScorer for LinearModel {
    fn num_users(&self) -> usize {
        self.train().num_users()
    }
    fn num_items(&self) -> usize {
        self.train().num_items()
    }
    fn score_items(&self, user: u32, scores: &mut [f32]) {
        let seen = self.train().get(user as usize);
        match self {
            LinearModel::Ease(m) => m.score_items_of(seen, scores),
            LinearModel::LocalEase(m) => m.score_items_of(seen, scores),
            LinearModel::Ials(m) => {
                let k = m.config().factors;
                let u = user as usize;
                m.score_with(&m.user_factors()[u * k..(u + 1) * k], scores);
            }
        }
    }
}

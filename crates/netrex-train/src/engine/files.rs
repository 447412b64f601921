//! What the model files of both kinds share: the catalog saved beside a model, the training
//! history, and writing and reading JSON and safetensors atomically.
//!
//! A model folder holds `model.safetensors` (one tensor per table) and `model.json`
//! (format version, representation and loss names, hyperparameters, table layout, training
//! history, and the raw-id maps when the model was trained from loaded data). Each file is
//! written to a temporary name and renamed, so a crash never leaves a half-written model.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use netrex_data::{IdMap, PerUser, RawId};
use netrex_representations::{IndexedBy, Record, Table};

use crate::error::NetrexError;
/// The format written by this version.
pub const FORMAT_VERSION: u32 = 1;

/// The raw-id maps and titles that let a model answer in the source's terms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Raw user ids by dense index.
    pub users: Option<IdMap<RawId>>,
    /// Raw item ids by dense index.
    pub items: Option<IdMap<RawId>>,
    /// Item titles by dense index ("" when unknown).
    pub titles: Option<Vec<String>>,
    /// Each user's training items, so recommendations can leave them out (stored in the
    /// tensor file, not the JSON).
    #[serde(skip)]
    pub seen: Option<PerUser<u32>>,
    /// A hybrid model's item feature names, to score items it never saw from their features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_features: Option<crate::FeatureNames>,
    /// Likewise for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_features: Option<crate::FeatureNames>,
    /// The resolved run plan the model was trained by (the facade's `netrex::plan::RunPlan`),
    /// so that the folder alone says how to reproduce, evaluate or resume it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

impl Catalog {
    /// The raw-id maps must cover the model's tables exactly: a cut or padded map would name
    /// the wrong raw ids.
    pub(crate) fn check_sizes(
        &self,
        dir: &Path,
        users: Option<usize>,
        items: usize,
    ) -> Result<(), NetrexError> {
        let sides = [
            ("user", self.users.as_ref(), users),
            ("item", self.items.as_ref(), Some(items)),
        ];
        for (kind, map, rows) in sides {
            if let (Some(map), Some(rows)) = (map, rows) {
                if map.len() != rows {
                    return Err(corrupt(
                        dir,
                        format!(
                            "the catalog names {} {kind}s but the model has {rows}",
                            map.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Catalog {
    /// The dense index of a raw user id.
    pub fn user_index(&self, raw: &RawId) -> Result<u32, NetrexError> {
        match &self.users {
            Some(map) => map.get(raw).ok_or_else(|| NetrexError::UnknownId {
                kind: "user",
                id: raw.to_string(),
                count: map.len(),
            }),
            None => match raw {
                RawId::Int(v) if *v >= 0 && *v <= i64::from(u32::MAX) => Ok(*v as u32),
                _ => Err(NetrexError::UnknownId {
                    kind: "user",
                    id: raw.to_string(),
                    count: 0,
                }),
            },
        }
    }

    /// The raw id of a dense item.
    pub fn item_raw(&self, item: u32) -> RawId {
        self.items
            .as_ref()
            .and_then(|m| m.raw(item).cloned())
            .unwrap_or(RawId::Int(i64::from(item)))
    }

    /// The title of a dense item, if known.
    pub fn title(&self, item: u32) -> Option<&str> {
        let t = self.titles.as_ref()?.get(item as usize)?;
        (!t.is_empty()).then_some(t.as_str())
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RunHistory {
    pub(crate) epochs_trained: usize,
    /// Epochs trained when the last run began (checkpoints resume its schedule).
    #[serde(default)]
    pub(crate) run_start: usize,
    pub(crate) loss_history: Vec<f32>,
}

impl RunHistory {
    /// The counters must agree with the history they count: a file whose `epochs_trained` was
    /// edited would otherwise resume with no epochs left, or past its run, and report a loss
    /// it never had.
    pub(crate) fn check(&self, dir: &Path, epochs_per_run: usize) -> Result<(), NetrexError> {
        let (epochs, start) = (self.epochs_trained, self.run_start);
        if epochs != self.loss_history.len() {
            return Err(corrupt(
                dir,
                format!(
                    "epochs_trained is {epochs} but loss_history holds {} epochs",
                    self.loss_history.len()
                ),
            ));
        }
        if start > epochs || epochs > start.saturating_add(epochs_per_run) {
            return Err(corrupt(
                dir,
                format!(
                    "run_start {start} and epochs_trained {epochs} do not fit a run of \
                     {epochs_per_run} epochs"
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NetrexError + '_ {
    move |source| NetrexError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NetrexError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        use std::io::Write;
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))
}

pub(crate) fn corrupt(path: &Path, message: impl Into<String>) -> NetrexError {
    NetrexError::ModelFile {
        path: path.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn spec_json<R: Record>(
    representation: &R,
    dir: &Path,
) -> Result<serde_json::Value, NetrexError> {
    serde_json::to_value(representation.spec()).map_err(|e| corrupt(dir, e.to_string()))
}

/// Rebuilds a representation from its saved spec and tables, and checks that it is the
/// representation the file names (`saved_name`; empty in files that name none).
pub(crate) fn restore<R: Record>(
    dir: &Path,
    spec: serde_json::Value,
    tables: Vec<Table>,
    saved_name: &str,
    name: impl Fn(&R) -> String,
) -> Result<R, NetrexError> {
    let spec: R::Spec = serde_json::from_value(spec).map_err(|e| {
        corrupt(
            dir,
            format!("the representation's description does not fit: {e}"),
        )
    })?;
    let representation = R::from_record(spec, tables).map_err(|e| corrupt(dir, e.to_string()))?;
    if !saved_name.is_empty() && name(&representation) != saved_name {
        return Err(corrupt(
            dir,
            format!(
                "the model is a {saved_name} model, not {}",
                name(&representation)
            ),
        ));
    }
    Ok(representation)
}

/// Writes `file` as `dir/model.json`, atomically.
pub(crate) fn write_json(dir: &Path, file: &impl Serialize) -> Result<(), NetrexError> {
    let json = serde_json::to_vec_pretty(file).map_err(|e| corrupt(dir, e.to_string()))?;
    write_atomically(&dir.join("model.json"), &json)
}

/// Reads `dir/model.json` as `T`; a missing file is an I/O error, a malformed one a
/// model-file error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T, NetrexError> {
    let path = dir.join("model.json");
    let text = fs::read(&path).map_err(io(&path))?;
    serde_json::from_slice(&text).map_err(|e| match e.is_eof() {
        // serde points at the last line read, which is valid: say what is wrong instead
        true => corrupt(&path, "the file ends before its JSON does (truncated?)"),
        false => corrupt(&path, e.to_string()),
    })
}

/// Writes `tables` (and the seen items, if any) to `dir/model.safetensors`, atomically.
pub(crate) fn write_tensors(
    dir: &Path,
    kind: &str,
    tables: &[Table],
    seen: Option<&PerUser<u32>>,
) -> Result<(), NetrexError> {
    let bytes: Vec<Vec<u8>> = tables
        .iter()
        .map(|t| t.data().iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tables.len() + 2);
    for (t, b) in tables.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, vec![t.rows(), t.cols()], b)
            .map_err(|e| corrupt(dir, e.to_string()))?;
        views.push((t.name().to_owned(), view));
    }
    let mut seen_bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    if let Some(seen) = seen {
        let mut offsets = Vec::with_capacity((seen.num_users() + 1) * 8);
        let mut at = 0u64;
        offsets.extend(at.to_le_bytes());
        for u in 0..seen.num_users() {
            at += seen.get(u).len() as u64;
            offsets.extend(at.to_le_bytes());
        }
        let items: Vec<u8> = seen.values().iter().flat_map(|v| v.to_le_bytes()).collect();
        seen_bytes.push((
            "seen_offsets".into(),
            Dtype::U64,
            vec![seen.num_users() + 1],
            offsets,
        ));
        seen_bytes.push((
            "seen_items".into(),
            Dtype::U32,
            vec![seen.values().len()],
            items,
        ));
    }
    for (name, dtype, shape, bytes) in &seen_bytes {
        let view = TensorView::new(*dtype, shape.clone(), bytes)
            .map_err(|e| corrupt(dir, e.to_string()))?;
        views.push((name.clone(), view));
    }
    let mut metadata = HashMap::new();
    metadata.insert("format".to_owned(), kind.to_owned());
    let tensors =
        safetensors::serialize(views, &Some(metadata)).map_err(|e| corrupt(dir, e.to_string()))?;
    write_atomically(&dir.join("model.safetensors"), &tensors)
}

/// Reads the tables described by `infos` (and the seen items, if saved) from
/// `dir/model.safetensors`, checking types, shapes and values.
pub(crate) fn read_tensors(
    dir: &Path,
    infos: &[TableInfo],
) -> Result<(Vec<Table>, Option<PerUser<u32>>), NetrexError> {
    let tensor_path = dir.join("model.safetensors");
    let bytes = fs::read(&tensor_path).map_err(io(&tensor_path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(&tensor_path, e.to_string()))?;
    let mut tables = Vec::with_capacity(infos.len());
    for t in infos {
        let view = st
            .tensor(&t.name)
            .map_err(|e| corrupt(&tensor_path, format!("table {}: {e}", t.name)))?;
        if view.dtype() != Dtype::F32 || view.shape() != [t.rows, t.cols] {
            return Err(corrupt(
                &tensor_path,
                format!(
                    "table {} is {:?} {:?}, expected F32 [{}, {}]",
                    t.name,
                    view.dtype(),
                    view.shape(),
                    t.rows,
                    t.cols
                ),
            ));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tables.push(
            Table::from_data(&t.name, t.indexed_by, t.rows, t.cols, data)
                .map_err(|e| corrupt(&tensor_path, e.to_string()))?,
        );
    }
    let users = infos
        .iter()
        .find(|t| t.indexed_by == IndexedBy::User)
        .map(|t| t.rows);
    let seen = read_seen(&st, users).map_err(|m| corrupt(&tensor_path, m))?;
    Ok((tables, seen))
}

/// The layout of a saved table.
#[derive(Serialize, Deserialize)]
pub(crate) struct TableInfo {
    pub(crate) name: String,
    pub(crate) indexed_by: IndexedBy,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

impl TableInfo {
    pub(crate) fn of(tables: &[Table]) -> Vec<TableInfo> {
        tables
            .iter()
            .map(|t| TableInfo {
                name: t.name().into(),
                indexed_by: t.indexed_by(),
                rows: t.rows(),
                cols: t.cols(),
            })
            .collect()
    }
}

fn read_seen(
    st: &SafeTensors<'_>,
    num_users: Option<usize>,
) -> Result<Option<PerUser<u32>>, String> {
    let (Ok(offsets), Ok(items)) = (st.tensor("seen_offsets"), st.tensor("seen_items")) else {
        return Ok(None);
    };
    if offsets.dtype() != Dtype::U64 || items.dtype() != Dtype::U32 {
        return Err("seen-item tensors have the wrong types".into());
    }
    let offsets: Vec<u64> = offsets
        .data()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let items: Vec<u32> = items
        .data()
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let valid = offsets.first() == Some(&0)
        && offsets.windows(2).all(|w| w[0] <= w[1])
        && offsets.last().copied() == Some(items.len() as u64)
        && num_users.is_none_or(|n| offsets.len() <= n + 1);
    if !valid {
        return Err("seen-item offsets are inconsistent".into());
    }
    let lists = offsets
        .windows(2)
        .map(|w| items[w[0] as usize..w[1] as usize].to_vec())
        .collect();
    Ok(Some(PerUser::from_lists(lists)))
}

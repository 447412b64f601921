//! Run plans from Python: the keyword arguments arrive as JSON of the plan's sections, and
//! the data's origin (MovieLens' split, a sequence file) is written into the plan, so that a
//! Python run and the command line's run of the same settings are one run.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;

use netrex::losses::BuiltinLoss;
use netrex::plan::{DatasetName, ModelName, RunPlan};

use crate::data::{Data, Origin};
use crate::errors::{err, OrRaise};

/// The plan of `json` (the sections of a config file, as a JSON object).
pub(crate) fn plan_from_json(json: &str) -> PyResult<RunPlan> {
    serde_json::from_str(json).map_err(|e| err(format!("bad settings: {e}")))
}

/// The plan of `json`, whose model kind must pass `fits`; `expected` says what does.
pub(crate) fn plan_of_kind(
    json: &str,
    fits: fn(ModelName) -> bool,
    expected: &str,
) -> PyResult<RunPlan> {
    let given = plan_from_json(json)?;
    if !fits(given.model.kind) {
        let kind = netrex::plan::name_of(&given.model.kind);
        return Err(err(format!("{kind} is not {expected}")));
    }
    Ok(given)
}

/// What a plan's features section names for features passed from Python while it resolves:
/// their defaults (ids kept, weighting, weight factor) are the command line's for the split.
const IN_MEMORY: &str = "<in memory>";

/// `given` with `data`'s origin written in, resolved and checked (every setting but the data
/// source, which Python holds in memory). `features` says which sides (users, items) have
/// side features from Python.
pub(crate) fn resolved_for(
    given: &RunPlan,
    data: Option<&Data>,
    features: (bool, bool),
) -> PyResult<RunPlan> {
    let mut plan = given.clone();
    for (has, slot) in [
        (features.0, &mut plan.features.user),
        (features.1, &mut plan.features.item),
    ] {
        if has && slot.is_none() {
            *slot = Some(IN_MEMORY.into());
        }
    }
    match data.and_then(|d| d.origin.as_ref()) {
        Some(Origin::MovieLens(split)) => {
            plan.data.dataset = Some(DatasetName::Ml100k);
            plan.split.method.get_or_insert(*split);
        }
        Some(Origin::Sequences(path)) => plan.data.sequences = Some(path.clone()),
        None => {}
    }
    let mut plan = plan.resolve().or_raise()?;
    plan.check_in_memory().or_raise()?;
    // the resolved weighting stays; the section names no file to read
    for slot in [&mut plan.features.user, &mut plan.features.item] {
        if slot.as_deref() == Some(IN_MEMORY) {
            *slot = None;
        }
    }
    Ok(plan)
}

/// The built-in loss a saved model names.
pub(crate) fn saved_loss(dir: &Path, sequence: bool) -> PyResult<BuiltinLoss> {
    let name = if sequence {
        netrex::saved_sequence_loss_name(dir)
    } else {
        netrex::saved_loss_name(dir)
    }
    .or_raise()?;
    BuiltinLoss::from_name(&name, None).ok_or_else(|| {
        err(format!(
            "{}: trained with loss {name:?}, which this netrex does not know",
            dir.display()
        ))
    })
}

/// The sections of a TOML config file (the command line's `--config`) as JSON.
#[pyfunction]
pub fn plan_toml_to_json(text: &str) -> PyResult<String> {
    let plan = RunPlan::from_toml(text).or_raise()?;
    serde_json::to_string(&plan).or_raise()
}

/// The kind of model saved in `dir`: "factorization", "sequence" or "linear".
#[pyfunction]
pub fn saved_kind(dir: PathBuf) -> PyResult<String> {
    let text = std::fs::read_to_string(dir.join("model.json"))
        .map_err(|e| err(format!("{}: no model here ({e})", dir.display())))?;
    let info: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| err(format!("{}/model.json is corrupt: {e}", dir.display())))?;
    let format = info["format"].as_str().unwrap_or_default();
    Ok(match format {
        "netrex-factorization" => "factorization",
        "netrex-sequence" => "sequence",
        "netrex-linear" => "linear",
        other => {
            return Err(err(format!(
                "{}/model.json is not a netrex model (format {other:?})",
                dir.display()
            )))
        }
    }
    .into())
}

//! What every model class keeps beside its model: the plan as given and as resolved, and the
//! raw ids of its users and items.

use std::path::Path;

use pyo3::prelude::*;

use netrex::plan::RunPlan;
use netrex::Catalog;

use crate::data::{mapping, write_plan, IdMapping};
use crate::errors::OrRaise;
use crate::plans::resolved_for;

#[derive(Default)]
pub struct Setting {
    /// The plan as given.
    pub given: RunPlan,
    /// The plan resolved against the data of the last fit from scratch.
    pub plan: RunPlan,
    /// Raw user and item ids by dense index, when the model was trained on raw ids.
    pub users: Option<IdMapping>,
    pub items: Option<IdMapping>,
}

impl Setting {
    /// The setting of a plan as given, checked now and resolved at the first fit.
    pub fn new(given: RunPlan) -> PyResult<Self> {
        let plan = resolved_for(&given, None, (false, false))?;
        Ok(Setting {
            given,
            plan,
            ..Setting::default()
        })
    }

    /// The setting of a saved folder: its plan and the ids of its catalog.
    pub fn restored(plan: RunPlan, catalog: &mut Catalog) -> Self {
        Setting {
            given: plan.clone(),
            plan,
            users: mapping(catalog.users.take()),
            items: mapping(catalog.items.take()),
        }
    }

    /// A catalog of the raw ids and the resolved plan, saved beside the model.
    pub fn catalog(&self) -> PyResult<Catalog> {
        Ok(Catalog {
            users: self.users.as_ref().map(|m| (*m.map).clone()),
            items: self.items.as_ref().map(|m| (*m.map).clone()),
            plan: Some(serde_json::to_value(&self.plan).or_raise()?),
            ..Catalog::default()
        })
    }

    /// The resolved plan as JSON.
    pub fn plan_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.plan).or_raise()
    }

    /// Raw user and item ids by dense index.
    pub fn maps(&self) -> (Option<IdMapping>, Option<IdMapping>) {
        (self.users.clone(), self.items.clone())
    }

    /// Writes the resolved plan into a saved folder (`plan.toml`).
    pub fn write_plan(&self, dir: &Path) -> PyResult<()> {
        write_plan(dir, &self.plan)
    }
}

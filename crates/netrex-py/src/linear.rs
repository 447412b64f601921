//! The linear models of a run plan (EASE, the neighbourhood EASE, iALS) from Python, fitted,
//! queried, evaluated and saved as `netrex fit --model ease|local-ease|ials` does.

use std::path::PathBuf;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use netrex::evaluation::{evaluate, EvalConfig, ItemScorer};
use netrex::linear::LinearModel;
use netrex::plan::{ModelName, RunPlan};
use netrex::Catalog;

use crate::answers::{report_dict, top_k_arrays, Ranked};
use crate::data::{ids_below, Data, IdMapping};
use crate::errors::{err, fitted, OrRaise};
use crate::plans::{plan_of_kind, resolved_for};
use crate::setting::Setting;

/// EASE, the neighbourhood EASE or iALS, fitted in one piece on the CPU.
#[pyclass(module = "netrex._netrex")]
#[derive(Default)]
pub struct Linear {
    setting: Setting,
    model: Option<LinearModel>,
    losses: Vec<f64>,
}

#[pymethods]
impl Linear {
    /// A linear model of the run plan `plan_json`; `model.kind` must be ease, local-ease or
    /// ials.
    #[new]
    fn new(plan_json: &str) -> PyResult<Self> {
        let expected = "a linear model: use ease, local-ease or ials";
        let given = plan_of_kind(plan_json, ModelName::is_linear, expected)?;
        Ok(Linear {
            setting: Setting::new(given)?,
            ..Linear::default()
        })
    }

    /// The plan (resolved once fitted) as JSON.
    #[getter]
    fn plan_json(&self) -> PyResult<String> {
        self.setting.plan_json()
    }

    /// Whether the model has been fitted.
    #[getter]
    fn fitted(&self) -> bool {
        self.model.is_some()
    }

    /// iALS's loss after each sweep of the last fit (empty for EASE).
    #[getter]
    fn loss_history(&self) -> Vec<f64> {
        self.losses.clone()
    }

    /// Raw user and item ids by dense index.
    #[getter]
    fn maps(&self) -> (Option<IdMapping>, Option<IdMapping>) {
        self.setting.maps()
    }

    /// Number of users and items.
    #[getter]
    fn shape(&self) -> PyResult<(usize, usize)> {
        let m = fitted(&self.model)?;
        Ok((m.num_users(), m.num_items()))
    }

    /// Fits the model to `data` (its users' items; repeats count once).
    fn fit(&mut self, py: Python<'_>, data: &Data) -> PyResult<()> {
        let train = data.non_empty("training")?;
        let plan = resolved_for(&self.setting.given, Some(data), (false, false))?;
        let (model, losses) = py.detach(|| plan.fit_linear(train)).or_raise()?;
        (self.setting.plan, self.model, self.losses) = (plan, Some(model), losses);
        (self.setting.users, self.setting.items) = (data.users.clone(), data.items.clone());
        Ok(())
    }

    /// The `k` best items for each of `users` (dense ids), their training items left out
    /// with `exclude_seen`: (ids int64, scores float32), `len(users) x k`.
    #[pyo3(signature = (users, k=10, exclude_seen=true))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        k: usize,
        exclude_seen: bool,
    ) -> PyResult<Ranked<'py>> {
        let model = fitted(&self.model)?;
        let users = ids_below(&users, model.num_users(), "user")?;
        let threads = self.setting.plan.training.threads;
        let lists = py.detach(|| {
            netrex::in_pool(threads, || {
                users
                    .par_iter()
                    .map(|&u| {
                        let mut scores = vec![0.0f32; model.num_items()];
                        model.score_items(u, &mut scores);
                        let seen = model.train().get(u as usize);
                        top(scores, if exclude_seen { seen } else { &[] }, k)
                    })
                    .collect::<Vec<_>>()
            })
        });
        top_k_arrays(py, &lists.or_raise()?, k)
    }

    /// The `k` best items for a new user who chose `items` (dense ids; those left out).
    #[pyo3(signature = (items, k=10))]
    fn recommend_new<'py>(
        &self,
        py: Python<'py>,
        items: PyReadonlyArray1<'py, i64>,
        k: usize,
    ) -> PyResult<Ranked<'py>> {
        let model = fitted(&self.model)?;
        let items = ids_below(&items, model.num_items(), "item")?;
        let mut scores = vec![0.0f32; model.num_items()];
        py.detach(|| model.score_new(&items, &mut scores))
            .or_raise()?;
        top_k_arrays(py, &[top(scores, &items, k)], k)
    }

    /// Full-ranking metrics on `test`, `train`'s items excluded (the factorization keys).
    #[pyo3(signature = (test, train=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        test: &Data,
        train: Option<&Data>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let model = fitted(&self.model)?;
        let test = test.non_empty("test")?;
        let (nu, ni) = (model.num_users(), model.num_items());
        let grown = |x: &netrex::data::Interactions| x.clone().with_counts(nu, ni);
        let test = grown(test).or_raise()?;
        let train = train
            .map(|t| grown(&t.interactions))
            .transpose()
            .or_raise()?;
        let threads = self.setting.plan.training.threads;
        let report = py
            .detach(|| {
                netrex::in_pool(threads, || {
                    evaluate(model, &test, train.as_ref(), &EvalConfig::default())
                })
            })
            .or_raise()?
            .or_raise()?;
        report_dict(py, &report, 0)
    }

    /// Saves into the folder `dir` in the command line's format.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        let model = fitted(&self.model)?;
        let catalog = serde_json::to_value(self.setting.catalog()?).or_raise()?;
        py.detach(|| model.save(&dir, catalog)).or_raise()?;
        self.setting.write_plan(&dir)
    }

    /// Loads a linear model saved by `save` or by `netrex fit --model ease ... --save DIR`.
    #[staticmethod]
    fn load(py: Python<'_>, dir: PathBuf) -> PyResult<Self> {
        let (model, catalog) = py.detach(|| LinearModel::load(&dir)).or_raise()?;
        let mut catalog: Catalog = serde_json::from_value(catalog).map_err(|e| {
            err(format!(
                "{}: the catalog cannot be read: {e}",
                dir.display()
            ))
        })?;
        let plan = RunPlan::of_catalog(&catalog)
            .or_raise()?
            .unwrap_or_default();
        Ok(Linear {
            setting: Setting::restored(plan, &mut catalog),
            model: Some(model),
            ..Linear::default()
        })
    }
}

/// The `k` best of `scores`, best first, ties by id, leaving out `exclude`.
fn top(mut scores: Vec<f32>, exclude: &[u32], k: usize) -> Vec<(u32, f32)> {
    for &i in exclude {
        if let Some(s) = scores.get_mut(i as usize) {
            *s = f32::NEG_INFINITY;
        }
    }
    let mut ranked: Vec<(u32, f32)> = scores
        .into_iter()
        .enumerate()
        .filter(|(_, s)| *s > f32::NEG_INFINITY)
        .map(|(i, s)| (i as u32, s))
        .collect();
    let k = k.min(ranked.len());
    if k == 0 {
        return Vec::new();
    }
    ranked.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

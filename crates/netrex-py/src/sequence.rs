//! The sequence models of a run plan (SASRec, GRU, LSTM, CNN, pooling) from Python: trained
//! with early stopping on validation targets as `netrex fit --split leave-one-out` trains
//! them, ranking the next item after any history.

use std::path::PathBuf;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use netrex::data::split::{leave_last_k, leave_one_out};
use netrex::data::Interactions;
use netrex::evaluation::next_item_metrics;
use netrex::losses::BuiltinLoss;
use netrex::plan::{ModelName, RunPlan};
use netrex::representations::{AnySequence, SequenceRepresentation};
use netrex::{fit_early_stopping, ImplicitSequenceModel, NetrexError, ParamGuard};

use crate::answers::{top_k_arrays, Ranked};
use crate::data::{ids_below, Data, IdMapping};
use crate::errors::{err, fitted, OrRaise};
use crate::fitting::train_released;
use crate::plans::{plan_of_kind, resolved_for, saved_loss};
use crate::setting::Setting;

type Model = ImplicitSequenceModel<AnySequence, BuiltinLoss>;

/// A sequence model: encodes a user's history (oldest first) and ranks every item as the next.
#[pyclass(module = "netrex._netrex")]
#[derive(Default)]
pub struct Sequence {
    setting: Setting,
    model: Option<Model>,
    /// The best epoch and each epoch's validation NDCG@10 of the last early-stopped fit.
    best_epoch: Option<usize>,
    validation_curve: Vec<(usize, f64)>,
    /// Why the last early-stopped fit stopped early, if it diverged.
    diverged: Option<String>,
}

/// `data`'s ids must lie within the model's catalog.
fn within(model: &Model, data: &Interactions, what: &str) -> PyResult<()> {
    let n = model.representation().num_items();
    if data.num_items() > n {
        return Err(err(format!(
            "the {what} data has {} items, more than the model's {n}: build it in the model's id space",
            data.num_items()
        )));
    }
    Ok(())
}

#[pymethods]
impl Sequence {
    /// A sequence model of the run plan `plan_json`; `model.kind` must name a sequence model.
    #[new]
    fn new(plan_json: &str) -> PyResult<Self> {
        let expected = "a sequence model: use sasrec, bsarec, fmlp, gru, lstm, cnn or pooling (or netrex.FactorizationModel)";
        let given = plan_of_kind(plan_json, ModelName::is_sequence, expected)?;
        Ok(Sequence {
            setting: Setting::new(given)?,
            ..Sequence::default()
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

    /// Trains from a new initialisation on `data` (interactions with timestamps: their order
    /// is each user's sequence). With `validation` (one target per user, after the user's
    /// training items) training stops early on its NDCG@10 and keeps the best epoch's model;
    /// else it runs `epochs` epochs (default: the plan's). `callback(epoch, loss, metrics)`
    /// runs after each epoch. Returns each epoch's mean loss.
    #[pyo3(signature = (data, validation=None, epochs=None, callback=None))]
    fn fit(
        &mut self,
        py: Python<'_>,
        data: &Data,
        validation: Option<&Data>,
        epochs: Option<usize>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Vec<f32>> {
        let train = data.non_empty("training")?;
        let plan = resolved_for(&self.setting.given, Some(data), (false, false))?;
        let mut model = plan.sequence_model(train.num_items()).or_raise()?;
        let rules = plan.early_stopping().check().or_raise()?;
        let eval = plan.next_item_config();
        let threads = plan.training.threads;
        if let (Some(epochs), None) = (epochs, validation) {
            model.set_epochs(epochs).or_raise()?;
        }
        let targets = validation.map(|v| v.interactions.clone());
        let (losses, curve, best) =
            train_released(py, &mut model, callback.as_ref(), |m, hook| {
                let Some(targets) = targets.as_ref() else {
                    let report =
                        m.fit_with(train, &mut |m, end| hook(m, end.epoch, end.loss, vec![]))?;
                    return Ok((report.loss_history, Vec::new(), None));
                };
                let histories = train.histories();
                let report = fit_early_stopping(
                    m,
                    train,
                    &rules.clone(),
                    |m| {
                        let r = netrex::in_pool(threads, || {
                            next_item_metrics(m, &histories, targets, &eval)
                        })??;
                        let last = m.loss_history().last().copied().unwrap_or(f32::NAN);
                        let metrics = vec![("ndcg_at_10", r.ndcg_at_k), ("hr_at_10", r.hr_at_k)];
                        hook(m, m.epochs_trained(), last, metrics)?;
                        Ok(r.ndcg_at_k)
                    },
                    |m| m.representation().clone(),
                    |m, best| *m.representation_mut() = best,
                    |_, _| {},
                )?;
                Ok((
                    report.loss_history,
                    report.validation,
                    Some((report.best_epoch, report.diverged)),
                ))
            })?;
        (self.setting.plan, self.model) = (plan, Some(model));
        (self.setting.users, self.setting.items) = (data.users.clone(), data.items.clone());
        self.best_epoch = best.as_ref().map(|b| b.0);
        self.diverged = best.and_then(|b| b.1);
        self.validation_curve = curve;
        Ok(losses)
    }

    /// The epoch whose model was kept by the last early-stopped fit.
    #[getter]
    fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// Why the last early-stopped fit stopped before its patience ran out, if it diverged (a
    /// validation score that collapsed, a loss that exploded); its best epoch's model is kept.
    #[getter]
    fn diverged(&self) -> Option<String> {
        self.diverged.clone()
    }

    /// (epoch, validation NDCG@10) of each round of the last early-stopped fit.
    #[getter]
    fn validation_curve(&self) -> Vec<(usize, f64)> {
        self.validation_curve.clone()
    }

    /// Mean loss of every epoch trained.
    #[getter]
    fn loss_history(&self) -> PyResult<Vec<f32>> {
        Ok(fitted(&self.model)?.loss_history().to_vec())
    }

    /// Epochs trained.
    #[getter]
    fn epochs_trained(&self) -> PyResult<usize> {
        Ok(fitted(&self.model)?.epochs_trained())
    }

    /// Number of items the model ranks.
    #[getter]
    fn num_items(&self) -> PyResult<usize> {
        Ok(fitted(&self.model)?.representation().num_items())
    }

    /// Raw user and item ids by dense index.
    #[getter]
    fn maps(&self) -> (Option<IdMapping>, Option<IdMapping>) {
        self.setting.maps()
    }

    /// The `k` best next items after each history (dense ids, oldest first): (ids int64,
    /// scores float32), `len(histories) x k`; a history's own items are left out with
    /// `exclude_seen`.
    #[pyo3(signature = (histories, k=10, exclude_seen=true))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        histories: Vec<PyReadonlyArray1<'py, i64>>,
        k: usize,
        exclude_seen: bool,
    ) -> PyResult<Ranked<'py>> {
        let model = fitted(&self.model)?;
        let n = model.representation().num_items();
        let histories: Vec<Vec<u32>> = histories
            .iter()
            .map(|h| ids_below(h, n, "item"))
            .collect::<PyResult<_>>()?;
        let threads = self.setting.plan.training.threads;
        let lists = py.detach(|| {
            netrex::in_pool(threads, || {
                histories
                    .par_iter()
                    .map(|h| model.recommend(h, k, exclude_seen))
                    .collect::<Result<Vec<_>, NetrexError>>()
            })
        });
        top_k_arrays(py, &lists.or_raise()?.or_raise()?, k)
    }

    /// Next-item metrics of `test` (one target per user) given each user's `history`: every
    /// item ranked, seen items removed, at 10: hr_at_10, ndcg_at_10, mrr, targets (the
    /// command line's leave-one-out JSON keys).
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        test: &Data,
        history: &Data,
    ) -> PyResult<Bound<'py, PyDict>> {
        let model = fitted(&self.model)?;
        let targets = test.non_empty("test")?;
        within(model, targets, "test")?;
        within(model, &history.interactions, "history")?;
        let histories = history.interactions.histories();
        let eval = self.setting.plan.next_item_config();
        let threads = self.setting.plan.training.threads;
        let report = py
            .detach(|| {
                netrex::in_pool(threads, || {
                    next_item_metrics(model, &histories, targets, &eval)
                })
            })
            .or_raise()?
            .or_raise()?;
        let out = PyDict::new(py);
        out.set_item("hr_at_10", report.hr_at_k)?;
        out.set_item("ndcg_at_10", report.ndcg_at_k)?;
        out.set_item("mrr", report.mrr)?;
        out.set_item("targets", report.targets)?;
        Ok(out)
    }

    /// Saves into the folder `dir` in the command line's format.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        let model = fitted(&self.model)?;
        let catalog = self.setting.catalog()?;
        py.detach(|| model.save(&dir, &catalog)).or_raise()?;
        self.setting.write_plan(&dir)
    }

    /// Loads a sequence model saved by `save` or by `netrex fit --save DIR`.
    #[staticmethod]
    fn load(py: Python<'_>, dir: PathBuf) -> PyResult<Self> {
        let loss = saved_loss(&dir, true)?;
        let (model, mut catalog) = py.detach(|| Model::load(&dir, loss)).or_raise()?;
        let plan = RunPlan::of_catalog(&catalog)
            .or_raise()?
            .unwrap_or_else(|| {
                let mut plan = RunPlan::default();
                plan.model.kind = ModelName::Sasrec;
                plan
            });
        Ok(Sequence {
            setting: Setting::restored(plan, &mut catalog),
            model: Some(model),
            ..Sequence::default()
        })
    }
}

/// The leave-one-out split of the sequence benchmarks: per user the last item is the test
/// target and the one before it the validation target; (train, validation, test).
#[pyfunction]
pub fn split_leave_one_out(data: &Data) -> PyResult<(Data, Data, Data)> {
    let split = leave_one_out(data.non_empty("sequence")?).or_raise()?;
    Ok((
        data.relabel(split.train),
        data.relabel(split.validation),
        data.relabel(split.test),
    ))
}

/// Each user's last `k` interactions held out (by timestamp): (train, held out).
#[pyfunction]
pub fn split_leave_last(data: &Data, k: usize) -> PyResult<(Data, Data)> {
    let parts = leave_last_k(data.non_empty("sequence")?, k).or_raise()?;
    Ok((data.relabel(parts.train), data.relabel(parts.test)))
}

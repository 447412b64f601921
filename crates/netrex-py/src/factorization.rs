//! The factorization model of a run plan, trained, queried, evaluated and saved from Python.

use std::path::PathBuf;

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use netrex::data::{Features, Interactions, PerUser};
use netrex::evaluation::EvalConfig;
use netrex::losses::BuiltinLoss;
use netrex::plan::{ModelName, RunPlan};
use netrex::representations::{FactorizationRepresentation, Hybrid, HybridSide};
use netrex::retrieval::Similarity;
use netrex::{Catalog, FeatureNames, FoldIn, ImplicitFactorizationModel, ParamGuard};

use crate::answers::{report_dict, top_k_arrays, Ranked, RankedOne};
use crate::data::{ids_below, Data, IdMapping};
use crate::errors::{err, fitted, OrRaise};
use crate::features::{features_of, FeatureRows};
use crate::fitting::{train_released, Metrics};
use crate::plans::{plan_from_json, resolved_for, saved_loss};
use crate::setting::Setting;

type Model = ImplicitFactorizationModel<Hybrid, BuiltinLoss>;

/// A factorization model (embeddings and biases of users and items, scored by a dot product)
/// trained with any built-in loss, as `netrex fit --model factorization` trains it.
#[pyclass(module = "netrex._netrex")]
#[derive(Default)]
pub struct Factorization {
    setting: Setting,
    model: Option<Model>,
    /// Each user's training items, left out of recommendations.
    seen: Option<PerUser<u32>>,
    /// The side features' names and layout, saved so that a folder scores new ids.
    user_features: Option<FeatureNames>,
    item_features: Option<FeatureNames>,
}

impl Factorization {
    /// The data must use the model's id space to continue training on it.
    fn check_same_space(&self, model: &Model, data: &Data) -> PyResult<()> {
        let r = model.representation();
        let (u, i) = (r.num_users(), r.num_items());
        let x = &data.interactions;
        if (x.num_users(), x.num_items()) != (u, i) {
            return Err(err(format!(
                "fit_partial needs data in the model's id space ({u} users x {i} items), got {} x {}: build it with the model's id maps (netrex.Interactions.from_frame(..., like=model))",
                x.num_users(),
                x.num_items()
            )));
        }
        let differs = |a: &Option<IdMapping>, b: &Option<IdMapping>| match (a, b) {
            (Some(a), Some(b)) => a.map != b.map,
            _ => false,
        };
        if differs(&self.setting.users, &data.users) || differs(&self.setting.items, &data.items) {
            return Err(err(
                "the data maps raw ids differently from the model: build it with the model's id maps",
            ));
        }
        Ok(())
    }

    fn table(&self, name: &str) -> PyResult<Array2<f32>> {
        let model = fitted(&self.model)?;
        let r = model.representation();
        if !r.is_bilinear() {
            return Err(err(
                "embeddings of a hybrid (feature-built) model are not single rows",
            ));
        }
        let t = r
            .tables()
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| err(format!("the model has no {name} table")))?;
        Array2::from_shape_vec((t.rows(), t.cols()), t.data().to_vec()).or_raise()
    }

    /// A catalog of raw ids, seen items and the resolved plan, saved beside the model.
    fn catalog(&self) -> PyResult<Catalog> {
        Ok(Catalog {
            seen: self.seen.clone(),
            user_features: self.user_features.clone(),
            item_features: self.item_features.clone(),
            ..self.setting.catalog()?
        })
    }
}

/// Each user's items of `a` and `b` together (repeats removed).
fn merge_seen(a: Option<&PerUser<u32>>, b: &Interactions) -> PerUser<u32> {
    let b = b.histories();
    let users = a.map_or(0, PerUser::num_users).max(b.num_users());
    PerUser::from_lists(
        (0..users)
            .map(|u| {
                let mut items: Vec<u32> = a.map_or(&[][..], |a| a.get(u)).to_vec();
                items.extend_from_slice(b.get(u));
                items.sort_unstable();
                items.dedup();
                items
            })
            .collect(),
    )
}

#[pymethods]
impl Factorization {
    /// A model of the run plan `plan_json` (JSON of the plan's sections, e.g.
    /// `{"training": {"loss": "warp", "dim": 64}}`); checked now, resolved at the first fit.
    #[new]
    fn new(plan_json: &str) -> PyResult<Self> {
        let mut given = plan_from_json(plan_json)?;
        given.model.kind = ModelName::Factorization;
        Ok(Factorization {
            setting: Setting::new(given)?,
            ..Factorization::default()
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

    /// Trains `epochs` epochs (default: the plan's) on `data`; `restart` starts from a new
    /// initialisation, else training continues. `callback(epoch, loss, metrics)` runs after
    /// every epoch, `metrics` holding the MRR and NDCG@10 on `validation` when given (train
    /// items excluded). Returns each epoch's mean loss.
    #[pyo3(signature = (data, epochs=None, restart=true, callback=None, validation=None, user_features=None, item_features=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &mut self,
        py: Python<'_>,
        data: &Data,
        epochs: Option<usize>,
        restart: bool,
        callback: Option<Py<PyAny>>,
        validation: Option<&Data>,
        user_features: Option<FeatureRows<'_>>,
        item_features: Option<FeatureRows<'_>>,
    ) -> PyResult<Vec<f32>> {
        let given = data.non_empty("training")?;
        let mut grown = None;
        if restart || self.model.is_none() {
            let sides = (user_features.is_some(), item_features.is_some());
            let plan = resolved_for(&self.setting.given, Some(data), sides)?;
            let config = plan.training_config().check().or_raise()?;
            let users = features_of_side(user_features.as_ref(), given.num_users(), "user")?;
            let items = features_of_side(item_features.as_ref(), given.num_items(), "item")?;
            // ids that only the features name (cold ones) join the catalog
            let counts = (
                users.as_ref().map_or(given.num_users(), |f| f.num_rows()),
                items.as_ref().map_or(given.num_items(), |f| f.num_rows()),
            );
            if (data.users.is_some() || data.items.is_some())
                && counts != (given.num_users(), given.num_items())
            {
                return Err(err(
                    "the features name ids beyond the data's raw-id maps: give features for the data's ids only",
                ));
            }
            let side = |f: &Option<Features>, ids: usize, on_users: bool| match f {
                Some(f) => netrex::feature_side(f, ids, plan.side_features(on_users)),
                None => Ok(HybridSide::Ids(ids)),
            };
            let user_side = side(&users, counts.0, true).or_raise()?;
            let item_side = side(&items, counts.1, false).or_raise()?;
            let model =
                Model::hybrid(config, user_side, item_side, plan.loss().or_raise()?).or_raise()?;
            let names = |f: &Option<Features>, ids: usize, on_users: bool| {
                f.as_ref()
                    .map(|f| FeatureNames::of(f, ids, plan.side_features(on_users)))
            };
            self.user_features = names(&users, counts.0, true);
            self.item_features = names(&items, counts.1, false);
            (self.setting.plan, self.model) = (plan, Some(model));
            (self.setting.users, self.setting.items, self.seen) =
                (data.users.clone(), data.items.clone(), None);
            if counts != (given.num_users(), given.num_items()) {
                grown = Some(given.clone().with_counts(counts.0, counts.1).or_raise()?);
            }
        } else {
            if user_features.is_some() || item_features.is_some() {
                return Err(err(
                    "side features are fixed at the first fit: continue training without passing them",
                ));
            }
            self.check_same_space(fitted(&self.model)?, data)?;
        }
        let train = grown.as_ref().unwrap_or(given);
        let model = self.model.as_mut().expect("built above");
        if let Some(epochs) = epochs {
            model.set_epochs(epochs).or_raise()?;
        }
        let counts = (train.num_users(), train.num_items());
        let validation = validation
            .map(|v| v.interactions.clone().with_counts(counts.0, counts.1))
            .transpose()
            .or_raise()?;
        let measure = |m: &Model| -> Result<Metrics, netrex::NetrexError> {
            let Some(v) = validation.as_ref() else {
                return Ok(Vec::new());
            };
            let report = m.evaluate(v, Some(train), &EvalConfig::default())?;
            let at10 = report.at(10).copied().unwrap_or_default();
            Ok(vec![("mrr", report.mrr), ("ndcg_at_10", at10.ndcg)])
        };
        let report = train_released(py, model, callback.as_ref(), |m, hook| {
            m.fit_with(train, &mut |m, end| {
                hook(m, end.epoch, end.loss, measure(m)?)
            })
        });
        // the epochs that finished count, even when a signal stopped the rest
        self.seen = Some(merge_seen(self.seen.as_ref(), train));
        Ok(report?.loss_history)
    }

    /// Number of users and items the model has rows for.
    #[getter]
    fn shape(&self) -> PyResult<(usize, usize)> {
        let r = fitted(&self.model)?.representation();
        Ok((r.num_users(), r.num_items()))
    }

    /// Epochs trained over every fit.
    #[getter]
    fn epochs_trained(&self) -> PyResult<usize> {
        Ok(fitted(&self.model)?.epochs_trained())
    }

    /// Mean loss of every epoch trained.
    #[getter]
    fn loss_history(&self) -> PyResult<Vec<f32>> {
        Ok(fitted(&self.model)?.loss_history().to_vec())
    }

    /// Raw user and item ids by dense index, when the model was trained on raw ids.
    #[getter]
    fn maps(&self) -> (Option<IdMapping>, Option<IdMapping>) {
        self.setting.maps()
    }

    /// Scores of the pairs `(users[i], items[i])` (dense ids), float32.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        items: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let model = fitted(&self.model)?;
        let (nu, ni) = self.shape()?;
        let users = ids_below(&users, nu, "user")?;
        let items = ids_below(&items, ni, "item")?;
        if users.len() != items.len() {
            return Err(err(format!(
                "users and items must have one id per pair: {} users, {} items",
                users.len(),
                items.len()
            )));
        }
        let threads = model.config().threads;
        let scores = py.detach(|| {
            // each user's items in one call, scattered back to the pairs' order
            let mut order: Vec<usize> = (0..users.len()).collect();
            order.sort_by_key(|&k| users[k]);
            let groups: Vec<&[usize]> = order.chunk_by(|&a, &b| users[a] == users[b]).collect();
            let scored = netrex::in_pool(threads, || {
                groups
                    .par_iter()
                    .map(|g| {
                        let its: Vec<u32> = g.iter().map(|&k| items[k]).collect();
                        model.predict(users[g[0]], &its)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })??;
            let mut scores = vec![0.0f32; users.len()];
            for (g, s) in groups.iter().zip(scored) {
                for (&k, v) in g.iter().zip(s) {
                    scores[k] = v;
                }
            }
            Ok::<_, netrex::NetrexError>(scores)
        });
        Ok(scores.or_raise()?.into_pyarray(py))
    }

    /// The `k` best items for each of `users` (dense ids), best first: (ids int64, scores
    /// float32), each `len(users) x k`, padded with -1 / -inf where fewer items are left.
    /// `exclude_seen` leaves out the items each user was trained on.
    #[pyo3(signature = (users, k=10, exclude_seen=true))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        k: usize,
        exclude_seen: bool,
    ) -> PyResult<Ranked<'py>> {
        let model = fitted(&self.model)?;
        let (nu, _) = self.shape()?;
        let users = ids_below(&users, nu, "user")?;
        let seen = self.seen.as_ref().filter(|_| exclude_seen);
        let threads = model.config().threads;
        let lists = py.detach(|| {
            netrex::in_pool(threads, || {
                users
                    .par_iter()
                    .map(|&u| model.recommend(u, k, seen.map_or(&[][..], |s| s.get(u as usize))))
                    .collect::<Result<Vec<_>, _>>()
            })
        });
        top_k_arrays(py, &lists.or_raise()?.or_raise()?, k)
    }

    /// An embedding for a user the model never saw, from the items they chose (dense ids):
    /// the model's loss minimised over the user's vector, items fixed.
    #[pyo3(signature = (items, epochs=None, learning_rate=None, seed=None))]
    fn fold_in<'py>(
        &self,
        py: Python<'py>,
        items: PyReadonlyArray1<'py, i64>,
        epochs: Option<usize>,
        learning_rate: Option<f32>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let model = fitted(&self.model)?;
        let (_, ni) = self.shape()?;
        let items = ids_below(&items, ni, "item")?;
        let defaults = FoldIn::default();
        let options = FoldIn {
            epochs: epochs.unwrap_or(defaults.epochs),
            learning_rate: learning_rate.unwrap_or(defaults.learning_rate),
            seed: seed.unwrap_or(self.setting.plan.training.seed),
        };
        let user = py.detach(|| model.fold_in(&items, &options)).or_raise()?;
        Ok(user.embedding.into_pyarray(py))
    }

    /// The `k` best items for a new user who chose `items` (dense ids), those left out:
    /// folded in, then ranked. Returns (ids int64, scores float32).
    #[pyo3(signature = (items, k=10))]
    fn recommend_new<'py>(
        &self,
        py: Python<'py>,
        items: PyReadonlyArray1<'py, i64>,
        k: usize,
    ) -> PyResult<RankedOne<'py>> {
        let model = fitted(&self.model)?;
        let (_, ni) = self.shape()?;
        let items = ids_below(&items, ni, "item")?;
        let options = FoldIn {
            seed: self.setting.plan.training.seed,
            ..FoldIn::default()
        };
        let ranked = py
            .detach(|| {
                let user = model.fold_in(&items, &options)?;
                model.recommend_folded(&user, k, &items)
            })
            .or_raise()?;
        let ids: Vec<i64> = ranked.iter().map(|&(i, _)| i64::from(i)).collect();
        let scores: Vec<f32> = ranked.iter().map(|&(_, s)| s).collect();
        Ok((ids.into_pyarray(py), scores.into_pyarray(py)))
    }

    /// The `k` items most like each of `items` (dense ids; each leaves itself out) by the
    /// cosine (or, with `cosine=False`, the inner product) of their vectors: (ids int64,
    /// scores float32), one row per item.
    #[pyo3(signature = (items, k=10, cosine=true))]
    fn similar_items<'py>(
        &self,
        py: Python<'py>,
        items: PyReadonlyArray1<'py, i64>,
        k: usize,
        cosine: bool,
    ) -> PyResult<Ranked<'py>> {
        let model = fitted(&self.model)?;
        let items = ids_below(&items, self.shape()?.1, "item")?;
        let how = if cosine {
            Similarity::Cosine
        } else {
            Similarity::Dot
        };
        let ranked = py
            .detach(|| netrex::similar::similar_items(model, &items, k, (how, &[])))
            .or_raise()?;
        top_k_arrays(py, &ranked, k)
    }

    /// The user embeddings, `num_users x dim` float32 (a copy).
    fn user_embeddings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self.table("user_embedding")?.into_pyarray(py))
    }

    /// The item embeddings, `num_items x dim` float32 (a copy).
    fn item_embeddings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        Ok(self.table("item_embedding")?.into_pyarray(py))
    }

    /// The user biases, float32.
    fn user_biases<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self
            .table("user_bias")?
            .into_raw_vec_and_offset()
            .0
            .into_pyarray(py))
    }

    /// The item biases, float32.
    fn item_biases<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self
            .table("item_bias")?
            .into_raw_vec_and_offset()
            .0
            .into_pyarray(py))
    }

    /// Full-ranking metrics on `test` (items of `train` excluded), as `netrex fit --json`
    /// reports them: mrr, auc, precision_at_10, recall_at_10, ndcg_at_10, hit_rate_at_10,
    /// test_users, and the test interactions left out because training never saw their user.
    #[pyo3(signature = (test, train=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        test: &Data,
        train: Option<&Data>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let model = fitted(&self.model)?;
        let test_x = test.non_empty("test")?;
        let (nu, ni) = self.shape()?;
        if test_x.num_users() > nu || test_x.num_items() > ni {
            return Err(err(format!(
                "the test data has {} users x {} items, more than the model's {nu} x {ni}: build it in the model's id space",
                test_x.num_users(),
                test_x.num_items()
            )));
        }
        let train_x = train.map(|t| &t.interactions);
        // a user training never saw has an untrained row: left out, and counted, as the CLI does
        let seen_users: Vec<bool> = match train_x {
            Some(t) => {
                let mut seen = vec![false; nu];
                t.users().iter().for_each(|&u| seen[u as usize] = true);
                seen
            }
            None => vec![true; nu],
        };
        let kept = test_x.filter(|r| seen_users[test_x.users()[r] as usize]);
        let excluded = test_x.len() - kept.len();
        let grown = |x: &Interactions| x.clone().with_counts(nu, ni);
        let kept = grown(&kept).or_raise()?;
        let train_grown = train_x.map(grown).transpose().or_raise()?;
        let report = py
            .detach(|| model.evaluate(&kept, train_grown.as_ref(), &EvalConfig::default()))
            .or_raise()?;
        report_dict(py, &report, excluded)
    }

    /// Saves the model into the folder `dir` in the command line's format (`model.json`,
    /// `model.safetensors`): `netrex evaluate --model DIR` and `netrex recommend` read it.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        let model = fitted(&self.model)?;
        let catalog = self.catalog()?;
        py.detach(|| model.save(&dir, &catalog)).or_raise()?;
        self.setting.write_plan(&dir)
    }

    /// Loads a factorization model saved by `save` or by `netrex fit --save DIR`.
    #[staticmethod]
    fn load(py: Python<'_>, dir: PathBuf) -> PyResult<Self> {
        let loss = saved_loss(&dir, false)?;
        let (model, mut catalog) = py.detach(|| Model::load(&dir, loss)).or_raise()?;
        let plan = RunPlan::of_catalog(&catalog)
            .or_raise()?
            .unwrap_or_else(|| {
                let mut plan = RunPlan::default();
                plan.training.seed = model.config().seed;
                plan
            });
        Ok(Factorization {
            setting: Setting::restored(plan, &mut catalog),
            seen: catalog.seen,
            user_features: catalog.user_features,
            item_features: catalog.item_features,
            model: Some(model),
        })
    }
}

/// The features of one side, when given.
fn features_of_side(
    rows: Option<&FeatureRows<'_>>,
    count: usize,
    kind: &str,
) -> PyResult<Option<Features>> {
    rows.map(|r| features_of(r, count, kind)).transpose()
}

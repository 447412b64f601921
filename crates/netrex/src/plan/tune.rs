//! The validation tuner's part of a plan: a grid of values for any of the plan's keys, the
//! metric that chooses, and the share of the training data held out to choose on. The test
//! set never takes part: each point trains on the rest of the training data and is scored on
//! the held-out share; the best point then trains on all of it and is tested once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PlanError, RunPlan};

/// The metric a tuner chooses by (higher is better for each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum TuneMetric {
    /// Mean reciprocal rank (sequence MRR for a sequence model).
    #[default]
    Mrr,
    /// Area under the ROC curve.
    Auc,
    /// NDCG at 10.
    NdcgAt10,
    /// Precision at 10.
    PrecisionAt10,
    /// Recall at 10.
    RecallAt10,
}

impl TuneMetric {
    /// The key of the metric in a run's JSON report (a sequence model reports
    /// `sequence_mrr` for its MRR).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            TuneMetric::Mrr => &["mrr", "sequence_mrr"],
            TuneMetric::Auc => &["auc"],
            TuneMetric::NdcgAt10 => &["ndcg_at_10"],
            TuneMetric::PrecisionAt10 => &["precision_at_10"],
            TuneMetric::RecallAt10 => &["recall_at_10"],
        }
    }

    /// The metric's value in a run's JSON report.
    pub fn read(self, report: &Value) -> Option<f64> {
        self.keys().iter().find_map(|k| report[*k].as_f64())
    }
}

/// A grid of plan values tried on validation data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TunePlan {
    /// One `key=v1,v2,...` per axis; a key is a plan path (`training.l2`) or a key that only
    /// one section has (`l2`, `dim`, `alpha`). Empty: no tuning.
    pub grid: Vec<String>,
    /// The metric that chooses.
    pub metric: TuneMetric,
    /// The share of the training interactions held out to score each point on.
    pub validation_fraction: f64,
    /// Independent held-out shares (seeds `seed`, `seed + 1`, ...) each point is scored on;
    /// the choice is by their mean, which varies less than one share's score.
    pub folds: usize,
}

impl Default for TunePlan {
    fn default() -> Self {
        TunePlan {
            grid: Vec::new(),
            metric: TuneMetric::Mrr,
            validation_fraction: 0.1,
            folds: 3,
        }
    }
}

impl TunePlan {
    /// Whether the plan tunes nothing (and is left out of printed plans).
    pub fn is_off(&self) -> bool {
        self == &TunePlan::default()
    }
}

/// One grid point: a value for each key.
pub type Point = Vec<(String, Value)>;

/// The text of a grid value as the plan's type reads it: a number or a boolean where it
/// parses as one, else a string (a name such as `bpr`).
fn value_of(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_number() || v.is_boolean())
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

impl RunPlan {
    /// The full path (`section.key`) of a grid key: as given if it has a dot, else the one
    /// section that has the key.
    pub fn grid_key(&self, key: &str) -> Result<String, PlanError> {
        let plan = serde_json::to_value(self).map_err(|e| PlanError::Toml(e.to_string()))?;
        if key.contains('.') {
            let (section, field) = key.split_once('.').expect("a dot");
            return match plan.get(section).and_then(|s| s.get(field)) {
                Some(_) => Ok(key.to_owned()),
                None => Err(PlanError::invalid(
                    "tune.grid",
                    format!("the plan has no key {key}"),
                )),
            };
        }
        let sections: Vec<&String> = plan
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, s)| s.get(key).is_some())
                    .map(|(n, _)| n)
                    .collect()
            })
            .unwrap_or_default();
        match sections.as_slice() {
            [one] => Ok(format!("{one}.{key}")),
            [] => Err(PlanError::invalid(
                "tune.grid",
                format!("the plan has no key {key:?}"),
            )),
            many => Err(PlanError::invalid(
                "tune.grid",
                format!(
                    "{key:?} is a key of {}: write it with its section",
                    many.iter()
                        .map(|s| format!("{s}.{key}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )),
        }
    }

    /// The grid's points, every combination of its axes' values, in order (the last axis
    /// turning fastest).
    pub fn grid_points(&self) -> Result<Vec<Point>, PlanError> {
        let mut axes = Vec::new();
        for spec in &self.tune.grid {
            let (key, values) = spec.split_once('=').ok_or_else(|| {
                PlanError::invalid("tune.grid", format!("{spec:?} is not key=v1,v2,..."))
            })?;
            let key = self.grid_key(key.trim())?;
            let section = key.split('.').next().unwrap_or_default();
            if ["data", "split", "output", "tune"].contains(&section) {
                return Err(PlanError::invalid(
                    "tune.grid",
                    format!(
                        "{key}: the grid tunes the model, its features and its training; the \
                         data, split and outputs stay the run's"
                    ),
                ));
            }
            let values: Vec<Value> = values.split(',').map(|v| value_of(v.trim())).collect();
            if values.iter().any(|v| v.as_str() == Some("")) {
                return Err(PlanError::invalid(
                    "tune.grid",
                    format!("{spec:?} has an empty value"),
                ));
            }
            axes.push((key, values));
        }
        let mut points: Vec<Point> = vec![Vec::new()];
        for (key, values) in &axes {
            points = points
                .iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut p = p.clone();
                        p.push((key.clone(), v.clone()));
                        p
                    })
                })
                .collect();
        }
        if points.len() > 1000 {
            return Err(PlanError::invalid(
                "tune.grid",
                format!("{} points: at most 1000", points.len()),
            ));
        }
        Ok(points)
    }

    /// This plan with `point`'s values set and no grid: the plan one grid point runs.
    pub fn with_point(&self, point: &Point) -> Result<RunPlan, PlanError> {
        let mut plan = serde_json::to_value(self).map_err(|e| PlanError::Toml(e.to_string()))?;
        for (key, value) in point {
            let (section, field) = key.split_once('.').expect("a full key");
            plan[section][field] = value.clone();
        }
        let mut plan: RunPlan = serde_json::from_value(plan).map_err(|e| {
            let keys: Vec<String> = point.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            PlanError::invalid("tune.grid", format!("{}: {e}", keys.join(", ")))
        })?;
        plan.tune.grid.clear();
        Ok(plan)
    }
}

/// The tuner's split of the training data: a random `fraction` of the interactions (by
/// `seed`) held out for scoring grid points, the rest to train them. Held-out interactions of
/// users left with no training interaction are dropped, as a test set's would be.
pub fn validation_split(
    train: &netrex_data::Interactions,
    fraction: f64,
    seed: u64,
) -> Result<netrex_data::TrainTest, netrex_data::DataError> {
    let parts = netrex_data::split::random_split(train, fraction, seed)?;
    let mut present = vec![false; parts.train.num_users()];
    for &u in parts.train.users() {
        present[u as usize] = true;
    }
    let users = parts.test.users().to_vec();
    let test = parts.test.filter(|r| present[users[r] as usize]);
    Ok(netrex_data::TrainTest {
        train: parts.train,
        test,
    })
}

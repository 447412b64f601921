//! Hybrid models from side features: feature maps from [`Features`], and the constructor.

use std::sync::Arc;

use netrex_data::features::Features;
use netrex_data::IdMap;
use netrex_representations::{FeatureMap, Hybrid, HybridSide};
use serde::{Deserialize, Serialize};

use super::*;

/// How one side's feature rows become a [`FeatureMap`] (see [`feature_map`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SideFeatures {
    /// Keep one embedding per id as a feature of its own (LightFM's identity features):
    /// rows `0..ids` of the tables are the ids, the named features follow.
    pub with_ids: bool,
    /// Divide each id's weights (its id's included) by their sum, as LightFM does by default.
    pub normalise: bool,
    /// Factor on the named features' weights (before `normalise`); the id's weight is 1.
    /// Below 1 with ids kept, the id embedding leads and the features only nudge it (0.05
    /// with raw weights lifts warm ML-100K a little above the id-only model; see
    /// docs/results.md).
    #[serde(default = "unit_weight")]
    pub feature_weight: f32,
}

fn unit_weight() -> f32 {
    1.0
}

impl Default for SideFeatures {
    /// Features only, each row normalised: LightFM's best cold-start setting.
    fn default() -> Self {
        SideFeatures {
            with_ids: false,
            normalise: true,
            feature_weight: 1.0,
        }
    }
}

/// The feature map of `ids` ids (or more, if `features` covers more rows) from `features`.
///
/// Errors: an id left with no feature at all (no features and ids not kept), since every such
/// id would be the same zero vector (the message counts them and names the first); a feature
/// weight that is not a positive number.
pub fn feature_map(
    features: &Features,
    ids: usize,
    side: SideFeatures,
) -> Result<FeatureMap, NetrexError> {
    if !(side.feature_weight.is_finite() && side.feature_weight > 0.0) {
        return Err(NetrexError::Features(format!(
            "the feature weight must be a positive number (got {})",
            side.feature_weight
        )));
    }
    let rows = ids.max(features.num_rows());
    let offset = if side.with_ids { rows as u32 } else { 0 };
    let num_features = offset as usize + features.num_features();
    let mut empty = Vec::new();
    let table: Vec<Vec<(u32, f32)>> = (0..rows as u32)
        .map(|id| {
            let (names, weights) = features.row(id);
            let mut row: Vec<(u32, f32)> = Vec::with_capacity(names.len() + 1);
            if side.with_ids {
                row.push((id, 1.0));
            }
            let scale = side.feature_weight;
            row.extend(
                names
                    .iter()
                    .zip(weights)
                    .map(|(&f, &w)| (offset + f, scale * w)),
            );
            if row.is_empty() {
                empty.push(id);
            }
            let sum: f32 = row.iter().map(|&(_, w)| w).sum();
            if side.normalise && sum != 0.0 {
                row.iter_mut().for_each(|(_, w)| *w /= sum);
            }
            row
        })
        .collect();
    if let Some(first) = empty.first() {
        return Err(NetrexError::Features(format!(
            "{} of {rows} ids have no features (the first: dense id {first}); give them \
                 features or keep ids as features",
            empty.len()
        )));
    }
    Ok(FeatureMap::from_rows(&table, num_features)?)
}

impl<L: Loss> ImplicitFactorizationModel<Hybrid, L> {
    /// A hybrid model (LightFM's) on the CPU: users and items each made of ids or of
    /// features, initialised from `config.seed`.
    pub fn hybrid(
        config: impl IntoChecked<TrainingConfig>,
        users: HybridSide,
        items: HybridSide,
        loss: L,
    ) -> Result<Self, NetrexError> {
        Self::hybrid_on(crate::device::cpu(), config, users, items, loss)
    }
}

impl<L: Loss, D: ComputeDevice> ImplicitFactorizationModel<Hybrid, L, D> {
    /// A hybrid model on `device` (see [`ComputeDevice::open`]).
    pub fn hybrid_on(
        device: D,
        config: impl IntoChecked<TrainingConfig>,
        users: HybridSide,
        items: HybridSide,
        loss: L,
    ) -> Result<Self, NetrexError> {
        let config = config.into_checked()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let representation = Hybrid::new(users, items, config.embedding_dim, &mut rng)?;
        Self::with_seed(device, config, representation, loss)
    }
}

/// What a saved hybrid model needs to give an id it never saw a row of features: the feature
/// names by row, and how rows were built. Kept in the model's [`Catalog`](crate::Catalog).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureNames {
    /// The named features, by index (table row `offset + index`).
    pub names: IdMap<String>,
    /// Table rows before the named features: the ids kept as features (0 without them).
    pub offset: usize,
    /// How rows were built.
    pub side: SideFeatures,
}

impl FeatureNames {
    /// The names of `features` as [`feature_map`] laid them out over `ids` ids.
    pub fn of(features: &Features, ids: usize, side: SideFeatures) -> Self {
        FeatureNames {
            names: features.names().clone(),
            offset: if side.with_ids {
                ids.max(features.num_rows())
            } else {
                0
            },
            side,
        }
    }

    /// The map row of an id the model never saw, from its `(feature name, weight)` list: no
    /// id feature (the model has no row for it), normalised as training rows were.
    ///
    /// Errors: a name the model was not trained with, or no features at all.
    pub fn row<'a>(
        &self,
        features: impl IntoIterator<Item = (&'a str, f32)>,
    ) -> Result<Vec<(u32, f32)>, NetrexError> {
        let mut row = Vec::new();
        for (name, weight) in features {
            let index = self
                .names
                .get(&name.to_owned())
                .ok_or_else(|| NetrexError::UnknownId {
                    kind: "feature",
                    id: name.to_owned(),
                    count: self.names.len(),
                })?;
            row.push((
                self.offset as u32 + index,
                self.side.feature_weight * weight,
            ));
        }
        if row.is_empty() {
            return Err(NetrexError::Features(
                "a new id needs at least one feature".into(),
            ));
        }
        let sum: f32 = row.iter().map(|&(_, w)| w).sum();
        if self.side.normalise && sum != 0.0 {
            row.iter_mut().for_each(|(_, w)| *w /= sum);
        }
        Ok(row)
    }
}

/// `map` with `rows` appended (the new ids' feature rows, checked against its features).
fn extended(map: &FeatureMap, rows: &[Vec<(u32, f32)>]) -> Result<Arc<FeatureMap>, NetrexError> {
    let mut all: Vec<Vec<(u32, f32)>> = (0..map.rows() as u32)
        .map(|id| {
            let (f, w) = map.row(id);
            f.iter().copied().zip(w.iter().copied()).collect()
        })
        .collect();
    all.extend(rows.iter().cloned());
    Ok(Arc::new(FeatureMap::from_rows(&all, map.num_features())?))
}

impl<L: Loss, D: ComputeDevice> ImplicitFactorizationModel<Hybrid, L, D> {
    /// The model with new items appended (dense ids from [`num_items`] on), each scored from
    /// its feature row (see [`FeatureNames::row`]); trained parameters are untouched. Items
    /// must be made of features.
    ///
    /// [`num_items`]: FactorizationRepresentation::num_items
    pub fn with_new_items(self, rows: &[Vec<(u32, f32)>]) -> Result<Self, NetrexError> {
        self.with_new(rows, "item")
    }

    /// The model with new users appended (dense ids from [`num_users`] on), each represented
    /// by its feature row (see [`FeatureNames::row`]), e.g. a new visitor known by age and
    /// occupation only; trained parameters are untouched. Users must be made of features.
    ///
    /// [`num_users`]: FactorizationRepresentation::num_users
    pub fn with_new_users(self, rows: &[Vec<(u32, f32)>]) -> Result<Self, NetrexError> {
        self.with_new(rows, "user")
    }

    /// New rows on the `side` ("user" or "item") that is made of features.
    fn with_new(self, rows: &[Vec<(u32, f32)>], side: &str) -> Result<Self, NetrexError> {
        let (users, items) = (self.representation.users(), self.representation.items());
        let mine = if side == "item" { items } else { users };
        let HybridSide::Features(map) = mine else {
            return Err(NetrexError::Features(format!(
                "new {side}s are made of features: this model's {side}s are ids"
            )));
        };
        let extended = HybridSide::Features(extended(map, rows)?);
        let (users, items) = if side == "item" {
            (users.clone(), extended)
        } else {
            (extended, items.clone())
        };
        self.with_sides(users, items)
    }

    /// The same tables under new sides (maps extended by new ids).
    fn with_sides(mut self, users: HybridSide, items: HybridSide) -> Result<Self, NetrexError> {
        let tables = self.representation.tables().to_vec();
        let representation = Hybrid::from_tables(users, items, tables)?;
        let kernel = self.kernel.take().map(|k| fused::Kernel {
            maps: representation.feature_maps(),
            ..k
        });
        self.kernel = kernel;
        self.all_items = (0..representation.num_items() as u32).collect();
        self.representation = representation;
        Ok(self)
    }
}

/// A side made of `features` over `ids` ids, as [`feature_map`] builds it.
pub fn feature_side(
    features: &Features,
    ids: usize,
    side: SideFeatures,
) -> Result<HybridSide, NetrexError> {
    Ok(HybridSide::Features(Arc::new(feature_map(
        features, ids, side,
    )?)))
}

//! The save/restore contract every representation implements, built in or a user's own (as
//! burn's `Record`): tables are saved as tensors, and whatever else the representation needs
//! to be rebuilt, its [`Record::Spec`], as JSON beside them. Model files, checkpoints and
//! loading in `netrex-train` are written once against this trait.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::RepresentationError;
use crate::feature_map::FeatureMap;
use crate::hybrid::{Hybrid, HybridSide};
use crate::sequence::{
    AnySequence, CausalCnn, Gru, Lstm, Pooling, Sasrec, SasrecSpec, SequencePopularity,
};
use crate::table::Table;
use crate::Bilinear;

/// A representation that can be saved and rebuilt.
pub trait Record: Sized {
    /// What the representation needs beyond its tables (hyperparameters, a layout): `()` when
    /// the tables say everything. Saved as JSON.
    type Spec: Serialize + DeserializeOwned;

    /// This representation's spec.
    fn spec(&self) -> Self::Spec;

    /// Rebuilds the representation from a saved spec and tables, checking names and shapes
    /// (a corrupt or foreign file is an error, never a panic).
    fn from_record(spec: Self::Spec, tables: Vec<Table>) -> Result<Self, RepresentationError>;
}

/// `Record` for representations whose tables say everything (`Spec = ()`), rebuilt by their
/// `from_tables`.
macro_rules! record_from_tables {
    ($($name:ident),+) => {
        $(
            impl Record for $name {
                type Spec = ();

                fn spec(&self) {}

                fn from_record((): (), tables: Vec<Table>) -> Result<Self, RepresentationError> {
                    $name::from_tables(tables)
                }
            }
        )+
    };
}

record_from_tables!(Bilinear, SequencePopularity, Lstm, Gru);

/// One side of a saved [`Hybrid`]: a count of ids, or the feature map in compressed rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HybridSideSpec {
    /// One embedding per id: this many ids.
    Ids(usize),
    /// Made of features: the map's parts (see [`FeatureMap::parts`]).
    Features {
        /// `ids + 1` offsets.
        offsets: Vec<usize>,
        /// Feature rows.
        features: Vec<u32>,
        /// Their weights.
        weights: Vec<f32>,
        /// Feature rows of the tables.
        num_features: usize,
    },
}

impl HybridSideSpec {
    /// The saved form of `side`.
    pub fn of(side: &HybridSide) -> Self {
        match side {
            HybridSide::Ids(n) => HybridSideSpec::Ids(*n),
            HybridSide::Features(map) => {
                let (offsets, features, weights) = map.parts();
                HybridSideSpec::Features {
                    offsets: offsets.to_vec(),
                    features: features.to_vec(),
                    weights: weights.to_vec(),
                    num_features: map.num_features(),
                }
            }
        }
    }

    /// The side back, its feature map checked as [`FeatureMap::from_parts`] checks it.
    pub fn side(self) -> Result<HybridSide, RepresentationError> {
        Ok(match self {
            HybridSideSpec::Ids(n) => HybridSide::Ids(n),
            HybridSideSpec::Features {
                offsets,
                features,
                weights,
                num_features,
            } => HybridSide::Features(std::sync::Arc::new(FeatureMap::from_parts(
                offsets,
                features,
                weights,
                num_features,
            )?)),
        })
    }
}

/// What [`Hybrid`] needs beyond its tables: what each side is made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridSpec {
    /// Users.
    pub users: HybridSideSpec,
    /// Items.
    pub items: HybridSideSpec,
}

impl Record for Hybrid {
    /// `None` for a hybrid of ids on both sides, which saves exactly as
    /// [`Bilinear`] does (and loads from its files).
    type Spec = Option<HybridSpec>;

    fn spec(&self) -> Option<HybridSpec> {
        if self.is_bilinear() {
            return None;
        }
        Some(HybridSpec {
            users: HybridSideSpec::of(self.users()),
            items: HybridSideSpec::of(self.items()),
        })
    }

    fn from_record(
        spec: Option<HybridSpec>,
        tables: Vec<Table>,
    ) -> Result<Self, RepresentationError> {
        match spec {
            Some(spec) => Hybrid::from_tables(spec.users.side()?, spec.items.side()?, tables),
            None => {
                let rows = |k: usize| tables.get(k).map_or(0, Table::rows);
                let (users, items) = (HybridSide::Ids(rows(0)), HybridSide::Ids(rows(2)));
                Hybrid::from_tables(users, items, tables)
            }
        }
    }
}

/// What [`Pooling`] needs beyond its tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolingSpec {
    /// Running mean (else running sum).
    pub mean: bool,
}

impl Record for Pooling {
    type Spec = PoolingSpec;

    fn spec(&self) -> PoolingSpec {
        PoolingSpec {
            mean: self.is_mean(),
        }
    }

    fn from_record(spec: PoolingSpec, tables: Vec<Table>) -> Result<Self, RepresentationError> {
        Pooling::from_tables(tables, spec.mean)
    }
}

/// What [`CausalCnn`] needs beyond its tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CnnSpec {
    /// Kernel width.
    pub kernel_width: usize,
    /// Dilation of each layer.
    pub dilations: Vec<usize>,
    /// Residual connections.
    pub residual: bool,
}

impl Record for CausalCnn {
    type Spec = CnnSpec;

    fn spec(&self) -> CnnSpec {
        CnnSpec {
            kernel_width: self.kernel_width(),
            dilations: self.dilations().to_vec(),
            residual: self.residual(),
        }
    }

    fn from_record(spec: CnnSpec, tables: Vec<Table>) -> Result<Self, RepresentationError> {
        CausalCnn::from_tables(tables, spec.kernel_width, spec.dilations, spec.residual)
    }
}

impl Record for Sasrec {
    type Spec = SasrecSpec;

    fn spec(&self) -> SasrecSpec {
        Sasrec::spec(self)
    }

    fn from_record(spec: SasrecSpec, tables: Vec<Table>) -> Result<Self, RepresentationError> {
        Sasrec::from_tables(tables, &spec)
    }
}

/// Which built-in sequence representation, with what it needs beyond its tables: the
/// [`Record::Spec`] of [`AnySequence`], and a description to build a fresh one from. Saved as
/// `{"kind": "cnn", "kernel_width": 3, ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SequenceSpec {
    /// [`SequencePopularity`].
    Popularity,
    /// [`Pooling`].
    Pooling(PoolingSpec),
    /// [`Lstm`].
    Lstm,
    /// [`CausalCnn`].
    Cnn(CnnSpec),
    /// [`Sasrec`].
    Sasrec(SasrecSpec),
    /// [`Gru`].
    Gru,
}

impl SequenceSpec {
    /// A new representation of this kind over `num_items` items with `dim`-dimensional
    /// embeddings, initialised from `rng`.
    pub fn build(
        &self,
        num_items: usize,
        dim: usize,
        rng: &mut impl rand::Rng,
    ) -> Result<AnySequence, RepresentationError> {
        Ok(match self {
            SequenceSpec::Popularity => {
                AnySequence::Popularity(SequencePopularity::new(num_items, rng)?)
            }
            SequenceSpec::Pooling(spec) => {
                AnySequence::Pooling(Pooling::new(num_items, dim, spec.mean, rng)?)
            }
            SequenceSpec::Lstm => AnySequence::Lstm(Lstm::new(num_items, dim, rng)?),
            SequenceSpec::Gru => AnySequence::Gru(Gru::new(num_items, dim, rng)?),
            SequenceSpec::Cnn(spec) => AnySequence::Cnn(CausalCnn::new(
                num_items,
                dim,
                spec.kernel_width,
                &spec.dilations,
                spec.residual,
                rng,
            )?),
            SequenceSpec::Sasrec(spec) => {
                AnySequence::Sasrec(Sasrec::new(num_items, dim, spec, rng)?)
            }
        })
    }
}

impl Record for AnySequence {
    type Spec = SequenceSpec;

    fn spec(&self) -> SequenceSpec {
        match self {
            AnySequence::Popularity(_) => SequenceSpec::Popularity,
            AnySequence::Pooling(p) => SequenceSpec::Pooling(p.spec()),
            AnySequence::Lstm(_) => SequenceSpec::Lstm,
            AnySequence::Gru(_) => SequenceSpec::Gru,
            AnySequence::Cnn(c) => SequenceSpec::Cnn(c.spec()),
            AnySequence::Sasrec(s) => SequenceSpec::Sasrec(Sasrec::spec(s)),
        }
    }

    fn from_record(spec: SequenceSpec, tables: Vec<Table>) -> Result<Self, RepresentationError> {
        Ok(match spec {
            SequenceSpec::Popularity => {
                AnySequence::Popularity(SequencePopularity::from_record((), tables)?)
            }
            SequenceSpec::Pooling(spec) => {
                AnySequence::Pooling(Pooling::from_record(spec, tables)?)
            }
            SequenceSpec::Lstm => AnySequence::Lstm(Lstm::from_record((), tables)?),
            SequenceSpec::Gru => AnySequence::Gru(Gru::from_record((), tables)?),
            SequenceSpec::Cnn(spec) => AnySequence::Cnn(CausalCnn::from_record(spec, tables)?),
            SequenceSpec::Sasrec(spec) => AnySequence::Sasrec(Sasrec::from_record(spec, tables)?),
        })
    }
}

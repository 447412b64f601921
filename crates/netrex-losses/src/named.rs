//! The built-in losses by name, for command lines and saved models.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    AdaptiveHinge, Bpr, Gbce, Hinge, LogSigmoidBpr, Loss, LossContext, Pointwise, SampledSoftmax,
    Warp,
};

/// Any built-in loss, chosen at run time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum BuiltinLoss {
    /// [`Pointwise`].
    Pointwise(Pointwise),
    /// [`Bpr`].
    Bpr(Bpr),
    /// [`LogSigmoidBpr`].
    BprLog(LogSigmoidBpr),
    /// [`Hinge`].
    Hinge(Hinge),
    /// [`AdaptiveHinge`].
    AdaptiveHinge(AdaptiveHinge),
    /// [`Warp`].
    Warp(Warp),
    /// [`SampledSoftmax`].
    SampledSoftmax(SampledSoftmax),
    /// [`Gbce`].
    Gbce(Gbce),
}

impl BuiltinLoss {
    /// Every name [`BuiltinLoss::from_name`] knows.
    pub const NAMES: [&'static str; 8] = [
        "pointwise",
        "bpr",
        "bpr-log",
        "hinge",
        "adaptive-hinge",
        "warp",
        "sampled-softmax",
        "gbce",
    ];

    /// The loss called `name` with its default number of negatives, or with `negatives`.
    pub fn from_name(name: &str, negatives: Option<usize>) -> Option<Self> {
        let pick = |default: usize| negatives.unwrap_or(default);
        Some(match name {
            "pointwise" => BuiltinLoss::Pointwise(Pointwise {
                negatives: pick(Pointwise::default().negatives),
            }),
            "bpr" => BuiltinLoss::Bpr(Bpr {
                negatives: pick(Bpr::default().negatives),
            }),
            "bpr-log" => BuiltinLoss::BprLog(LogSigmoidBpr {
                negatives: pick(LogSigmoidBpr::default().negatives),
            }),
            "hinge" => BuiltinLoss::Hinge(Hinge {
                negatives: pick(Hinge::default().negatives),
            }),
            "adaptive-hinge" => BuiltinLoss::AdaptiveHinge(AdaptiveHinge {
                negatives: pick(AdaptiveHinge::default().negatives),
            }),
            "warp" => BuiltinLoss::Warp(Warp {
                negatives: pick(Warp::default().negatives),
            }),
            "sampled-softmax" => BuiltinLoss::SampledSoftmax(SampledSoftmax {
                negatives: pick(SampledSoftmax::default().negatives),
            }),
            "gbce" => BuiltinLoss::Gbce(Gbce {
                negatives: pick(Gbce::default().negatives),
                ..Gbce::default()
            }),
            _ => return None,
        })
    }
}

macro_rules! dispatch {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            BuiltinLoss::Pointwise($l) => $e,
            BuiltinLoss::Bpr($l) => $e,
            BuiltinLoss::BprLog($l) => $e,
            BuiltinLoss::Hinge($l) => $e,
            BuiltinLoss::AdaptiveHinge($l) => $e,
            BuiltinLoss::Warp($l) => $e,
            BuiltinLoss::SampledSoftmax($l) => $e,
            BuiltinLoss::Gbce($l) => $e,
        }
    };
}

impl Loss for BuiltinLoss {
    fn name(&self) -> String {
        dispatch!(self, l => l.name())
    }
    fn num_negatives(&self) -> usize {
        dispatch!(self, l => l.num_negatives())
    }
    fn example_gradient(&self) -> Option<&dyn crate::ExampleGradient> {
        dispatch!(self, l => l.example_gradient())
    }
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        dispatch!(self, l => l.per_example(positive, negative, context))
    }
}

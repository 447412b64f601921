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

/// `$e` on the loss inside any variant of `$self`.
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
        let mut loss = match name {
            "pointwise" => BuiltinLoss::Pointwise(Pointwise::default()),
            "bpr" => BuiltinLoss::Bpr(Bpr::default()),
            "bpr-log" => BuiltinLoss::BprLog(LogSigmoidBpr::default()),
            "hinge" => BuiltinLoss::Hinge(Hinge::default()),
            "adaptive-hinge" => BuiltinLoss::AdaptiveHinge(AdaptiveHinge::default()),
            "warp" => BuiltinLoss::Warp(Warp::default()),
            "sampled-softmax" => BuiltinLoss::SampledSoftmax(SampledSoftmax::default()),
            "gbce" => BuiltinLoss::Gbce(Gbce::default()),
            _ => return None,
        };
        if let Some(n) = negatives {
            let target = &mut loss;
            dispatch!(target, l => l.negatives = n);
        }
        Some(loss)
    }

    /// Every built-in loss, in the order of [`NAMES`](Self::NAMES), with its default number
    /// of negatives or with `negatives`.
    pub fn all(negatives: Option<usize>) -> Vec<Self> {
        Self::NAMES
            .iter()
            .filter_map(|name| Self::from_name(name, negatives))
            .collect()
    }
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

//! BPR written as a researcher would in their own crate (dfdx ops, no hand-written gradient):
//! the path every custom loss takes, timed against the built-in BPR. Shared by
//! `examples/synthetic_epoch.rs` and `benches/training.rs`.

use netrex::losses::dfdx::prelude::*;
use netrex::prelude::*;

/// `mean_j sigmoid(neg_j - pos)`.
pub struct CustomBpr;

impl Loss for CustomBpr {
    fn name(&self) -> String {
        "custom-bpr".into()
    }
    fn num_negatives(&self) -> usize {
        1
    }
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        _: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        (negative - positive.broadcast_like::<_, Axis<1>>(&shape))
            .sigmoid()
            .mean::<(usize,), Axis<1>>()
    }
}

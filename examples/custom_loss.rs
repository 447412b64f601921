//! A loss defined outside netrex-losses and trained through the same model: the researcher's
//! use case. Here, a "soft adaptive hinge": a softmax-weighted hinge over the sampled
//! negatives, so every negative gets gradient in proportion to how hard it is.
//!
//! ```text
//! NETREX_DATA_DIR=../shared/data cargo run --release --example custom_loss
//! ```

use netrex::losses::dfdx::prelude::*;
use netrex::prelude::Bilinear;
use netrex::prelude::*;

/// `sum_j softmax(neg)_j * max(0, 1 - pos + neg_j)`.
struct SoftAdaptiveHinge {
    negatives: usize,
}

impl Loss for SoftAdaptiveHinge {
    fn name(&self) -> String {
        "soft-adaptive-hinge".into()
    }

    fn num_negatives(&self) -> usize {
        self.negatives
    }

    /// `positive` is `(B,)`, `negative` is `(B, N)`; the result is `(B,)`.
    fn per_example<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        positive: Tensor<(usize,), f32, D, T>,
        negative: Tensor<(usize, usize), f32, D, T>,
        _context: &LossContext,
    ) -> Tensor<(usize,), f32, D, T> {
        let shape = *negative.shape();
        // the softmax weights carry no gradient: they only say which negatives matter
        let weights = negative.retaped::<NoneTape>().softmax::<Axis<1>>();
        let hinge = (negative - positive.broadcast_like::<_, Axis<1>>(&shape) + 1.0).relu();
        (hinge * weights).sum::<(usize,), Axis<1>>()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (data, parts) = netrex::data::ingest::load_movielens_split(None, OfficialSplit::Ua, None)?;
    let config = TrainingConfig::builder()
        .learning_rate(0.001)
        .seed(0)
        .build()?;
    let loss = SoftAdaptiveHinge { negatives: 5 };
    let mut model: ImplicitFactorizationModel<Bilinear, _> =
        ImplicitFactorizationModel::bilinear(config, data.users.len(), data.items.len(), loss)?;
    let fit = model.fit(&parts.train)?;
    let report = model.evaluate(&parts.test, Some(&parts.train), &EvalConfig::default())?;
    println!(
        "{}: MRR {:.4}  AUC {:.4}  NDCG@10 {:.4}  fit {:.2} s",
        model.loss().name(),
        report.mrr,
        report.auc,
        report.at(10).map_or(0.0, |a| a.ndcg),
        fit.seconds
    );
    Ok(())
}

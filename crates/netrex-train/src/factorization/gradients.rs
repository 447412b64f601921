//! One batch's loss and row gradients through dfdx (the generic path's step, and the
//! reference the fused kernel is checked against).

use super::*;

impl<R: FactorizationRepresentation, L: Loss, D: ComputeDevice>
    ImplicitFactorizationModel<R, L, D>
{
    /// Row gradients of a batch's loss through the fused kernel, or `None` when this model
    /// trains through dfdx (see [`uses_fused_kernel`](Self::uses_fused_kernel)). Same inputs
    /// and outputs as [`batch_gradients`](Self::batch_gradients), for checking one against the
    /// other.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn fused_batch_gradients(
        &self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> Option<(f32, Vec<SparseGrad>)> {
        let kernel = self.kernel.as_ref()?;
        let tables = self.representation.tables();
        let mut grads = SparseGrad::for_tables(tables);
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        let batch = fused::Batch {
            users,
            positives,
            negatives,
            weights,
        };
        let scratch = &mut fused::Scratch::default();
        let pass = fused::passes::Pass {
            tables,
            kernel,
            loss: &self.loss,
            context: &context,
            batch: &batch,
        };
        let value = fused::passes::bilinear_any(pass, &mut grads, scratch);
        Some((value, grads))
    }

    /// The loss of one batch, as a traced dfdx scalar, and the gathered rows it came from.
    ///
    /// Shapes: `users` (B), `positives` (B), `negatives` (B x N, row-major), `weights` (B).
    pub fn batch_loss(
        &self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> (TracedLoss<D>, [Gathered<D>; 2]) {
        let tables = self.representation.tables();
        let pos_rows = Gathered::new(&self.device, tables, users, positives);
        let neg_rows = Gathered::new(&self.device, tables, users, negatives);
        // (B, 1) -> (B,)
        let pos = self
            .representation
            .forward(pos_rows.traced())
            .sum::<(usize,), Axis<1>>();
        // (B, N)
        let neg = self.representation.forward(neg_rows.traced());
        let weights = weights.map(|w| self.device.tensor_from_vec(w.to_vec(), (w.len(),)));
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        let loss = self.loss.loss(pos, neg, None, weights.as_ref(), &context);
        (loss, [pos_rows, neg_rows])
    }

    /// Row gradients of a batch's loss for every table (for gradient checks and custom loops).
    pub fn batch_gradients(
        &self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> Result<(f32, Vec<SparseGrad>), NetrexError> {
        let (loss, gathered) = self.batch_loss(users, positives, negatives, weights);
        let value = loss.as_vec()[0];
        let mut grads = loss.backward();
        let mut out = SparseGrad::for_tables(self.representation.tables());
        for g in &gathered {
            g.accumulate(&mut grads, &mut out)
                .map_err(|e| NetrexError::Device(format!("{e:?}")))?;
        }
        Ok((value, out))
    }

    pub(super) fn step(
        &mut self,
        users: &[u32],
        positives: &[u32],
        negatives: &[u32],
        weights: Option<&[f32]>,
    ) -> Result<f32, NetrexError> {
        let (loss, gathered) = self.batch_loss(users, positives, negatives, weights);
        let value = loss.as_vec()[0];
        if !value.is_finite() {
            return Ok(value);
        }
        let mut grads = loss.backward();
        for g in &gathered {
            g.accumulate(&mut grads, &mut self.trainer.grads)
                .map_err(|e| NetrexError::Device(format!("{e:?}")))?;
        }
        self.trainer
            .optimizer
            .step(self.representation.tables_mut(), &mut self.trainer.grads);
        Ok(value)
    }
}

//! One training step of a sequence model, by each path: the hand-written kernel, dfdx on host
//! tables, dfdx on tables resident on the device.

use super::*;

impl<R: SequenceRepresentation, L: Loss, D: ComputeDevice> ImplicitSequenceModel<R, L, D> {
    /// One batch through the hand-written kernel, its row gradients applied by the row-wise
    /// optimizer. Returns the loss (nothing is applied when it is not finite).
    pub(super) fn kernel_step(&mut self, rows: &SequenceBatch<'_>) -> f32 {
        let value = kernel_gradients(
            &self.representation,
            &self.loss,
            rows,
            &mut self.trainer.grads,
        )
        .unwrap_or(f32::NAN);
        if !value.is_finite() {
            self.trainer.grads.iter_mut().for_each(SparseGrad::clear);
            return value;
        }
        self.apply_gradients();
        value
    }

    /// Row gradients of a batch's loss through the hand-written kernel, or `None` when the
    /// representation has none. Same inputs and outputs as
    /// [`batch_gradients`](Self::batch_gradients), for checking one against the other.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn fused_batch_gradients(
        &self,
        batch: usize,
        inputs: &[u32],
        targets: &[u32],
        negatives: &[u32],
    ) -> Option<(f32, Vec<SparseGrad>)> {
        let tables = self.representation.tables();
        let mut grads = SparseGrad::for_tables(tables);
        // the kernel reads a shared set once per row: the first position's
        let t = inputs.len() / batch.max(1);
        let n = negatives.len() / inputs.len().max(1);
        let per_row: Vec<u32> = negatives
            .chunks((t * n).max(1))
            .flat_map(|row| row[..n].iter().copied())
            .collect();
        let sampling = self.config.negatives;
        let rows = SequenceBatch {
            rows: batch,
            inputs,
            targets,
            negatives: match sampling {
                NegativeSampling::PerPosition => negatives,
                NegativeSampling::PerRow => &per_row,
                NegativeSampling::FullCatalog => &[],
            },
            dropout_seed: None,
            sampling,
        };
        let value = kernel_gradients(&self.representation, &self.loss, &rows, &mut grads)?;
        Some((value, grads))
    }

    /// Gathers the rows on the host, runs the batch on the device, and applies the row
    /// gradients with the row-wise optimizer. Returns the loss (nothing is applied when it is
    /// not finite).
    pub(super) fn host_step(&mut self, rows: &SequenceBatch<'_>) -> Result<f32, NetrexError> {
        let (batch, inputs, targets) = (rows.rows, rows.inputs, rows.targets);
        let BatchLoss { loss, leaves } =
            self.batch_loss(batch, inputs, targets, rows.negatives, rows.dropout_seed);
        let value = loss.as_vec()[0];
        if !value.is_finite() {
            return Ok(value);
        }
        let mut grads = loss.backward();
        for (table, leaf, ids) in &leaves {
            leaf.accumulate(&mut grads, ids, &mut self.trainer.grads[*table])?;
        }
        self.apply_gradients();
        Ok(value)
    }

    /// Brings the device copy of the tables up to date (creating it on first use).
    pub(super) fn open_resident(&mut self) {
        let optimizer = *self.trainer.optimizer.config();
        let tables = self.representation.tables();
        // the padding row never moves, so padding keeps contributing nothing
        let padding = [(0, 0), (1, 0)];
        let previous = self.resident_tables.take();
        let resident = ResidentTables::reopen(previous, &self.device, tables, optimizer, &padding);
        self.resident_tables = Some(resident);
    }

    /// One batch on the device with the tables resident there.
    pub(super) fn resident_step(&mut self, batch: &SequenceBatch<'_>) -> Result<f32, NetrexError> {
        let (inputs, targets, negatives) = (batch.inputs, batch.targets, batch.negatives);
        let dropout_seed = batch.dropout_seed;
        let batch = batch.rows;
        let Some(resident) = &self.resident_tables else {
            return Err(NetrexError::Training(
                "the device tables are not open".into(),
            ));
        };
        let dev = &self.device;
        let t = inputs.len() / batch;
        let bt = batch * t;
        let n = negatives.len() / bt.max(1);
        let ids = |v: &[u32]| v.iter().map(|&i| i as usize).collect::<Vec<usize>>();
        let input_ids = dev.tensor_from_vec(ids(inputs), (batch, t));
        let target_ids = dev.tensor_from_vec(ids(targets), (bt,));
        let negative_ids = dev.tensor_from_vec(ids(negatives), (bt, n));
        let rows = BatchRows {
            inputs: resident.traced(0).gather(input_ids),
            whole: (2..self.representation.tables().len())
                .map(|k| resident.traced(k))
                .collect(),
            target_emb: resident.traced(0).gather(target_ids.clone()),
            target_bias: resident.traced(1).gather(target_ids),
            negatives: if self.config.negatives == NegativeSampling::FullCatalog {
                NegativeRows::Catalog {
                    emb: resident.traced(0),
                    bias: resident.traced(1),
                }
            } else {
                NegativeRows::Sampled {
                    emb: resident.traced(0).gather(negative_ids.clone()),
                    bias: resident.traced(1).gather(negative_ids),
                }
            },
        };
        let loss = self.loss_of(rows, inputs, targets, dropout_seed);
        let value = loss.as_vec()[0];
        if !value.is_finite() {
            return Ok(value);
        }
        let mut grads = loss.backward();
        let items: Vec<u32> = inputs
            .iter()
            .chain(targets)
            .chain(negatives)
            .copied()
            .collect();
        let catalog = self.config.negatives == NegativeSampling::FullCatalog;
        let touched: Vec<Touched<'_>> = (0..self.representation.tables().len())
            .map(|k| {
                if k < 2 && !catalog {
                    Touched::Rows(&items)
                } else {
                    Touched::All
                }
            })
            .collect();
        if let Some(resident) = &mut self.resident_tables {
            resident
                .step(&mut grads, &touched)
                .map_err(|e| NetrexError::Device(format!("{e:?}")))?;
        }
        Ok(value)
    }

    /// The loss of `batch` rows of inputs and targets (shifted ids, row-major `(B, T)`) with
    /// `N` negatives per position (`(B, T, N)`), masked at padding targets.
    pub(super) fn batch_loss(
        &self,
        batch: usize,
        inputs: &[u32],
        targets: &[u32],
        negatives: &[u32],
        dropout_seed: Option<u64>,
    ) -> BatchLoss<D> {
        let tables = self.representation.tables();
        let (t, d) = (inputs.len() / batch, self.representation.dim());
        let bt = batch * t;
        let n = negatives.len() / bt.max(1);
        let dev = &self.device;
        let input_rows = gather_rows(dev, &tables[0], inputs, (batch, t, d));
        let mut leaves = vec![(0, Leaf::Three(input_rows.clone()), inputs.to_vec())];
        let mut whole = Vec::new();
        for (k, table) in tables.iter().enumerate().skip(2) {
            let all: Vec<u32> = (0..table.rows() as u32).collect();
            let w = gather_rows(dev, table, &all, (table.rows(), table.cols()));
            whole.push(w.leaky_trace());
            leaves.push((k, Leaf::Two(w), all));
        }
        let target_emb = gather_rows(dev, &tables[0], targets, (bt, d));
        let target_bias = gather_rows(dev, &tables[1], targets, (bt, 1));
        let negative_rows = if self.config.negatives == NegativeSampling::FullCatalog {
            let all: Vec<u32> = (0..tables[0].rows() as u32).collect();
            let emb = gather_rows(dev, &tables[0], &all, (all.len(), d));
            let bias = gather_rows(dev, &tables[1], &all, (all.len(), 1));
            let rows = NegativeRows::Catalog {
                emb: emb.leaky_trace(),
                bias: bias.leaky_trace(),
            };
            leaves.push((0, Leaf::Two(emb), all.clone()));
            leaves.push((1, Leaf::Two(bias), all));
            rows
        } else {
            let emb = gather_rows(dev, &tables[0], negatives, (bt, n, d));
            let bias = gather_rows(dev, &tables[1], negatives, (bt, n, 1));
            let rows = NegativeRows::Sampled {
                emb: emb.leaky_trace(),
                bias: bias.leaky_trace(),
            };
            leaves.push((0, Leaf::Three(emb), negatives.to_vec()));
            leaves.push((1, Leaf::Three(bias), negatives.to_vec()));
            rows
        };
        let rows = BatchRows {
            inputs: input_rows.leaky_trace(),
            whole,
            target_emb: target_emb.leaky_trace(),
            target_bias: target_bias.leaky_trace(),
            negatives: negative_rows,
        };
        let loss = self.loss_of(rows, inputs, targets, dropout_seed);
        leaves.push((0, Leaf::Two(target_emb), targets.to_vec()));
        leaves.push((1, Leaf::Two(target_bias), targets.to_vec()));
        BatchLoss { loss, leaves }
    }

    /// The masked loss of a batch from its traced rows.
    pub(super) fn loss_of(
        &self,
        rows: BatchRows<D>,
        inputs: &[u32],
        targets: &[u32],
        dropout_seed: Option<u64>,
    ) -> Tensor<(), f32, D, OwnedTape<f32, D>> {
        let BatchRows {
            inputs: input_rows,
            whole,
            target_emb,
            target_bias,
            negatives,
        } = rows;
        let (bt, d) = *target_emb.shape();
        // (B, T, D) -> (B * T, D)
        let h: Matrix<D, OwnedTape<f32, D>> = self
            .representation
            .encode(SequenceRows {
                inputs: input_rows,
                ids: inputs.to_vec(),
                whole,
                dropout_seed,
            })
            .reshape_like(&(bt, d));
        // (B * T,)
        let positive = (h.retaped::<OwnedTape<f32, D>>() * target_emb).sum::<(usize,), Axis<1>>()
            + target_bias.sum::<(usize,), Axis<1>>();
        // (B * T, N)
        let negative: Tensor<(usize, usize), f32, D, OwnedTape<f32, D>> = match negatives {
            NegativeRows::Sampled { emb, bias } => {
                let n = emb.shape().1;
                (h.broadcast_like::<_, Axis<1>>(&(bt, n, d)) * emb).sum::<(usize, usize), Axis<2>>()
                    + bias.sum::<(usize, usize), Axis<2>>()
            }
            NegativeRows::Catalog { emb, bias } => {
                let n = emb.shape().0;
                let dev = &self.device;
                let bias = bias
                    .sum::<(usize,), Axis<1>>()
                    .broadcast_like::<_, Axis<0>>(&(bt, n));
                // the padding column is no item
                let mut padding = vec![0.0f32; n];
                padding[0] = MASKED_SCORE;
                let padding = dev
                    .tensor_from_vec(padding, (n,))
                    .broadcast_like::<_, Axis<0>>(&(bt, n));
                let scores =
                    h.matmul(emb.permute::<(usize, usize), Axes2<1, 0>>()) + bias + padding;
                // each position's own target is no negative: the mask is made where the scores
                // are, since uploading a (B * T, items) one would cost more than the product
                let columns = dev
                    .tensor_from_vec((0..n).map(|i| i as f32).collect(), (n,))
                    .broadcast_like::<_, Axis<0>>(&(bt, n));
                let own = dev
                    .tensor_from_vec(targets.iter().map(|&t| t as f32).collect(), (bt,))
                    .broadcast_like::<_, Axis<1>>(&(bt, n));
                let masked = dev.ones_like(&(bt, n)) * MASKED_SCORE;
                columns.ne(&own).choose(scores, masked)
            }
        };
        let mask: Vec<f32> = targets
            .iter()
            .map(|&x| f32::from(u8::from(x != 0)))
            .collect();
        let mask = self.device.tensor_from_vec(mask, (bt,));
        let context = LossContext {
            num_items: self.representation.num_items(),
        };
        self.loss
            .loss(positive, negative, Some(&mask), None, &context)
    }

    /// The loss of one batch and its row gradients per table (for gradient checks).
    pub fn batch_gradients(
        &self,
        batch: usize,
        inputs: &[u32],
        targets: &[u32],
        negatives: &[u32],
    ) -> Result<(f32, Vec<SparseGrad>), NetrexError> {
        let BatchLoss { loss, leaves } = self.batch_loss(batch, inputs, targets, negatives, None);
        let value = loss.as_vec()[0];
        let mut grads = loss.backward();
        let mut out = SparseGrad::for_tables(self.representation.tables());
        for (table, leaf, ids) in &leaves {
            leaf.accumulate(&mut grads, ids, &mut out[*table])?;
        }
        Ok((value, out))
    }

    /// The loss value of one batch (for gradient checks).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn batch_loss_value(
        &self,
        batch: usize,
        inputs: &[u32],
        targets: &[u32],
        negatives: &[u32],
    ) -> f32 {
        self.batch_loss(batch, inputs, targets, negatives, None)
            .loss
            .as_vec()[0]
    }
}

/// A batch through the hand-written kernel, its row gradients added to `grads`; `None` when the
/// representation has no host encoder.
fn kernel_gradients<R: SequenceRepresentation, L: Loss>(
    representation: &R,
    loss: &L,
    batch: &SequenceBatch<'_>,
    grads: &mut [SparseGrad],
) -> Option<f32> {
    let encoder = representation.host_encoder()?;
    Some(sequence_batch(
        encoder.as_ref(),
        representation.tables(),
        loss,
        batch,
        grads,
    ))
}

//! Tables kept on a dfdx device for a whole fit, with dense optimizer state beside them.
//!
//! On a GPU, copying each batch's rows to the device and their gradients back (the row-wise
//! path of [`netrex_representations::gather`]) costs more than the model itself. Here every
//! table lives on the device as one `(rows, cols)` tensor; a batch gathers its rows there
//! ([`ResidentTables::traced`] then dfdx's `gather`), the backward pass leaves a dense gradient
//! per table, and [`ResidentTables::step`] updates every row with dfdx's kernels.
//!
//! The update sweeps whole tables (cheap on a GPU) but is lazy like the row-wise
//! [`RowOptimizer`](crate::RowOptimizer): rows the batch did not gather keep their values and
//! Adam moments. (A dense Adam, which keeps moving untouched rows, lost 0.014 to 0.019 MRR on
//! ML-100K at the learning rates tuned for the lazy one; docs/results.md.)

use dfdx::prelude::*;

use crate::optim::{Bias, OptimizerConfig, OptimizerKind, BETA1, BETA2, EPSILON};
use netrex_representations::Table;

/// A `(rows, cols)` tensor.
type Matrix<D, T> = Tensor<(usize, usize), f32, D, T>;

/// Which rows of a table a batch gathered.
#[derive(Clone, Copy, Debug)]
pub enum Touched<'a> {
    /// These rows (repeats allowed).
    Rows(&'a [u32]),
    /// Every row (a dense weight matrix).
    All,
}

/// A representation's tables on a device, with optimizer state.
pub struct ResidentTables<D: Device<f32>> {
    device: D,
    params: Vec<Matrix<D, NoneTape>>,
    /// Per table: Adam's two moments, or Adagrad's accumulator.
    state: [Vec<Matrix<D, NoneTape>>; 2],
    /// Per table: rows kept at zero after every step (the padding row of sequence models).
    frozen_masks: Vec<Option<Tensor<(usize,), f32, D>>>,
    config: OptimizerConfig,
    step: i32,
}

impl<D: Device<f32>> ResidentTables<D> {
    /// Copies `tables` to `device`, with fresh optimizer state for `config`.
    pub fn upload(device: &D, tables: &[Table], config: OptimizerConfig) -> Self {
        let params: Vec<_> = tables
            .iter()
            .map(|t| device.tensor_from_vec(t.data().to_vec(), (t.rows(), t.cols())))
            .collect();
        let zeros = |used: bool| -> Vec<Matrix<D, NoneTape>> {
            if used {
                params.iter().map(|p| device.zeros_like(p)).collect()
            } else {
                Vec::new()
            }
        };
        let state = [
            zeros(config.kind != OptimizerKind::Sgd),
            zeros(config.kind == OptimizerKind::Adam),
        ];
        ResidentTables {
            device: device.clone(),
            frozen_masks: vec![None; params.len()],
            params,
            state,
            config,
            step: 0,
        }
    }

    /// The device copy for the next epoch: `previous` brought up to date with the host's
    /// `tables` (its optimizer state kept) at the learning rate of `config`, or a fresh upload
    /// whose `frozen` `(table, row)` rows never move.
    pub fn reopen(
        previous: Option<Self>,
        device: &D,
        tables: &[Table],
        config: OptimizerConfig,
        frozen: &[(usize, usize)],
    ) -> Self {
        match previous {
            Some(mut r) => {
                r.refresh(tables);
                r.set_learning_rate(config.learning_rate);
                r
            }
            None => {
                let mut r = Self::upload(device, tables, config);
                for &(table, row) in frozen {
                    r.freeze_row(table, row);
                }
                r
            }
        }
    }

    /// Overwrites the device copies with `tables` (same shapes), keeping optimizer state: a
    /// later `fit` starts from the host parameters, which the caller may have changed.
    pub fn refresh(&mut self, tables: &[Table]) {
        for (p, t) in self.params.iter_mut().zip(tables) {
            *p = self
                .device
                .tensor_from_vec(t.data().to_vec(), (t.rows(), t.cols()));
        }
    }

    /// Keeps row `row` of table `table` at zero after every step.
    pub fn freeze_row(&mut self, table: usize, row: usize) {
        let rows = self.params[table].shape().0;
        let mut mask = vec![1.0f32; rows];
        if let Some(m) = mask.get_mut(row) {
            *m = 0.0;
        }
        self.frozen_masks[table] = Some(self.device.tensor_from_vec(mask, (rows,)));
    }

    /// Sets the learning rate.
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.config.learning_rate = lr;
    }

    /// Table `table` as a `(rows, cols)` tensor that records gradients. Call once per use: each call starts its own tape, and gradients of the same table
    /// accumulate when the tapes merge.
    pub fn traced(&self, table: usize) -> Matrix<D, OwnedTape<f32, D>> {
        self.params[table].leaky_trace()
    }

    /// Applies the gradients of one backward pass to every table, lazily: as the row-wise
    /// optimizer does, only the rows the batch gathered (`touched`, one entry per table) change,
    /// and Adam's moments of the other rows are left alone.
    pub fn step(
        &mut self,
        grads: &mut Gradients<f32, D>,
        touched: &[Touched<'_>],
    ) -> Result<(), D::Err> {
        self.step += 1;
        let OptimizerConfig {
            kind,
            learning_rate: lr,
            l2,
        } = self.config;
        let (step, scale) = Bias::at(self.step).factors(lr);
        for k in 0..self.params.len() {
            let param = self.params[k].clone();
            let shape = *param.shape();
            grads.try_alloc_for(&param)?;
            let mut g = grads.get(&param);
            let mut mask = vec![0.0f32; shape.0];
            match touched.get(k) {
                Some(Touched::Rows(ids)) => {
                    for &id in ids.iter() {
                        if let Some(m) = mask.get_mut(id as usize) {
                            *m = 1.0;
                        }
                    }
                }
                Some(Touched::All) | None => mask.iter_mut().for_each(|m| *m = 1.0),
            }
            // (rows,) -> (rows, cols)
            let touched = self
                .device
                .tensor_from_vec(mask, (shape.0,))
                .broadcast_like::<_, Axis<1>>(&shape)
                .gt(0.5);
            if l2 > 0.0 {
                g = g + param.clone() * l2;
            }
            let updated = match kind {
                OptimizerKind::Sgd => param.clone() - g * lr,
                OptimizerKind::Adagrad => {
                    let acc = self.state[0][k].clone() + g.clone().square();
                    let step = g / (acc.clone().sqrt() + 1e-7) * lr;
                    self.state[0][k] = touched.clone().choose(acc, self.state[0][k].clone());
                    param.clone() - step
                }
                OptimizerKind::Adam => {
                    let m = self.state[0][k].clone() * BETA1 + g.clone() * (1.0 - BETA1);
                    let v = self.state[1][k].clone() * BETA2 + g.square() * (1.0 - BETA2);
                    let step = m.clone() * step / (v.clone().sqrt() * scale + EPSILON);
                    self.state[0][k] = touched.clone().choose(m, self.state[0][k].clone());
                    self.state[1][k] = touched.clone().choose(v, self.state[1][k].clone());
                    param.clone() - step
                }
            };
            let mut updated = touched.choose(updated, param);
            if let Some(mask) = &self.frozen_masks[k] {
                updated = updated * mask.clone().broadcast_like::<_, Axis<1>>(&shape);
            }
            self.params[k] = updated;
        }
        Ok(())
    }

    /// Copies the device tables back into `tables` (same shapes).
    pub fn download(&self, tables: &mut [Table]) {
        for (p, t) in self.params.iter().zip(tables) {
            p.copy_into(t.data_mut());
        }
    }
}

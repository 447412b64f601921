//! The three ways an epoch's batches are trained: through dfdx one after the other, on the
//! device with resident tables, or with the fused kernel on Hogwild workers.

use super::*;
use batch::{EpochPlan, Outcome};

impl<R: FactorizationRepresentation, L: Loss, D: ComputeDevice>
    ImplicitFactorizationModel<R, L, D>
{
    /// Batches one after the other through dfdx.
    pub(super) fn generic_epoch(&mut self, plan: &EpochPlan<'_>) -> Result<Outcome, NetrexError> {
        let mut buffer = BatchBuffer::default();
        let mut outcome = Outcome::default();
        for (b, rows) in plan.batches.iter().enumerate() {
            buffer.fill(*rows, plan.sampler, b);
            let batch = buffer.batch();
            let value = self.step(batch.users, batch.positives, batch.negatives, batch.weights)?;
            if !outcome.add(b, value, rows.len()) {
                break;
            }
            plan.progress.advance(rows.len(), outcome.mean());
        }
        Ok(outcome)
    }

    /// Batches one after the other on the device, with the tables resident there.
    pub(super) fn resident_epoch(&mut self, plan: &EpochPlan<'_>) -> Result<Outcome, NetrexError> {
        let device_error = |e: D::Err| NetrexError::Device(format!("{e:?}"));
        let optimizer = *self.trainer.optimizer.config();
        let context = LossContext {
            num_items: self.sampled_items(),
        };
        let tables = self.representation.tables();
        let previous = self.resident_tables.take();
        let resident = ResidentTables::reopen(previous, &self.device, tables, optimizer, &[]);
        let resident = self.resident_tables.insert(resident);
        let mut buffer = BatchBuffer::default();
        let mut outcome = Outcome::default();
        for (b, rows) in plan.batches.iter().enumerate() {
            buffer.fill(*rows, plan.sampler, b);
            let batch = rows.len();
            let n = buffer.negatives.len() / batch;
            let ids = |v: &[u32]| v.iter().map(|&i| i as usize).collect::<Vec<usize>>();
            let users = self.device.tensor_from_vec(ids(&buffer.users), (batch,));
            let positives = self
                .device
                .tensor_from_vec(ids(&buffer.positives), (batch, 1));
            let negatives = self
                .device
                .tensor_from_vec(ids(&buffer.negatives), (batch, n));
            let rows_for = |items: &Tensor<(usize, usize), usize, D>, item_ids: &[u32]| {
                let mut out = Rows {
                    user: Vec::new(),
                    item: Vec::new(),
                    whole: Vec::new(),
                    user_ids: buffer.users.clone(),
                    item_ids: item_ids.to_vec(),
                };
                for (k, t) in tables.iter().enumerate() {
                    match t.indexed_by() {
                        IndexedBy::User => out.user.push(resident.traced(k).gather(users.clone())),
                        IndexedBy::Item => out.item.push(resident.traced(k).gather(items.clone())),
                        IndexedBy::Whole => out.whole.push(resident.traced(k)),
                    }
                }
                out
            };
            // (B, 1) -> (B,)
            let pos = self
                .representation
                .forward(rows_for(&positives, &buffer.positives))
                .sum::<(usize,), Axis<1>>();
            // (B, N)
            let neg = self
                .representation
                .forward(rows_for(&negatives, &buffer.negatives));
            let weights = buffer
                .weights
                .as_ref()
                .map(|w| self.device.tensor_from_vec(w.clone(), (batch,)));
            let loss = self.loss.loss(pos, neg, None, weights.as_ref(), &context);
            let value = loss.as_vec()[0];
            if !outcome.add(b, value, batch) {
                break;
            }
            let mut grads = loss.backward();
            let items: Vec<u32> = buffer
                .positives
                .iter()
                .chain(&buffer.negatives)
                .copied()
                .collect();
            let touched: Vec<Touched<'_>> = tables
                .iter()
                .map(|t| match t.indexed_by() {
                    IndexedBy::User => Touched::Rows(&buffer.users),
                    IndexedBy::Item => Touched::Rows(&items),
                    IndexedBy::Whole => Touched::All,
                })
                .collect();
            resident.step(&mut grads, &touched).map_err(device_error)?;
            plan.progress.advance(batch, outcome.mean());
        }
        resident.download(self.representation.tables_mut());
        Ok(outcome)
    }

    /// Hogwild: each worker of the pool trains every `workers`-th batch with the fused kernel
    /// and applies its own updates to the shared tables. Negatives depend on the batch, not
    /// on the worker, so one worker gives the same result as a sequential loop.
    pub(super) fn fused_epoch(&mut self, plan: &EpochPlan<'_>) -> Result<Outcome, NetrexError> {
        let loss = &self.loss;
        let context = LossContext {
            num_items: self.sampled_items(),
        };
        let Some(kernel) = self.kernel.clone() else {
            return Err(NetrexError::Training(
                "the fused kernel needs a representation with a bilinear kernel".into(),
            ));
        };
        let workers = rayon::current_num_threads().clamp(1, plan.batches.len().max(1));
        let per_example = self.uses_per_example_sgd().then(|| {
            let c = self.trainer.optimizer.config();
            (c.learning_rate, c.l2)
        });
        let num_items = self.representation.num_items();
        let tables = self.representation.tables_mut();
        let work = FusedWork {
            per_example,
            plan: *plan,
            loss,
            context,
            kernel,
            workers,
            stop: AtomicBool::new(false),
        };
        if workers == 1 {
            let training = self.trainer.optimizer.exclusive(tables);
            return Ok(work.run(&training, 0));
        }
        let training = self.trainer.optimizer.share(tables);
        let slots = if per_example.is_some() && !plan.hot_items.is_empty() {
            fused::hot_items::hot_item_slots(plan.hot_items, num_items)
        } else {
            Vec::new()
        };
        let outcomes: Vec<Outcome> = (0..workers)
            .into_par_iter()
            .map(|worker| work.run_sharing(&training, worker, &slots))
            .collect();
        Ok(outcomes
            .into_iter()
            .fold(Outcome::default(), Outcome::merge))
    }
}

impl<R: FactorizationRepresentation, L: Loss, D: ComputeDevice>
    ImplicitFactorizationModel<R, L, D>
{
    /// Per-example SGD on two or more workers in strata (see [`strata`](super::strata)):
    /// round after round, each worker trains its cell of `strata` on the shared tables, where
    /// no row of one cell is a row of another.
    pub(super) fn strata_epoch(
        &mut self,
        strata: &mut strata::Strata,
        progress: &Progress,
    ) -> Result<Outcome, NetrexError> {
        let (Some(kernel), Some(_)) = (self.kernel.clone(), self.loss.example_gradient()) else {
            return Err(NetrexError::Training(
                "per-example SGD needs a bilinear kernel and a built-in loss".into(),
            ));
        };
        let rule = {
            let c = self.trainer.optimizer.config();
            (c.learning_rate, c.l2)
        };
        let (negatives, seed, loss) = (self.negatives(), strata.seed(), &self.loss);
        let training = self
            .trainer
            .optimizer
            .share(self.representation.tables_mut());
        let stop = AtomicBool::new(false);
        let mut outcome = Outcome::default();
        for round in strata.rounds() {
            let outcomes: Vec<Outcome> = round
                .into_par_iter()
                .map(|mut cell| {
                    let mut out = Outcome::default();
                    let Some(example) = loss.example_gradient() else {
                        return out;
                    };
                    cell.shuffle(seed);
                    let context = LossContext {
                        num_items: cell.negatives.len(),
                    };
                    // SAFETY: the cells of a round name disjoint rows of every table (users
                    // and items by block, negatives from the cell's item block), and each cell
                    // is trained by one thread: no value this thread touches is touched by
                    // another until the round ends. The views stay on this thread.
                    let tables: Vec<_> = training
                        .tables()
                        .iter()
                        .map(|t| unsafe { t.as_cells() })
                        .collect();
                    let model = fused::per_example::Trained {
                        tables: &tables,
                        kernel: &kernel,
                        loss: example,
                        context: &context,
                    };
                    let (mut buffer, mut scratch) =
                        (BatchBuffer::default(), fused::Scratch::default());
                    for (u, rows) in cell.units(PER_EXAMPLE_UNIT).enumerate() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let draws = rows.len() * negatives;
                        buffer.fill_with(rows, |n| cell.draw_negatives(seed, u, draws, n));
                        let result = fused::per_example::sgd_examples(
                            &model,
                            &buffer.batch(),
                            rule,
                            &mut scratch,
                            None,
                        );
                        // every positive is a batch of its own, counted over the epoch
                        let first = cell.offset + u * PER_EXAMPLE_UNIT;
                        let ok = match result {
                            Ok(total) => {
                                out.add(first, (total / rows.len() as f64) as f32, rows.len())
                            }
                            Err((i, value)) => out.add(first + i, value, 1),
                        };
                        if !ok {
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        progress.advance(rows.len(), out.mean());
                    }
                    out
                })
                .collect();
            outcome = outcomes.into_iter().fold(outcome, Outcome::merge);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        Ok(outcome)
    }
}

/// What every Hogwild worker of a fused epoch shares.
struct FusedWork<'a, L> {
    plan: EpochPlan<'a>,
    loss: &'a L,
    /// `(learning rate, l2)` of per-example SGD, which then trains each unit's positives one
    /// at a time.
    per_example: Option<(f32, f32)>,
    context: LossContext,
    kernel: fused::Kernel,
    workers: usize,
    stop: AtomicBool,
}

impl<L: Loss> FusedWork<'_, L> {
    /// Trains batches `worker`, `worker + workers`, ... and applies each one's updates.
    fn run<S: RowStore>(&self, training: &RowTraining<'_, S>, worker: usize) -> Outcome {
        self.run_sharing(training, worker, &[])
    }

    /// [`run`](Self::run) beside other workers; `slots` (item id -> slot + 1 in the plan's hot
    /// items, or empty) gives per-example SGD its own copies of those items' rows.
    fn run_sharing<S: RowStore>(
        &self,
        training: &RowTraining<'_, S>,
        worker: usize,
        slots: &[u32],
    ) -> Outcome {
        let tables = training.tables();
        let mut grads: Vec<SparseGrad> = tables
            .iter()
            .map(|t| SparseGrad::new(t.weights.rows(), t.weights.cols()))
            .collect();
        let mut buffer = BatchBuffer::default();
        let mut scratch = fused::Scratch::default();
        let mut outcome = Outcome::default();
        let at = self.kernel.at;
        let (item, item_bias) = (&tables[at.item].weights, &tables[at.item_bias].weights);
        let mut hot = (!slots.is_empty())
            .then(|| fused::hot_items::HotItems::new(slots, self.plan.hot_items, item, item_bias));
        let mut units = 0;
        for b in (worker..self.plan.batches.len()).step_by(self.workers) {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let rows = self.plan.batches[b];
            buffer.fill(rows, self.plan.sampler, b);
            if let (Some(rule), Some(example)) = (self.per_example, self.loss.example_gradient()) {
                let model = fused::per_example::Trained {
                    tables,
                    kernel: &self.kernel,
                    loss: example,
                    context: &self.context,
                };
                let result = fused::per_example::sgd_examples(
                    &model,
                    &buffer.batch(),
                    rule,
                    &mut scratch,
                    hot.as_mut(),
                );
                units += 1;
                if let Some(hot) = hot
                    .as_mut()
                    .filter(|_| units % fused::hot_items::MERGE_EVERY == 0)
                {
                    hot.merge(item, item_bias);
                }
                // every positive is a batch of its own
                let ok = match result {
                    Ok(total) => outcome.add(b, (total / rows.len() as f64) as f32, rows.len()),
                    Err((i, value)) => outcome.add(b * PER_EXAMPLE_UNIT + i, value, 1),
                };
                if !ok {
                    self.stop.store(true, Ordering::Relaxed);
                    break;
                }
                self.plan.progress.advance(rows.len(), outcome.mean());
                continue;
            }
            let pass = fused::passes::Pass {
                tables,
                kernel: &self.kernel,
                loss: self.loss,
                context: &self.context,
                batch: &buffer.batch(),
            };
            let value = fused::passes::bilinear_any(pass, &mut grads, &mut scratch);
            if !outcome.add(b, value, rows.len()) {
                self.stop.store(true, Ordering::Relaxed);
                break;
            }
            training.step(&mut grads);
            self.plan.progress.advance(rows.len(), outcome.mean());
        }
        if let Some(hot) = hot.as_mut() {
            hot.merge(item, item_bias);
        }
        outcome
    }
}

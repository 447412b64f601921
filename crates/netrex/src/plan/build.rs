//! The models a plan describes, built as the command line builds them: a program that holds a
//! plan gets the same model, the same seed's initialisation and the same loss.

use rand::SeedableRng;

use netrex_data::Interactions;
use netrex_evaluation::NextItemConfig;
use netrex_linear::{Ease, Ials, LinearModel, LocalEase, UserItems};
use netrex_losses::dfdx::prelude::Cpu;
use netrex_losses::BuiltinLoss;
use netrex_representations::AnySequence;
use netrex_train::{ComputeDevice, ImplicitSequenceModel, NetrexError, ParamGuard};

use super::{ModelName, PlanError, RunPlan};

impl RunPlan {
    /// The plan's sequence model for a catalog of `num_items`, on `device`: its checked
    /// configuration, the representation initialised from the plan's seed, and its loss.
    pub fn sequence_model_on<D: ComputeDevice>(
        &self,
        device: D,
        num_items: usize,
    ) -> Result<ImplicitSequenceModel<AnySequence, BuiltinLoss, D>, PlanError> {
        let config = self.sequence_config().check()?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.training.seed);
        let dim = config.training.embedding_dim;
        let representation =
            (self.sequence_spec().build(num_items, dim, &mut rng)).map_err(NetrexError::from)?;
        let model = ImplicitSequenceModel::new_on(device, config, representation, self.loss()?)?;
        Ok(model.with_resident_tables(self.resident()))
    }

    /// [`sequence_model_on`](Self::sequence_model_on) the CPU.
    pub fn sequence_model(
        &self,
        num_items: usize,
    ) -> Result<ImplicitSequenceModel<AnySequence, BuiltinLoss>, PlanError> {
        self.sequence_model_on(Cpu::open()?, num_items)
    }

    /// How the next-item protocol ranks a target: among every item, seen items removed,
    /// reading the last `max_len` items before it, scored at 10.
    pub fn next_item_config(&self) -> NextItemConfig {
        NextItemConfig {
            k: 10,
            max_len: Some(self.max_len()),
            // sessions repeat items (a click on an item seen before is a next click to
            // predict, as session-based evaluations count it); the S3Rec benchmarks remove
            // the history's items
            exclude_seen: !self.is_session_files(),
        }
    }

    /// The plan's linear model (EASE, local EASE or iALS) fitted to `train` on the plan's
    /// threads, with iALS's loss after each sweep (none for the closed forms).
    pub fn fit_linear(&self, train: &Interactions) -> Result<(LinearModel, Vec<f64>), PlanError> {
        if !self.model.kind.is_linear() {
            return Err(PlanError::invalid(
                "model.kind",
                format!("{} is not a linear model", super::name_of(&self.model.kind)),
            ));
        }
        let rows = UserItems::of(train);
        let mut losses = Vec::new();
        let model = netrex_train::in_pool(self.training.threads, || match self.model.kind {
            ModelName::Ease => Ease::fit(&rows, &self.ease_config()).map(LinearModel::Ease),
            ModelName::LocalEase => {
                LocalEase::fit(&rows, &self.local_ease_config()).map(LinearModel::LocalEase)
            }
            _ => Ials::fit(&rows, &self.ials_config(), |_, loss| losses.push(loss))
                .map(LinearModel::Ials),
        })??;
        Ok((model, losses))
    }
}

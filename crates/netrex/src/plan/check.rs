//! The one validation pass over a plan, before any data is read: every setting in range,
//! every combination meaningful, the training configuration checked as the model will check
//! it, and the generated data's size against the machine's memory.

use netrex_train::{ParamGuard, PlateauDecay};

use super::memory::{available_memory, Estimate};
use super::{ModelName, PlanError, RunPlan, SplitName};

fn invalid<T>(field: &str, message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError::invalid(field, message))
}

fn at_least_one(field: &str, value: Option<usize>) -> Result<(), PlanError> {
    match value {
        Some(0) => invalid(field, "must be at least 1"),
        _ => Ok(()),
    }
}

impl RunPlan {
    /// Caps `training.threads` at the machine's `cpus` logical CPUs: more workers than CPUs
    /// only contend (100,000 threads stalled the machine). Returns the warning to print.
    pub fn cap_threads(&mut self, cpus: usize) -> Option<String> {
        let asked = self.training.threads;
        if asked <= cpus.max(1) {
            return None;
        }
        self.training.threads = cpus.max(1);
        Some(format!(
            "--threads {asked} is more than this machine's {cpus} logical CPUs: using {cpus}"
        ))
    }

    /// Checks the plan (resolved or not) before any work: a typed error names the first
    /// setting that cannot run.
    pub fn check(&self) -> Result<(), PlanError> {
        self.check_data()?;
        self.check_split()?;
        self.check_model()?;
        self.check_outputs()?;
        self.check_training()?;
        self.check_tuning()?;
        self.data_estimate().fits(available_memory())
    }

    /// [`check`](Self::check) of every setting but the data source and the memory estimate:
    /// for data a program already holds in memory (the Python package's arrays and frames).
    pub fn check_in_memory(&self) -> Result<(), PlanError> {
        self.check_split()?;
        self.check_model()?;
        self.check_outputs()?;
        self.check_training()?;
        self.check_tuning()
    }

    fn check_tuning(&self) -> Result<(), PlanError> {
        if self.tune.grid.is_empty() {
            return Ok(());
        }
        let fraction = self.tune.validation_fraction;
        if !(fraction > 0.0 && fraction < 1.0) {
            return invalid(
                "tune.validation_fraction",
                format!("{fraction} is not in (0, 1)"),
            );
        }
        if !(1..=20).contains(&self.tune.folds) {
            return invalid(
                "tune.folds",
                format!("{} is not in 1..=20", self.tune.folds),
            );
        }
        if self.is_next_item() {
            return invalid(
                "tune.grid",
                "leave-one-out already chooses on its validation targets (early stopping); \
                 the grid tunes the other protocols",
            );
        }
        for point in self.grid_points()? {
            let plan = self.with_point(&point)?;
            plan.check_model()?;
            plan.check_training()?;
        }
        Ok(())
    }

    fn check_data(&self) -> Result<(), PlanError> {
        let d = &self.data;
        let sources = [d.dataset.is_some(), d.sequences.is_some(), d.csv.is_some()];
        match sources.iter().filter(|&&s| s).count() {
            0 => {
                return invalid(
                    "data",
                    "give --dataset NAME, --csv PATH or --sequences FILE",
                )
            }
            1 => {}
            _ => return invalid("data", "give one of --dataset, --csv and --sequences"),
        }
        if d.test_csv.is_some() && d.csv.is_none() {
            return invalid(
                "data.test_csv",
                "a test file needs its train file: give --csv",
            );
        }
        let s = &d.separator;
        if !(s == "tab" || s == "\\t" || s.len() == 1) {
            return invalid(
                "data.separator",
                format!("must be one character, got {s:?}"),
            );
        }
        if d.min_rating.is_some_and(|r| !r.is_finite()) {
            return invalid("data.min_rating", "must be a finite number");
        }
        Ok(())
    }

    fn check_split(&self) -> Result<(), PlanError> {
        let split = self.split_method();
        let s = &self.split;
        if !(s.test_fraction > 0.0 && s.test_fraction < 1.0) {
            return invalid("split.test_fraction", "must be in (0, 1)");
        }
        at_least_one("split.leave_last", Some(s.leave_last))?;
        for (given, field, needs) in [
            (
                s.cold_items.is_some(),
                "split.cold_items",
                SplitName::ColdItems,
            ),
            (
                s.cold_users.is_some(),
                "split.cold_users",
                SplitName::ColdUsers,
            ),
        ] {
            if given && split != needs {
                let name = super::name_of(&needs);
                return invalid(field, format!("lists the cold ids of --split {name}"));
            }
        }
        if (split == SplitName::TestFile) != self.data.test_csv.is_some() {
            return invalid(
                "split.method",
                "the test-file split is the file of --test-csv: give both or neither",
            );
        }
        let ml100k = self.data.dataset == Some(super::DatasetName::Ml100k);
        if split.official().is_some() && !ml100k {
            let name = super::name_of(&split);
            return invalid(
                "split.method",
                format!(
                    "{name} is one of ML-100K's official files: use random, user, leave-last, \
                     temporal, cold-items or cold-users for this data"
                ),
            );
        }
        if split == SplitName::LeaveOneOut && self.data.test_csv.is_some() {
            return invalid(
                "data.test_csv",
                "brings its own split: leave-one-out splits one file",
            );
        }
        Ok(())
    }

    fn check_model(&self) -> Result<(), PlanError> {
        let kind = self.model.kind;
        let split = self.split_method();
        let next_item = self.is_next_item();
        let f = &self.features;
        let features = f.item.is_some() || f.user.is_some();
        if features && (next_item || kind == ModelName::Popularity) {
            return invalid(
                "features.item",
                "side features train a hybrid factorization model or a sequence model with \
                 --split user; the leave-one-out protocol and popularity do not read features",
            );
        }
        if f.user.is_some() && kind.is_sequence() {
            return invalid(
                "features.user",
                "a sequence model represents a user by their history; give it --item-features",
            );
        }
        if f.with_ids.is_some() && !features {
            return invalid(
                "features.with_ids",
                "keeps id embeddings beside features: give --item-features or --user-features",
            );
        }
        let weight = self.feature_weight();
        if !(weight.is_finite() && weight > 0.0 && weight <= netrex_data::MAX_WEIGHT) {
            return invalid("features.feature_weight", "must be in (0, 1e6]");
        }
        match (next_item, kind) {
            (true, ModelName::Factorization) => invalid(
                "model.kind",
                "--split leave-one-out ranks next items: use a sequence model, cooc or popularity",
            ),
            (false, ModelName::Cooc | ModelName::Sknn) => invalid(
                "model.kind",
                format!(
                    "{} ranks next items: use --split leave-one-out, or a test file of sessions (--test-csv)",
                    kind.name()
                ),
            ),
            (_, ModelName::Sknn) if self.model.neighbours == 0 => {
                invalid("model.neighbours", "must be at least 1")
            }
            _ if split.is_cold() && kind.is_sequence() => invalid(
                "split.method",
                "cold-start splits evaluate factorization models and popularity",
            ),
            (_, ModelName::Factorization) => self.check_cold_features(split),
            _ => Ok(()),
        }
    }

    /// A held-out item (user) is known only by its features: without them it would be ranked
    /// on an untrained random row.
    fn check_cold_features(&self, split: SplitName) -> Result<(), PlanError> {
        let (missing, side, flag) = match split {
            SplitName::ColdItems => (self.features.item.is_none(), "items", "--item-features"),
            SplitName::ColdUsers => (self.features.user.is_none(), "users", "--user-features"),
            _ => return Ok(()),
        };
        match missing {
            true => invalid(
                "split.method",
                format!(
                    "the cold {side} of this split never occur in training: a factorization \
                     model ranks them from their features, so give {flag} (or fit \
                     --model popularity)"
                ),
            ),
            false => Ok(()),
        }
    }

    fn check_outputs(&self) -> Result<(), PlanError> {
        let o = &self.output;
        at_least_one("output.checkpoint_every", o.checkpoint_every)?;
        at_least_one("output.eval_every", o.eval_every)?;
        if o.checkpoint_every.is_some() && o.save.is_none() {
            return invalid(
                "output.checkpoint_every",
                "checkpoints go under --save DIR: give it",
            );
        }
        if o.checkpoint_every.is_some() && self.resident() {
            return invalid(
                "output.checkpoint_every",
                "checkpoints save host tables: they cannot be used with --resident or --device \
                 cuda (save the final model with --save instead)",
            );
        }
        if self.model.kind == ModelName::Popularity && o.save.is_some() {
            return invalid("output.save", "popularity has nothing to save");
        }
        if self.is_next_item() && (o.checkpoint_every.is_some() || o.plot.is_some()) {
            return invalid(
                "output.checkpoint_every",
                "--checkpoint-every and --plot are not available with leave-one-out",
            );
        }
        Ok(())
    }

    fn check_training(&self) -> Result<(), PlanError> {
        let t = &self.training;
        if !(0.0..=1.0).contains(&t.gbce_t) {
            return invalid("training.gbce_t", format!("{} is not in [0, 1]", t.gbce_t));
        }
        at_least_one("training.threads", Some(t.threads))?;
        let s = &self.stopping;
        if !self.is_next_item() {
            for (field, given) in [
                ("stopping.max_epochs", s.max_epochs.is_some()),
                ("stopping.patience", s.patience.is_some()),
                ("stopping.lr_decay_patience", s.lr_decay_patience.is_some()),
            ] {
                if given {
                    return invalid(
                        field,
                        "early stopping runs on the validation targets of --split \
                         leave-one-out; this run trains --epochs N",
                    );
                }
            }
        }
        if !self.model.kind.is_trained() {
            return Ok(());
        }
        if self.model.kind.is_linear() {
            return self.check_linear();
        }
        let config = match self.model.kind.is_sequence() {
            true => self.sequence_config().check().map(|_| ()),
            false => self.training_config().check().map(|_| ()),
        };
        config.map_err(|e| PlanError::invalid("training", e.to_string()))?;
        if self.is_next_item() {
            let stop = self.early_stopping().check().map(|_| ());
            stop.map_err(|e| PlanError::invalid("stopping", e.to_string()))?;
            if let Some(n) = s.lr_decay_patience {
                PlateauDecay::new(n, s.lr_decay_factor)
                    .map_err(|e| PlanError::invalid("stopping.lr_decay_factor", e.to_string()))?;
            }
        }
        Ok(())
    }

    /// What generating the plan's synthetic data allocates (nothing for data read from files:
    /// their size is checked once read, by [`RunPlan::training_estimate`]).
    pub fn data_estimate(&self) -> Estimate {
        let mut e = Estimate::default();
        let s = &self.data.synthetic;
        match self.data.dataset {
            Some(super::DatasetName::SyntheticTiled) => e.add(
                "the generated interactions",
                &[(s.rows, "rows"), (s.length, "items a row"), (24, "bytes")],
                "fewer --rows or a smaller --length",
            ),
            Some(super::DatasetName::SyntheticMarkov) => e.add(
                "the generated interactions",
                &[(s.interactions, "interactions"), (24, "bytes")],
                "fewer --interactions",
            ),
            _ => {}
        }
        e
    }
}

impl RunPlan {
    /// EASE and iALS: their own settings, on the protocols they serve.
    fn check_linear(&self) -> Result<(), PlanError> {
        let kind = self.model.kind.name();
        if self.is_next_item() {
            return Err(PlanError::invalid(
                "model.kind",
                format!("{kind} ranks items for users, not the next item of a sequence: use it on a user split (ua, random, ...), not leave-one-out"),
            ));
        }
        if self.features.item.is_some() || self.features.user.is_some() {
            return Err(PlanError::invalid(
                "features",
                format!("{kind} learns from interactions only: drop the feature options or use --model factorization"),
            ));
        }
        let o = &self.output;
        if o.checkpoint_every.is_some() || o.eval_every.is_some() || o.plot.is_some() {
            return Err(PlanError::invalid(
                "output",
                format!("{kind} is fitted in one piece: it has no epochs to checkpoint, evaluate or plot"),
            ));
        }
        if self.training.device != super::DeviceName::Cpu {
            return Err(PlanError::invalid(
                "training.device",
                format!("{kind} runs on the CPU (faer's kernels): leave out --device"),
            ));
        }
        let checked = match self.model.kind {
            ModelName::Ease => self.ease_config().check(),
            ModelName::LocalEase => self.local_ease_config().check(),
            _ => self.ials_config().check(),
        };
        checked.map_err(|e| PlanError::invalid("training", e.to_string()))
    }
}

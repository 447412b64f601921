//! The one place where command-line options become a run plan: a config file or a saved
//! model's plan first, then every option given on the command line over it. Everything after
//! this reads the plan, never the options.

use netrex::plan::{FeatureWeighting, RunPlan};

use crate::args::{DataArgs, FitArgs};
use crate::Failure;

/// `slot` takes `given` if it was given.
fn set<T: Clone>(slot: &mut T, given: &Option<T>) {
    if let Some(v) = given {
        *slot = v.clone();
    }
}

/// `slot` (an optional setting) takes `given` if it was given.
fn set_some<T: Clone>(slot: &mut Option<T>, given: &Option<T>) {
    if given.is_some() {
        *slot = given.clone();
    }
}

/// The data options given, over `plan`'s data and split.
pub(crate) fn apply_data(a: &DataArgs, plan: &mut RunPlan) {
    let d = &mut plan.data;
    // a source named on the command line replaces the config's, whichever kind it was
    if a.dataset.is_some() || a.sequences.is_some() || a.csv.is_some() {
        (d.dataset, d.sequences, d.csv, d.test_csv) = (None, None, None, None);
    }
    set_some(&mut d.dataset, &a.dataset);
    set_some(&mut d.sequences, &a.sequences);
    set_some(&mut d.csv, &a.csv);
    set_some(&mut d.test_csv, &a.test_csv);
    set_some(&mut d.data_dir, &a.data_dir);
    set(&mut d.user_col, &a.user_col);
    set(&mut d.item_col, &a.item_col);
    set_some(&mut d.timestamp_col, &a.timestamp_col);
    set_some(&mut d.rating_col, &a.rating_col);
    set_some(&mut d.weight_col, &a.weight_col);
    set(&mut d.separator, &a.separator);
    set_some(&mut d.min_rating, &a.min_rating);
    set_some(&mut d.min_item_interactions, &a.min_item_interactions);
    let g = &mut d.synthetic;
    set(&mut g.rows, &a.rows);
    set(&mut g.length, &a.length);
    set(&mut g.users, &a.users);
    set(&mut g.items, &a.items);
    set(&mut g.interactions, &a.interactions);
    set(&mut g.concentration, &a.concentration);
    set(&mut g.order, &a.order);
    let s = &mut plan.split;
    set_some(&mut s.method, &a.split);
    set(&mut s.test_fraction, &a.test_fraction);
    set(&mut s.leave_last, &a.leave_last);
    set_some(&mut s.cold_items, &a.cold_items);
    set_some(&mut s.cold_users, &a.cold_users);
    set_some(&mut plan.features.item, &a.item_features);
    set_some(&mut plan.features.user, &a.user_features);
}

/// The options of `fit` given, over `plan`.
pub(crate) fn apply_fit(a: &FitArgs, plan: &mut RunPlan) {
    apply_data(&a.data, plan);
    let m = &mut plan.model;
    set(&mut m.kind, &a.model);
    set_some(&mut m.max_len, &a.max_len);
    set(&mut m.kernel_width, &a.kernel_width);
    set(&mut m.dilations, &a.dilations);
    m.residual &= !a.no_residual;
    set(&mut m.blocks, &a.blocks);
    set(&mut m.heads, &a.heads);
    set(&mut m.dropout, &a.dropout);
    set(&mut m.frequency_mix, &a.frequency_mix);
    set(&mut m.frequency_cutoff, &a.frequency_cutoff);
    m.frequency_learned |= a.frequency_learned;
    if !a.grid.is_empty() {
        plan.tune.grid = a.grid.clone();
    }
    set(&mut plan.tune.metric, &a.tune_metric);
    set(&mut plan.tune.validation_fraction, &a.validation_fraction);
    set(&mut plan.tune.folds, &a.folds);
    let m = &mut plan.model;
    set(&mut m.alpha, &a.alpha);
    set(&mut m.cg_steps, &a.cg_steps);
    set(&mut m.precision, &a.precision);
    set(&mut m.ease_dropout, &a.ease_dropout);
    set(&mut m.neighbours, &a.neighbours);
    set(&mut m.sknn_sample, &a.sknn_sample);
    m.sknn_weights |= a.sknn_weights;
    let t = &mut plan.training;
    set_some(&mut t.loss, &a.loss);
    set_some(&mut t.negatives, &a.negatives);
    set_some(&mut t.negative_sampling, &a.negative_sampling);
    set(&mut t.gbce_t, &a.gbce_t);
    set_some(&mut t.dim, &a.dim);
    set_some(&mut t.batch_size, &a.batch_size);
    set(&mut t.epochs, &a.epochs);
    set_some(&mut t.learning_rate, &a.learning_rate);
    set_some(&mut t.lr_schedule, &a.lr_schedule);
    set_some(&mut t.l2, &a.l2);
    set(&mut t.optimizer, &a.optimizer);
    set(&mut t.seed, &a.seed);
    set(&mut t.threads, &a.threads);
    t.generic |= a.generic;
    if a.resident {
        t.resident = Some(true);
    }
    set(&mut t.device, &a.device);
    let f = &mut plan.features;
    set_some(&mut f.with_ids, &a.with_ids);
    set_some(&mut f.weighting, &a.feature_weighting);
    if a.raw_feature_weights {
        f.weighting = Some(FeatureWeighting::Raw);
    }
    set_some(&mut f.feature_weight, &a.feature_weight);
    plan.split.sample_cold_items |= a.sample_cold_items;
    let s = &mut plan.stopping;
    set_some(&mut s.max_epochs, &a.max_epochs);
    set_some(&mut s.patience, &a.patience);
    set_some(&mut s.lr_decay_patience, &a.lr_decay_patience);
    set(&mut s.lr_decay_factor, &a.lr_decay_factor);
    let o = &mut plan.output;
    set_some(&mut o.save, &a.save);
    set_some(&mut o.checkpoint_every, &a.checkpoint_every);
    set_some(&mut o.eval_every, &a.eval_every);
    set_some(&mut o.plot, &a.plot);
    o.json |= a.json;
}

/// The machine's logical CPUs.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The plan as given (config file, then options over it), before its defaults are resolved:
/// `fit` runs it through [`finish`]; a tuner's grid points are set on it, so that defaults that
/// follow a tuned key (a loss's learning rate) follow it.
pub(crate) fn given_plan(a: &FitArgs) -> Result<RunPlan, Failure> {
    let sets = |section: &str, key: &str| match &a.config {
        Some(file) => RunPlan::file_sets(file, section, key),
        None => Ok(false),
    };
    let (kind_set, threads_set) = (sets("model", "kind")?, sets("training", "threads")?);
    let mut plan = match &a.config {
        Some(file) => RunPlan::read(file)?,
        None => RunPlan::default(),
    };
    apply_fit(a, &mut plan);
    if a.model.is_none() && !kind_set {
        plan.model.kind = plan.default_kind();
    }
    // a next-item run is long and its kernel uses every core well: it takes them all unless
    // told otherwise (the same seed and thread count give the same result; float sums
    // grouped by thread differ in their last digits between counts)
    if a.threads.is_none() && !threads_set && plan.is_next_item() {
        plan.training.threads = cpus();
    }
    Ok(plan)
}

/// `plan` resolved, fitted to this machine and checked.
pub(crate) fn finish(plan: RunPlan) -> Result<RunPlan, Failure> {
    let mut plan = plan.resolve()?;
    if let Some(warning) = plan.cap_threads(cpus()) {
        eprintln!("warning: {warning}");
    }
    plan.check()?;
    Ok(plan)
}

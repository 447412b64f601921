//! `netrex evaluate`: scores a saved model, factorization or sequence, on a dataset's test
//! split.

use netrex::evaluation::evaluate;
use netrex::prelude::*;

use netrex::plan::{ModelName, RunPlan, SplitName};

use crate::args::EvaluateArgs;
use crate::load::{drop_unseen, load, Split};
use crate::saved::{check_same_ids, load_factorization, load_sequence};
use crate::train::{factorization_scores, sequence_scores, Scores, TestSettings};
use crate::Failure;

/// The plan `evaluate` scores with: the model's own (so its split is the default), with the
/// data options given over it; a model saved without a plan gets the defaults of its kind.
fn evaluation_plan(
    args: &EvaluateArgs,
    saved: Option<&RunPlan>,
    sequence: bool,
) -> Result<RunPlan, Failure> {
    let mut plan = saved.cloned().unwrap_or_else(|| {
        let mut plan = RunPlan::default();
        if sequence {
            plan.model.kind = ModelName::Lstm;
            plan.split.method = Some(SplitName::User);
        }
        plan
    });
    crate::plan::apply_data(&args.data, &mut plan);
    if let Some(seed) = args.seed {
        plan.training.seed = seed;
    }
    if let Some(threads) = args.threads {
        plan.training.threads = threads;
    }
    plan.output = Default::default();
    plan.output.json = args.json;
    crate::plan::finish(plan)
}

/// An evaluation on other data or another split than the model's must not score it on what it
/// trained on: the metrics would be inflated without a word.
fn check_no_leak(plan: &RunPlan, saved: Option<&RunPlan>, test: &Split) -> Result<(), Failure> {
    let Some(saved) = saved else {
        return Ok(());
    };
    let changed = saved.differences(plan).into_iter().any(|(key, _, _)| {
        key.starts_with("data.") || key.starts_with("split.") || key == "training.seed"
    });
    if !changed {
        return Ok(());
    }
    let trained = load(saved)?;
    if trained.data.users != test.data.users || trained.data.items != test.data.items {
        return Ok(()); // other ids: check_same_ids reports it
    }
    let pairs = |x: &netrex::data::Interactions| -> std::collections::HashSet<(u32, u32)> {
        x.users()
            .iter()
            .copied()
            .zip(x.items().iter().copied())
            .collect()
    };
    let seen = pairs(&trained.parts.train);
    let shared = pairs(&test.parts.test).intersection(&seen).count();
    if shared == 0 {
        return Ok(());
    }
    Err(format!(
        "the test set of this split shares {shared} interactions with the data the model was \
         trained on (--split {}): its metrics would be inflated; leave out --split and the data \
         options to evaluate on the model's own split",
        netrex::plan::name_of(&saved.split_method())
    )
    .into())
}

/// Runs `netrex evaluate`.
pub(crate) fn evaluate_saved(args: EvaluateArgs) -> Result<(), Failure> {
    let sequence = netrex::is_sequence_model(&args.model);
    crate::guard::model_fits(&args.model)?;
    if sequence && args.plot.is_some() {
        return Err(
            "--plot draws metrics at k of factorization models; this model is a sequence model"
                .into(),
        );
    }
    let scores = if sequence {
        let (model, catalog) = load_sequence(&args.model)?;
        let saved = RunPlan::of_catalog(&catalog)?;
        let plan = evaluation_plan(&args, saved.as_ref(), true)?;
        if plan.is_next_item() {
            let (json, text) = crate::next_item::evaluate_saved(&plan, &model)?;
            return print(&args, &json, &text);
        }
        let split = load(&plan)?;
        check_same_ids(&catalog, &split.data)?;
        check_no_leak(&plan, saved.as_ref(), &split)?;
        let split = drop_unseen(split, true);
        split.unseen.warn();
        let mut scores = sequence_scores(&model, &split.parts, &settings(&plan, &split), false)?;
        crate::report::merge(&mut scores.json, split.unseen.json());
        scores
    } else if netrex::linear::is_linear_model(&args.model) {
        let (model, catalog) = crate::linear::load_linear(&args.model)?;
        evaluate_scorer(&args, &model, &catalog)?
    } else {
        let (model, catalog) = load_factorization(&args.model)?;
        evaluate_scorer(&args, &model, &catalog)?
    };
    print(&args, &scores.json, &scores.text)
}

fn print(args: &EvaluateArgs, json: &serde_json::Value, text: &str) -> Result<(), Failure> {
    if args.json {
        println!("{json}");
    } else {
        println!("{text}");
        if let Some(file) = &args.plot {
            println!("chart written to {}", file.display());
        }
    }
    Ok(())
}

fn settings(plan: &RunPlan, split: &Split) -> TestSettings {
    TestSettings {
        threads: plan.training.threads,
        seed: plan.training.seed,
        candidates: split.candidates(),
    }
}

/// Scores a saved model that ranks items for users (factorization, EASE, iALS).
fn evaluate_scorer<S: ItemScorer + Sync>(
    args: &EvaluateArgs,
    model: &S,
    catalog: &Catalog,
) -> Result<Scores, Failure> {
    let saved = RunPlan::of_catalog(catalog)?;
    let plan = evaluation_plan(args, saved.as_ref(), false)?;
    let split = load(&plan)?;
    check_same_ids(catalog, &split.data)?;
    check_no_leak(&plan, saved.as_ref(), &split)?;
    let users = split.user_features.is_some() || catalog.user_features.is_some();
    let split = drop_unseen(split, users);
    split.unseen.warn();
    let (parts, settings) = (&split.parts, settings(&plan, &split));
    // a chart needs more cut-offs than the summary
    let config = split.eval_config(if args.plot.is_some() {
        EvalConfig::at(vec![1, 2, 3, 5, 10, 15, 20, 30, 50])
    } else {
        EvalConfig::default()
    });
    let report = netrex::in_pool(settings.threads, || {
        evaluate(model, &parts.test, Some(&parts.train), &config)
    })??;
    if let Some(file) = &args.plot {
        let title = format!(
            "{}: {} test users",
            args.model.display(),
            report.per_user.len()
        );
        netrex::plot::metrics_at_k(file, &title, &report)?;
    }
    let mut scores = factorization_scores(&report);
    crate::report::merge(&mut scores.json, split.unseen.json());
    Ok(scores)
}

//! `netrex evaluate`: scores a saved model, factorization or sequence, on a dataset's test
//! split.

use netrex::evaluation::evaluate;
use netrex::losses::BuiltinLoss;
use netrex::prelude::*;

use crate::args::{EvaluateArgs, SplitName};
use crate::load::{check_same_ids, load, Split};
use crate::train::{factorization_scores, sequence_scores, Scores, TestSettings};
use crate::Failure;

/// The built-in loss a saved model was trained with (the model files name it).
pub(crate) fn saved_loss(dir: &std::path::Path, sequence: bool) -> Result<BuiltinLoss, Failure> {
    let name = if sequence {
        netrex::sequence_persist::saved_sequence_loss_name(dir)?
    } else {
        netrex::persist::saved_loss_name(dir)?
    };
    BuiltinLoss::from_name(&name, None).ok_or_else(|| {
        format!(
            "{}: trained with loss {name:?}, which this netrex does not know",
            dir.display()
        )
        .into()
    })
}

/// Loads the saved factorization model in `dir`.
pub(crate) fn load_factorization(
    dir: &std::path::Path,
) -> Result<(ImplicitFactorizationModel<Hybrid, BuiltinLoss>, Catalog), Failure> {
    Ok(ImplicitFactorizationModel::load(
        dir,
        saved_loss(dir, false)?,
    )?)
}

/// Loads the saved sequence model in `dir`.
pub(crate) fn load_sequence(
    dir: &std::path::Path,
) -> Result<(ImplicitSequenceModel<AnySequence, BuiltinLoss>, Catalog), Failure> {
    Ok(ImplicitSequenceModel::load(dir, saved_loss(dir, true)?)?)
}

/// Runs `netrex evaluate`.
pub(crate) fn evaluate_saved(args: EvaluateArgs) -> Result<(), Failure> {
    let settings = TestSettings {
        threads: args.threads,
        seed: args.seed,
        candidates: None,
    };
    let scores = if netrex::sequence_persist::is_sequence_model(&args.model) {
        if args.plot.is_some() {
            return Err(
                "--plot draws metrics at k of factorization models; this model is a sequence model"
                    .into(),
            );
        }
        let (model, catalog) = load_sequence(&args.model)?;
        let Split { data, parts, .. } = load(&args.data, args.seed, Some(SplitName::User))?;
        check_same_ids(&catalog, &data)?;
        sequence_scores(&model, &parts, &settings, false)?
    } else {
        evaluate_factorization(&args, &settings)?
    };
    if args.json {
        println!("{}", scores.json);
    } else {
        println!("{}", scores.text);
        if let Some(file) = &args.plot {
            println!("chart written to {}", file.display());
        }
    }
    Ok(())
}

fn evaluate_factorization(args: &EvaluateArgs, settings: &TestSettings) -> Result<Scores, Failure> {
    let (model, catalog) = load_factorization(&args.model)?;
    let split = load(&args.data, args.seed, None)?;
    let (data, parts) = (&split.data, &split.parts);
    check_same_ids(&catalog, data)?;
    // a chart needs more cut-offs than the summary
    let config = split.eval_config(if args.plot.is_some() {
        EvalConfig::at(vec![1, 2, 3, 5, 10, 15, 20, 30, 50])
    } else {
        EvalConfig::default()
    });
    let report = netrex::in_pool(settings.threads, || {
        evaluate(&model, &parts.test, Some(&parts.train), &config)
    })??;
    if let Some(file) = &args.plot {
        let title = format!(
            "{}: {} test users",
            args.model.display(),
            report.per_user.len()
        );
        netrex::plot::metrics_at_k(file, &title, &report)?;
    }
    Ok(factorization_scores(&report))
}

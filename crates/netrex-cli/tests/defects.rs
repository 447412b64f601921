//! Command-line behaviour fixed in the restructuring: each defect of issue 12 with the test
//! that shows it gone.

mod support;

use std::time::{Duration, Instant};

// every test here uses synthetic data only
use support::{evaluates_as_fitted, synthetic as netrex, temp};

const MARKOV: &str = "--dataset synthetic-markov --users 40 --items 30 --interactions 2000";

#[test]
fn resume_refuses_options_that_differ_from_the_run_it_finishes() {
    let dir = temp("defects", "resume").display().to_string();
    let run = format!("fit {MARKOV} --split random --dim 8 --epochs 2 --checkpoint-every 1 --json");
    netrex(&format!("{run} --save {dir}")).json();
    let resume = format!("{run} --resume {dir}");
    // an interrupted run (no final model) with the same options: accepted
    std::fs::remove_file(format!("{dir}/model.json")).unwrap();
    netrex(
        &resume
            .replace("--epochs 2", "--epochs 3")
            .replace("--checkpoint-every 1 ", ""),
    )
    .fails_with("--epochs 3 (the run has 2)");
    std::fs::remove_file(format!("{dir}/model.json")).ok();
    netrex(&resume).json();
    std::fs::remove_file(format!("{dir}/model.json")).unwrap();
    // options of the run that differ from the checkpoint's: refused, each named
    for (flag, value) in [
        ("--epochs", "3"),
        ("--device", "cuda"),
        ("--learning-rate", "0.1"),
        ("--lr-schedule", "constant"),
        ("--optimizer", "sgd"),
        ("--loss", "bpr"),
        ("--model", "lstm"),
    ] {
        let mut words: Vec<&str> = resume.split_whitespace().collect();
        match words.iter().position(|a| *a == flag) {
            Some(i) => words[i + 1] = value,
            None => words.extend([flag, value]),
        }
        let changed = netrex(&words.join(" "));
        assert!(!changed.ok, "{flag} {value} was accepted with --resume");
        changed.fails_with("--resume finishes");
        changed.fails_with(flag);
    }
}

#[test]
fn checkpoints_of_resident_tables_are_refused_before_training() {
    let dir = temp("defects", "resident");
    let start = Instant::now();
    let run = netrex(&format!(
        "fit {MARKOV} --model factorization --split random --resident --checkpoint-every 1 \
         --epochs 50 --save {}",
        dir.display()
    ));
    run.fails_with("--checkpoint-every");
    // nothing was trained: no epoch lines, no model, and no time spent
    assert!(
        !run.stderr.contains("epoch") && run.stdout.is_empty(),
        "{}",
        run.stderr
    );
    assert!(!dir.join("model.json").exists());
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn evaluate_scores_a_saved_sequence_model_as_fit_did() {
    let fit = format!("{MARKOV} --model lstm --epochs 2 --dim 8");
    let keys = ["sequence_mrr", "sequence_mrr_excluding_seen", "sampled_mrr"];
    evaluates_as_fitted(&temp("defects", "sequence"), &fit, &keys);
}

#[test]
fn popularity_is_one_model_whatever_the_split() {
    for split in ["user", "random"] {
        let v = netrex(&format!(
            "fit {MARKOV} --model popularity --split {split} --json"
        ))
        .json();
        assert_eq!(v["model"], "popularity", "{split}: {v}");
        assert!(v.get("mrr").is_some() && v.get("auc").is_some(), "{v}");
    }
    // the popularity sequence model has a name of its own
    let v = netrex(&format!(
        "fit {MARKOV} --model sequence-popularity --epochs 1 --json"
    ))
    .json();
    assert!(v.get("sequence_mrr").is_some(), "{v}");
}

#[test]
fn the_default_loss_is_the_one_the_readme_calls_best() {
    let v = netrex(&format!(
        "fit {MARKOV} --split random --epochs 1 --dim 8 --json"
    ))
    .json();
    assert_eq!(v["loss"], "warp", "{v}");
}

#[test]
fn a_markov_chain_too_large_to_draw_is_an_error_not_an_abort() {
    let run = netrex("fit --dataset synthetic-markov --items 2000000 --model lstm");
    run.fails_with("num_items");
    assert!(run.stderr.starts_with("error:"), "{}", run.stderr);
}

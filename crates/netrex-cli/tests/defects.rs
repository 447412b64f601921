//! Command-line behaviour fixed in the restructuring: each defect of issue 12 with the test
//! that shows it gone.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn netrex(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netrex"))
        .args(args)
        .env("NETREX_DATA_DIR", "/nonexistent-netrex-data")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netrex-defects-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

const MARKOV: [&str; 8] = [
    "--dataset",
    "synthetic-markov",
    "--users",
    "40",
    "--items",
    "30",
    "--interactions",
    "2000",
];

#[test]
fn resume_refuses_options_that_differ_from_the_run_it_finishes() {
    let dir = temp("resume");
    let mut run = vec!["fit"];
    run.extend(MARKOV);
    run.extend([
        "--split",
        "random",
        "--dim",
        "8",
        "--epochs",
        "2",
        "--checkpoint-every",
        "1",
        "--json",
    ]);
    let mut first = run.clone();
    first.extend(["--save", dir.to_str().unwrap()]);
    let (ok, _, stderr) = netrex(&first);
    assert!(ok, "{stderr}");
    let mut resume = run.clone();
    resume.extend(["--resume", dir.to_str().unwrap()]);
    // the same options: accepted
    let (ok, _, stderr) = netrex(&resume);
    assert!(ok, "{stderr}");
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
        let mut changed = resume.clone();
        match changed.iter().position(|a| *a == flag) {
            Some(i) => changed[i + 1] = value,
            None => changed.extend([flag, value]),
        }
        let (ok, _, stderr) = netrex(&changed);
        assert!(!ok, "{flag} {value} was accepted with --resume");
        assert!(
            stderr.contains("--resume finishes") && stderr.contains(flag),
            "{flag}: {stderr}"
        );
    }
}

#[test]
fn checkpoints_of_resident_tables_are_refused_before_training() {
    let dir = temp("resident");
    let start = Instant::now();
    let mut args = vec!["fit"];
    args.extend(MARKOV);
    args.extend([
        "--model",
        "factorization",
        "--split",
        "random",
        "--resident",
        "--checkpoint-every",
        "1",
        "--epochs",
        "50",
        "--save",
        dir.to_str().unwrap(),
    ]);
    let (ok, stdout, stderr) = netrex(&args);
    assert!(!ok && stderr.contains("--checkpoint-every"), "{stderr}");
    // nothing was trained: no epoch lines, no model, and no time spent
    assert!(!stderr.contains("epoch") && stdout.is_empty(), "{stderr}");
    assert!(!dir.join("model.json").exists());
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn evaluate_scores_a_saved_sequence_model_as_fit_did() {
    let dir = temp("sequence");
    let mut args = vec!["fit"];
    args.extend(MARKOV);
    args.extend([
        "--model",
        "lstm",
        "--epochs",
        "2",
        "--dim",
        "8",
        "--json",
        "--save",
        dir.to_str().unwrap(),
    ]);
    let (ok, stdout, stderr) = netrex(&args);
    assert!(ok, "{stderr}");
    let fitted = json(&stdout);
    let mut args = vec!["evaluate", "--model", dir.to_str().unwrap()];
    args.extend(MARKOV);
    args.push("--json");
    let (ok, stdout, stderr) = netrex(&args);
    assert!(ok, "{stderr}");
    let evaluated = json(&stdout);
    for key in ["sequence_mrr", "sequence_mrr_excluding_seen", "sampled_mrr"] {
        assert_eq!(evaluated[key], fitted[key], "{key}: {stdout}");
    }
}

#[test]
fn popularity_is_one_model_whatever_the_split() {
    for split in ["user", "random"] {
        let mut args = vec!["fit"];
        args.extend(MARKOV);
        args.extend(["--model", "popularity", "--split", split, "--json"]);
        let (ok, stdout, stderr) = netrex(&args);
        assert!(ok, "{stderr}");
        let v = json(&stdout);
        assert_eq!(v["model"], "popularity", "{split}: {stdout}");
        assert!(v.get("mrr").is_some() && v.get("auc").is_some(), "{stdout}");
    }
    // the popularity sequence model has a name of its own
    let mut args = vec!["fit"];
    args.extend(MARKOV);
    args.extend(["--model", "sequence-popularity", "--epochs", "1", "--json"]);
    let (ok, stdout, stderr) = netrex(&args);
    assert!(ok, "{stderr}");
    assert!(json(&stdout).get("sequence_mrr").is_some(), "{stdout}");
}

#[test]
fn the_default_loss_is_the_one_the_readme_calls_best() {
    let mut args = vec!["fit"];
    args.extend(MARKOV);
    args.extend(["--split", "random", "--epochs", "1", "--dim", "8", "--json"]);
    let (ok, stdout, stderr) = netrex(&args);
    assert!(ok, "{stderr}");
    assert_eq!(json(&stdout)["loss"], "warp", "{stdout}");
}

#[test]
fn a_markov_chain_too_large_to_draw_is_an_error_not_an_abort() {
    let (ok, _, stderr) = netrex(&[
        "fit",
        "--dataset",
        "synthetic-markov",
        "--items",
        "2000000",
        "--model",
        "lstm",
    ]);
    assert!(!ok && stderr.contains("num_items"), "{stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
}

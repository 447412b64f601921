//! The run plan (issue 33): config files and flags give the same run, every check comes before
//! any work, a model folder remembers its plan, and what is wrong with the data is said.

mod support;

use support::{evaluates_as_fitted, netrex, netrex_with, synthetic, temp, Run};

/// `netrex` on a machine faked to have `bytes` of memory.
fn with_memory(bytes: &str, line: &str) -> Run {
    netrex_with(
        &support::data_dir(),
        &[("NETREX_MEMORY_LIMIT", bytes)],
        line,
    )
}

const MARKOV: &str = "--dataset synthetic-markov --users 40 --items 30 --interactions 2000";

fn no_work(run: &Run) {
    assert!(
        run.stdout.is_empty() && !run.stderr.contains("epoch"),
        "work was done: {}",
        run.stderr
    );
}

#[test]
fn runs_too_large_for_the_machine_are_errors_before_any_work() {
    for (line, needle) in [
        (
            format!("fit {MARKOV} --dim 100000000"),
            "the embedding tables",
        ),
        (
            format!("fit {MARKOV} --model lstm --max-len 100000000"),
            "100,000,000 positions",
        ),
        (
            "fit --dataset synthetic-markov --interactions 100000000000".into(),
            "the generated interactions need 2.4 TB",
        ),
        (
            "fit --dataset synthetic-tiled --rows 100000000 --length 100000000".into(),
            "the generated interactions",
        ),
    ] {
        let run = synthetic(&line);
        run.fails_with(needle);
        run.fails_with("available");
        no_work(&run);
    }
}

#[test]
fn the_full_catalog_scores_are_named_on_a_small_machine() {
    let dir = temp("plan", "catalog");
    let file = dir.join("sessions.txt");
    // 4,000 items: their scores at 50 positions of 128 rows outweigh everything else
    let lines: Vec<String> = (0..1000)
        .map(|u| format!("u{u} {u} {} {} {}", u + 1000, u + 2000, u + 3000))
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let line = format!(
        "fit --sequences {} --model gru --max-epochs 1",
        file.display()
    );
    let run = with_memory("100000000", &line);
    run.fails_with("the full-catalog scores need");
    run.fails_with("--negative-sampling per-row or a smaller --batch-size");
    no_work(&run);
}

#[test]
fn threads_beyond_the_machine_are_capped_with_a_warning() {
    let run = synthetic(&format!(
        "fit {MARKOV} --split random --dim 8 --epochs 1 --threads 100000 --json"
    ));
    let v = run.json();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(v["config"]["threads"], cpus);
    assert!(
        run.stderr.contains("is more than this machine's"),
        "{}",
        run.stderr
    );
}

#[test]
fn print_config_fed_back_as_config_is_the_same_run_to_the_bit() {
    let dir = temp("plan", "config");
    let flags =
        format!("fit {MARKOV} --split random --dim 8 --epochs 3 --loss bpr --seed 5 --json");
    let printed = synthetic(&format!("{flags} --print-config"));
    assert!(printed.ok, "{}", printed.stderr);
    let file = dir.join("run.toml");
    std::fs::write(&file, &printed.stdout).unwrap();
    // the resolved plan has every default written in
    for key in [
        "method = \"random\"",
        "learning_rate =",
        "lr_schedule =",
        "dim = 8",
    ] {
        assert!(printed.stdout.contains(key), "{key}: {}", printed.stdout);
    }
    let again = synthetic(&format!("fit --config {} --print-config", file.display()));
    assert_eq!(again.stdout, printed.stdout);
    let by_flags = synthetic(&flags).json();
    let by_file = synthetic(&format!("fit --config {} --json", file.display())).json();
    for key in ["mrr", "auc", "loss_history", "config"] {
        assert_eq!(by_file[key], by_flags[key], "{key}");
    }
    // a flag overrides the file
    let over = synthetic(&format!("fit --config {} --dim 4 --json", file.display())).json();
    assert_eq!(over["config"]["embedding_dim"], 4);
    // a typo in a config file is an error, not a silent default
    std::fs::write(&file, "[training]\ndimm = 8\n").unwrap();
    synthetic(&format!("fit --config {}", file.display())).fails_with("dimm");
}

#[test]
fn a_resume_never_overwrites_a_newer_model() {
    let dir = temp("plan", "stale").display().to_string();
    let base = format!("fit {MARKOV} --split random --epochs 2 --json --save {dir}");
    synthetic(&format!("{base} --dim 8 --checkpoint-every 1")).json();
    synthetic(&format!("{base} --dim 16")).json();
    let before = std::fs::read(format!("{dir}/model.json")).unwrap();
    let run = synthetic(&format!("fit --resume {dir} --json"));
    run.fails_with("from an earlier run than the model saved there");
    run.fails_with("training.dim 16 (the checkpoint's 8)");
    assert_eq!(std::fs::read(format!("{dir}/model.json")).unwrap(), before);
}

#[test]
fn a_finished_run_has_nothing_to_resume_and_a_changed_split_is_refused() {
    let dir = temp("plan", "finished").display().to_string();
    synthetic(&format!(
        "fit {MARKOV} --split random --dim 8 --epochs 2 --checkpoint-every 1 --json --save {dir}"
    ))
    .json();
    synthetic(&format!("fit --resume {dir}")).fails_with("has finished");
    std::fs::remove_file(format!("{dir}/model.json")).unwrap();
    synthetic(&format!("fit --resume {dir} --split user"))
        .fails_with("--split user (the run has random)");
}

#[test]
fn a_checkpoint_whose_counters_disagree_with_its_history_is_refused() {
    let dir = temp("plan", "counters");
    synthetic(&format!(
        "fit {MARKOV} --split random --dim 8 --epochs 3 --checkpoint-every 1 --json --save {}",
        dir.display()
    ))
    .json();
    std::fs::remove_file(dir.join("model.json")).unwrap();
    let file = dir.join("checkpoint/model.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["epochs_trained"] = 1000.into();
    std::fs::write(&file, json.to_string()).unwrap();
    synthetic(&format!("fit --resume {}", dir.display()))
        .fails_with("epochs_trained is 1000 but loss_history holds 3 epochs");
    std::fs::remove_file(dir.join("checkpoint/optimizer.safetensors")).unwrap();
    synthetic(&format!("fit --resume {}", dir.display()))
        .fails_with("optimizer.safetensors is missing");
}

#[test]
fn a_folder_in_use_or_unwritable_is_refused_before_training() {
    let dir = temp("plan", "lock");
    // a live process (this test's parent) holds the folder
    let parent = std::os::unix::process::parent_id();
    std::fs::write(dir.join(".netrex.lock"), parent.to_string()).unwrap();
    let run = synthetic(&format!(
        "fit {MARKOV} --split random --dim 8 --save {}",
        dir.display()
    ));
    run.fails_with("in use by another netrex run");
    no_work(&run);
    let run = synthetic(&format!(
        "fit {MARKOV} --split random --dim 8 --save /proc/netrex-no"
    ));
    run.fails_with("cannot write the model folder");
    no_work(&run);
}

#[test]
fn early_stopping_options_outside_leave_one_out_are_errors() {
    synthetic(&format!(
        "fit {MARKOV} --model gru --split random --max-epochs 1"
    ))
    .fails_with("--max-epochs (stopping.max_epochs)");
}

#[test]
fn diverged_training_says_so() {
    let run = synthetic(&format!(
        "fit {MARKOV} --split random --dim 8 --learning-rate 1e30"
    ));
    run.fails_with("training diverged");
    run.fails_with("lower the learning rate");
}

#[test]
fn test_ids_never_seen_in_training_are_counted_and_left_out() {
    let dir = temp("plan", "unseen");
    let (train, test) = (dir.join("train.csv"), dir.join("test.csv"));
    let rows: Vec<String> = (0..60).map(|k| format!("{},{}", k % 6, k % 10)).collect();
    std::fs::write(&train, format!("\u{feff}user,item\n{}\n", rows.join("\n"))).unwrap();
    std::fs::write(&test, "user,item\n1,3\n2,99\n77,4\n").unwrap();
    let v = synthetic(&format!(
        "fit --csv {} --test-csv {} --loss bpr --dim 4 --epochs 1 --json",
        train.display(),
        test.display()
    ))
    .json();
    // user 77 has no trained row: left out; item 99 trains as a negative: kept, counted
    assert_eq!(v["excluded_test_interactions"], 1);
    assert_eq!(v["unseen_test_items"], 1);
    assert_eq!(v["unseen_test_users"], 1);
}

#[test]
fn bad_feature_weights_and_cold_items_without_features_are_errors() {
    let dir = temp("plan", "weights");
    let data = format!("fit {MARKOV} --split random --dim 4 --epochs 1");
    for (rows, needle) in [
        ("1,a,-1\n", "is not a number in [0, 1e6]"),
        ("1,a,1e38\n", "is not a number in [0, 1e6]"),
        ("1,a,0\n1,b,0\n", "every weight is 0"),
    ] {
        let file = dir.join("f.csv");
        std::fs::write(&file, rows).unwrap();
        synthetic(&format!("{data} --item-features {}", file.display())).fails_with(needle);
    }
    synthetic(&format!("{MARKOV} --split cold-items").replace("--dataset", "fit --dataset"))
        .fails_with("give --item-features");
}

#[test]
fn evaluate_uses_the_model_split_and_refuses_one_that_overlaps_training() {
    let dir = temp("plan", "evaluate").display().to_string();
    let fitted = netrex(&format!(
        "fit --dataset ml-100k --split ua --dim 8 --epochs 1 --json --save {dir}"
    ))
    .json();
    let own = netrex(&format!("evaluate --model {dir} --json")).json();
    assert_eq!(own["mrr"], fitted["mrr"]);
    netrex(&format!(
        "evaluate --model {dir} --dataset ml-100k --split random"
    ))
    .fails_with("shares");
    let cut = format!("{dir}/model.json");
    let text = std::fs::read_to_string(&cut).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["catalog"]["items"]
        .as_array_mut()
        .unwrap()
        .truncate(100);
    std::fs::write(&cut, json.to_string()).unwrap();
    netrex(&format!("recommend --model {dir} --user 1")).fails_with("the catalog names 100 items");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    netrex(&format!("recommend --model {dir} --user 1")).fails_with("truncated");
}

#[test]
fn an_edited_max_len_is_an_error_in_recommend_and_evaluate() {
    let dir = temp("plan", "maxlen").display().to_string();
    synthetic(&format!(
        "fit {MARKOV} --model pool --dim 4 --epochs 1 --json --save {dir}"
    ))
    .json();
    let file = format!("{dir}/model.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["config"]["max_len"] = 1_000_000_000_000u64.into();
    std::fs::write(&file, json.to_string()).unwrap();
    synthetic(&format!("recommend --model {dir} --items 1,2"))
        .fails_with("the encoder's buffers for one history need");
    synthetic(&format!("evaluate --model {dir}")).fails_with("the encoder's buffers");
}

#[test]
fn evaluate_reranks_a_leave_one_out_model_on_its_own_protocol() {
    let fit = format!("{MARKOV} --model pool --split leave-one-out --max-epochs 2 --dim 8");
    let keys = ["hr_at_10", "ndcg_at_10", "mrr", "targets"];
    evaluates_as_fitted(&temp("plan", "loo"), &fit, &keys);
}

//! The session protocol (`--csv TRAIN --test-csv TEST` with a sequence model, cooc or sknn),
//! and BSARec, the default model of next-item data.

mod support;

use support::{evaluates_as_fitted, ring_file, synthetic, temp};

/// Sessions of `len` items walking a ring of 30 items, one step `step` (+1 or -1) at a time,
/// as `user,item,timestamp` rows: `first` is the first session's id.
fn ring_sessions(first: usize, sessions: usize, len: usize, step: i64) -> String {
    let mut text = String::new();
    for s in 0..sessions {
        for j in 0..len {
            let item = (s as i64 * 7 + j as i64 * step).rem_euclid(30) + 1;
            text.push_str(&format!("{},{item},{}\n", first + s, 1000 + j));
        }
    }
    text
}

fn write(name: &str, train: &str, test: &str) -> (String, String) {
    let dir = temp("sessions", name);
    let (a, b) = (dir.join("train.csv"), dir.join("test.csv"));
    std::fs::write(&a, format!("user,item,timestamp\n{train}")).unwrap();
    std::fs::write(&b, format!("user,item,timestamp\n{test}")).unwrap();
    (a.display().to_string(), b.display().to_string())
}

#[test]
fn each_test_sessions_last_item_is_ranked_after_the_rest_of_it() {
    let (train, test) = write(
        "ring",
        &ring_sessions(1, 40, 12, 1),
        &ring_sessions(101, 20, 12, 1),
    );
    let files = format!("--csv {train} --test-csv {test} --timestamp-col timestamp");
    let cooc = synthetic(&format!("fit {files} --model cooc --json")).json();
    assert_eq!(cooc["protocol"], "sessions");
    assert_eq!(cooc["targets"], 20);
    assert_eq!(cooc["validation"]["targets"], 40);
    assert!(cooc["hr_at_10"].as_f64().unwrap() > 0.99, "{cooc}");
    let sknn = synthetic(&format!("fit {files} --model sknn --json")).json();
    assert_eq!(sknn["targets"], 20);
    // a sequence model with no other flag: the next-item defaults, early stopping on each
    // training session's last item
    let sasrec = synthetic(&format!(
        "fit {files} --model sasrec --dim 8 --max-epochs 3 --patience 3 --json"
    ))
    .json();
    assert_eq!(sasrec["protocol"], "sessions");
    assert_eq!(sasrec["loss"], "sampled-softmax");
    assert_eq!(sasrec["config"]["negatives"], "full-catalog");
    assert_eq!(sasrec["config"]["training"]["batch_size"], 128);
    let lr = sasrec["config"]["training"]["learning_rate"]
        .as_f64()
        .unwrap();
    assert!((lr - 1e-3).abs() < 1e-9, "{sasrec}");
    assert_eq!(sasrec["validation_curve"].as_array().unwrap().len(), 3);
    assert!(sasrec["diverged"].is_null(), "{sasrec}");
    // sessions are ordered by time: without the column the run stops and says so
    synthetic(&format!("fit --csv {train} --test-csv {test} --model cooc"))
        .fails_with("--timestamp-col");
}

#[test]
fn test_sessions_are_never_trained_on() {
    // training sessions walk the ring down, test sessions up: only the test sessions hold
    // the step their targets take. Trained on them too, cooc would rank each target second
    // (MRR 0.5); from training sessions alone it has never seen that step.
    let (train, test) = write(
        "apart",
        &ring_sessions(1, 40, 12, -1),
        &ring_sessions(101, 20, 12, 1),
    );
    let cooc = synthetic(&format!(
        "fit --csv {train} --test-csv {test} --timestamp-col timestamp --model cooc --json"
    ))
    .json();
    let mrr = cooc["mrr"].as_f64().unwrap();
    assert!(mrr < 0.4, "{cooc}");
}

#[test]
fn next_item_data_trains_bsarec_by_default_and_it_saves_and_loads() {
    let dir = temp("sessions", "sequences");
    let file = ring_file(&dir, 60, 12, 30);
    let file = file.display();
    let quick = "--dim 8 --max-epochs 2 --patience 2";
    let v = synthetic(&format!("fit --sequences {file} {quick} --json")).json();
    assert_eq!(v["model"], "bsarec", "{v}");
    // a config file that names the kind keeps it
    let config = dir.join("plan.toml");
    std::fs::write(&config, "[model]\nkind = \"gru\"\n").unwrap();
    let v = synthetic(&format!(
        "fit --config {} --sequences {file} {quick} --json",
        config.display()
    ))
    .json();
    assert_eq!(v["model"], "gru", "{v}");
    evaluates_as_fitted(
        &dir.join("model"),
        &format!("--sequences {file} --model bsarec --frequency-cutoff 2 {quick}"),
        &["hr_at_10", "ndcg_at_10", "mrr"],
    );
    synthetic(&format!(
        "fit --sequences {file} --model bsarec --frequency-mix 0"
    ))
    .fails_with("frequency_mix");
}

#[test]
fn fmlp_and_a_learned_bsarec_filter_save_load_and_learn_the_ring() {
    let dir = temp("sessions", "fmlp");
    let file = ring_file(&dir, 60, 12, 30);
    let file = file.display();
    let quick = "--dim 8 --max-epochs 3 --patience 3";
    let popularity = synthetic(&format!("fit --sequences {file} --model popularity --json")).json();
    for (name, model) in [
        ("fmlp", "--model fmlp"),
        ("bsarec", "--model bsarec --frequency-learned"),
    ] {
        let v = synthetic(&format!("fit --sequences {file} {model} {quick} --json")).json();
        assert_eq!(v["model"], name, "{v}");
        // the ring's next item follows from the last one; popularity cannot see it
        assert!(
            v["mrr"].as_f64().unwrap() > 2.0 * popularity["mrr"].as_f64().unwrap(),
            "{v}"
        );
        evaluates_as_fitted(
            &dir.join(name),
            &format!("--sequences {file} {model} {quick}"),
            &["hr_at_10", "ndcg_at_10", "mrr"],
        );
    }
}

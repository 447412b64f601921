//! The `netrex` binary end to end on a small CSV: fit with --json and --save, recommend in raw
//! ids, evaluate the saved model, and clear errors for bad input.

mod support;

use std::path::PathBuf;

use support::{netrex, temp};

fn csv(name: &str) -> (PathBuf, String) {
    let dir = temp("cli", name);
    let mut text = String::from("user,item,ts\n");
    // 30 users with string ids; user k likes items k..k+8 (mod 25) in order
    for u in 0..30 {
        for j in 0..8 {
            text.push_str(&format!("u{u},i{},{}\n", (u + j) % 25, u * 10 + j));
        }
    }
    let path = dir.join("x.csv");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

#[test]
fn fit_save_recommend_evaluate() {
    let (dir, path) = csv("fit");
    let model = dir.join("model").display().to_string();
    let common = format!("--csv {path} --timestamp-col ts --split leave-last");
    let v = netrex(&format!(
        "fit {common} --loss bpr --dim 8 --epochs 2 --batch-size 32 --json --save {model}"
    ))
    .json();
    for key in [
        "mrr",
        "auc",
        "precision_at_10",
        "ndcg_at_10",
        "fit_seconds",
        "epochs",
        "loss_history",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["epochs"], 2);
    assert_eq!(v["loss_history"].as_array().unwrap().len(), 2);

    let v = netrex(&format!("recommend --model {model} --user u3 -k 4 --json")).json();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    // raw ids come back, and the user's training items are left out
    for it in items {
        let id = it["item"].as_str().unwrap();
        assert!(id.starts_with('i'), "{id}");
        let n: usize = id[1..].parse().unwrap();
        assert!(!(3..10).contains(&n), "seen item {id} recommended");
    }

    let run = netrex(&format!("evaluate --model {model} {common} --json"));
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("\"mrr\""));
}

#[test]
fn errors_say_what_is_wrong() {
    let (dir, p) = csv("errors");
    netrex(&format!("fit --csv {p} --loss nope")).fails_with("unknown loss");
    netrex(&format!("fit --csv {p} --user-col who")).fails_with("no column \"who\"");
    netrex(&format!("fit --csv {p} --epochs 0")).fails_with("epochs");
    let absent = dir.join("absent").display().to_string();
    netrex(&format!("recommend --model {absent} --user u1")).fails_with("model.json");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "user,item\nu1,i1\nu2\n").unwrap();
    netrex(&format!("fit --csv {}", bad.display())).fails_with("line 3");
}

#[test]
fn sequence_models_on_synthetic_data() {
    let v = netrex(
        "fit --dataset synthetic-tiled --rows 200 --length 10 --model lstm --epochs 3 --dim 8 \
         --json",
    )
    .json();
    for key in [
        "sequence_mrr",
        "sequence_mrr_excluding_seen",
        "sampled_mrr",
        "fit_seconds",
        "loss_history",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    let v = netrex("fit --dataset synthetic-markov --model cnn --dilations 1,2 --epochs 2 --json")
        .json();
    assert!(v.get("sequence_mrr").is_some(), "{v}");
    let dir = temp("cli", "seq").display().to_string();
    netrex(&format!(
        "fit --dataset synthetic-markov --model lstm --epochs 2 --json --save {dir}"
    ))
    .json();
    let v = netrex(&format!(
        "recommend --model {dir} --items 3,17,42 -k 3 --json"
    ))
    .json();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    netrex(&format!("recommend --model {dir} --items 3,999")).fails_with("unknown item");
    netrex("fit --dataset synthetic-markov --model gru").fails_with("unknown model");
    netrex("fit --dataset synthetic-markov --model cnn --dilations 1,x").fails_with("dilations");
}

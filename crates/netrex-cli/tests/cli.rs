//! The `netrex` binary end to end on a small CSV: fit with --json and --save, recommend in raw
//! ids, evaluate the saved model, and clear errors for bad input.

use std::path::PathBuf;
use std::process::Command;

fn netrex(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netrex"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn csv() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("netrex-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("user,item,ts\n");
    // 30 users with string ids; user k likes items k..k+8 (mod 25) in order
    for u in 0..30 {
        for j in 0..8 {
            text.push_str(&format!("u{u},i{},{}\n", (u + j) % 25, u * 10 + j));
        }
    }
    let path = dir.join("x.csv");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn fit_save_recommend_evaluate() {
    let (dir, path) = csv();
    let model = dir.join("model");
    let common = [
        "--csv",
        path.to_str().unwrap(),
        "--timestamp-col",
        "ts",
        "--split",
        "leave-last",
    ];
    let mut args = vec!["fit"];
    args.extend(common);
    args.extend([
        "--loss",
        "bpr",
        "--dim",
        "8",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--json",
        "--save",
        model.to_str().unwrap(),
    ]);
    let (ok, stdout, stderr) = netrex(&args);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for key in [
        "mrr",
        "auc",
        "precision_at_10",
        "ndcg_at_10",
        "fit_seconds",
        "epochs",
        "loss_history",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {stdout}");
    }
    assert_eq!(v["epochs"], 2);
    assert_eq!(v["loss_history"].as_array().unwrap().len(), 2);

    let (ok, stdout, stderr) = netrex(&[
        "recommend",
        "--model",
        model.to_str().unwrap(),
        "--user",
        "u3",
        "-k",
        "4",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    // raw ids come back, and the user's training items are left out
    for it in items {
        let id = it["item"].as_str().unwrap();
        assert!(id.starts_with('i'), "{id}");
        let n: usize = id[1..].parse().unwrap();
        assert!(!(3..10).contains(&n), "seen item {id} recommended");
    }

    let mut args = vec!["evaluate", "--model", model.to_str().unwrap()];
    args.extend(common);
    args.push("--json");
    let (ok, stdout, stderr) = netrex(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"mrr\""));
}

#[test]
fn errors_say_what_is_wrong() {
    let (dir, path) = csv();
    let p = path.to_str().unwrap();
    let (ok, _, stderr) = netrex(&["fit", "--csv", p, "--loss", "nope"]);
    assert!(!ok && stderr.contains("unknown loss"), "{stderr}");
    let (ok, _, stderr) = netrex(&["fit", "--csv", p, "--user-col", "who"]);
    assert!(!ok && stderr.contains("no column \"who\""), "{stderr}");
    let (ok, _, stderr) = netrex(&["fit", "--csv", p, "--epochs", "0"]);
    assert!(!ok && stderr.contains("epochs"), "{stderr}");
    let (ok, _, stderr) = netrex(&[
        "recommend",
        "--model",
        dir.join("absent").to_str().unwrap(),
        "--user",
        "u1",
    ]);
    assert!(!ok && stderr.contains("model.json"), "{stderr}");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "user,item\nu1,i1\nu2\n").unwrap();
    let (ok, _, stderr) = netrex(&["fit", "--csv", bad.to_str().unwrap()]);
    assert!(!ok && stderr.contains("line 3"), "{stderr}");
}

#[test]
fn sequence_models_on_synthetic_data() {
    let (ok, stdout, stderr) = netrex(&[
        "fit",
        "--dataset",
        "synthetic-tiled",
        "--rows",
        "200",
        "--length",
        "10",
        "--model",
        "lstm",
        "--epochs",
        "3",
        "--dim",
        "8",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for key in [
        "sequence_mrr",
        "sequence_mrr_excluding_seen",
        "sampled_mrr",
        "fit_seconds",
        "loss_history",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {stdout}");
    }
    let (ok, stdout, stderr) = netrex(&[
        "fit",
        "--dataset",
        "synthetic-markov",
        "--model",
        "cnn",
        "--dilations",
        "1,2",
        "--epochs",
        "2",
        "--json",
    ]);
    assert!(ok && stdout.contains("\"sequence_mrr\""), "{stderr}");
    let dir = std::env::temp_dir().join(format!("netrex-cli-seq-{}", std::process::id()));
    let (ok, _, stderr) = netrex(&[
        "fit",
        "--dataset",
        "synthetic-markov",
        "--model",
        "lstm",
        "--epochs",
        "2",
        "--json",
        "--save",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = netrex(&[
        "recommend",
        "--model",
        dir.to_str().unwrap(),
        "--items",
        "3,17,42",
        "-k",
        "3",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let (ok, _, stderr) = netrex(&[
        "recommend",
        "--model",
        dir.to_str().unwrap(),
        "--items",
        "3,999",
    ]);
    assert!(!ok && stderr.contains("unknown item"), "{stderr}");
    let (ok, _, stderr) = netrex(&["fit", "--dataset", "synthetic-markov", "--model", "gru"]);
    assert!(!ok && stderr.contains("unknown model"), "{stderr}");
    let (ok, _, stderr) = netrex(&[
        "fit",
        "--dataset",
        "synthetic-markov",
        "--model",
        "cnn",
        "--dilations",
        "1,x",
    ]);
    assert!(!ok && stderr.contains("dilations"), "{stderr}");
}

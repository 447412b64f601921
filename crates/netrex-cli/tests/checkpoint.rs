//! Checkpoints: a fit killed mid-run and resumed from its last checkpoint ends with the same
//! model and metrics as the uninterrupted run (one thread, same seed); charts are valid SVG.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{data_dir, netrex};

fn temp(name: &str) -> std::path::PathBuf {
    support::temp("ckpt", name)
}

/// ML-100K ua through the dfdx path (slow enough to be killed between epochs), then `extra`.
fn fit_line(extra: &str) -> String {
    format!(
        "fit --dataset ml-100k --split ua --loss bpr --generic --dim 32 --epochs 8 --seed 3 \
         --threads 1 --json {extra}"
    )
}

fn epochs_in_checkpoint(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(netrex::checkpoint_dir(dir)?.join("model.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["epochs_trained"].as_u64()
}

#[test]
fn a_killed_fit_resumes_to_the_same_result() {
    let whole = temp("whole");
    let uninterrupted = netrex(&fit_line(&format!("--save {}", whole.display()))).json();

    let dir = temp("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netrex"))
        .args(
            fit_line(&format!("--checkpoint-every 1 --save {}", dir.display())).split_whitespace(),
        )
        .env("NETREX_DATA_DIR", data_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let killed_after = loop {
        if let Some(epochs) = epochs_in_checkpoint(&dir) {
            if epochs >= 2 {
                break epochs;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the fit ended before it could be interrupted"
        );
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(killed_after < 8, "killed after the last epoch");
    // what the killed process left is a complete checkpoint, not the final model
    assert!(!dir.join("model.json").exists());

    let resumed = netrex(&fit_line(&format!("--resume {}", dir.display()))).json();
    assert_eq!(resumed["epochs"], 8);
    for key in ["mrr", "auc", "precision_at_10", "ndcg_at_10"] {
        assert_eq!(resumed[key], uninterrupted[key], "{key}");
    }
    let tail = resumed["loss_history"].as_array().unwrap();
    let full = uninterrupted["loss_history"].as_array().unwrap();
    assert_eq!(tail.as_slice(), &full[full.len() - tail.len()..]);
    // the resumed model is saved where the checkpoints were, identical to the other one
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn resume_without_a_checkpoint_says_what_to_do() {
    let dir = temp("empty");
    netrex(&fit_line(&format!("--resume {}", dir.display()))).fails_with("--checkpoint-every");
}

/// Tags open and close in order (a small well-formedness check of the SVG).
fn balanced(svg: &str) -> bool {
    let mut open: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else {
            return false;
        };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop().as_deref() != Some(name.trim()) {
                return false;
            }
        } else {
            open.push(tag.split_whitespace().next().unwrap_or("").to_owned());
        }
    }
    open.is_empty()
}

#[test]
fn plots_are_valid_svg() {
    let dir = temp("plots");
    let curve = dir.join("curve.svg");
    let model = dir.join("model");
    let fit = netrex(&format!(
        "fit --dataset ml-100k --split ua --loss bpr --epochs 3 --dim 16 --eval-every 1 \
         --plot {} --save {} --json",
        curve.display(),
        model.display()
    ))
    .json();
    assert_eq!(fit["epochs"], 3);
    let at_k = dir.join("at-k.svg");
    let run = netrex(&format!(
        "evaluate --model {} --dataset ml-100k --split ua --plot {}",
        model.display(),
        at_k.display()
    ));
    assert!(run.ok, "{}", run.stderr);
    for (file, labels) in [
        (&curve, &["epoch", "mean training loss", "test MRR"][..]),
        (&at_k, &["precision", "recall", "NDCG"][..]),
    ] {
        let svg = std::fs::read_to_string(file).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(balanced(&svg), "{} is not well formed", file.display());
        // lines were drawn, with their points
        assert!(svg.matches("<polyline").count() >= 2, "{}", file.display());
        assert!(svg.matches("<circle").count() >= 3, "{}", file.display());
        for label in labels {
            assert!(svg.contains(label), "{} lacks {label}", file.display());
        }
    }
}

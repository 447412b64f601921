//! EASE, iALS and the validation tuner (issue 34) through the command line: the ML-100K floors,
//! a tuner that never reads the test set, model folders, and bad input.

mod support;

use std::path::Path;

use support::{data_dir, netrex, netrex_in, netrex_with, temp};

const MARKOV: &str = "--dataset synthetic-markov --users 40 --items 30 --interactions 2000";

/// ML-100K `ua`, full ranking, train items excluded (the talk's protocol).
#[test]
fn ease_with_a_tuned_lambda_and_ials_reach_their_ml100k_floors() {
    let v = netrex(
        "fit --dataset ml-100k --split ua --model ease --grid l2=200,400,600 --threads 2 --json",
    )
    .json();
    assert!(v["mrr"].as_f64().unwrap() >= 0.123, "{v}");
    assert!(v["ndcg_at_10"].as_f64().unwrap() >= 0.315, "{v}");
    assert_eq!(v["tuning"]["grid"].as_array().unwrap().len(), 3);
    assert!(v["tuning"]["best"]["training.l2"].is_number(), "{v}");
    let v = netrex("fit --dataset ml-100k --split ua --model ials --l2 50 --alpha 5 --epochs 15 --threads 2 --json").json();
    assert!(v["mrr"].as_f64().unwrap() >= 0.115, "{v}");
    let losses: Vec<f64> = v["loss_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_f64().unwrap())
        .collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
}

/// Two test files for the same training file: if the tuner read the test set, its validation
/// scores (or its choice) would change with it.
#[test]
fn the_tuner_never_reads_the_test_set() {
    let dir = temp("linear", "tuner");
    let read = |name: &str| -> Vec<(u32, u32)> {
        std::fs::read_to_string(data_dir().join("ml-100k").join(name))
            .unwrap()
            .lines()
            .map(|l| {
                let mut f = l.split('\t').map(|x| x.parse::<u32>().unwrap());
                (f.next().unwrap(), f.next().unwrap())
            })
            .collect()
    };
    let write = |path: &Path, rows: &[(u32, u32)]| {
        let body: Vec<String> = rows.iter().map(|(u, i)| format!("{u},{i}")).collect();
        std::fs::write(path, format!("user,item\n{}\n", body.join("\n"))).unwrap();
    };
    let (train, test) = (read("ua.base"), read("ua.test"));
    // the second test file: other items for the same users, among the ids training knows (so
    // both runs have the same catalog)
    let mut known: Vec<u32> = train.iter().map(|&(_, i)| i).collect();
    known.sort_unstable();
    known.dedup();
    let test: Vec<(u32, u32)> = test
        .into_iter()
        .filter(|(_, i)| known.binary_search(i).is_ok())
        .collect();
    let other: Vec<(u32, u32)> = test
        .iter()
        .map(|&(u, i)| (u, known[(i as usize * 7 + 3) % known.len()]))
        .collect();
    write(&dir.join("train.csv"), &train);
    write(&dir.join("a.csv"), &test);
    write(&dir.join("b.csv"), &other);
    let run = |test: &str| {
        netrex_in(
            &dir,
            &format!(
                "fit --csv {} --test-csv {} --model ease --grid l2=100,300,900 --threads 2 --json",
                dir.join("train.csv").display(),
                dir.join(test).display()
            ),
        )
        .json()
    };
    let (a, b) = (run("a.csv"), run("b.csv"));
    assert_eq!(
        a["tuning"], b["tuning"],
        "the grid's scores moved with the test file"
    );
    assert_ne!(
        a["mrr"], b["mrr"],
        "the two test files should score differently"
    );
}

#[test]
fn a_saved_linear_model_evaluates_and_recommends_like_the_fit() {
    let dir = temp("linear", "saved");
    let none = Path::new("/nonexistent-netrex-data");
    let run = |line: String| netrex_in(none, &line).json();
    for model in ["ease", "ials", "local-ease"] {
        let folder = dir.join(model).display().to_string();
        let fit = run(format!(
            "fit {MARKOV} --split random --model {model} --dim 8 --epochs 3 --save {folder} --json"
        ));
        let again = run(format!("evaluate --model {folder} --json"));
        for key in ["mrr", "auc", "ndcg_at_10"] {
            assert_eq!(fit[key], again[key], "{model} {key}");
        }
        let recs = run(format!("recommend --model {folder} --user 3 -k 4 --json"));
        assert_eq!(recs["items"].as_array().unwrap().len(), 4, "{recs}");
        let new_user = run(format!(
            "recommend --model {folder} --items 1,2,5 -k 3 --json"
        ));
        let ids: Vec<&str> = new_user["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(!ids.iter().any(|i| ["1", "2", "5"].contains(i)), "{ids:?}");
    }
    // an edited size is refused before anything is allocated
    let json = dir.join("ease").join("model.json");
    let text = std::fs::read_to_string(&json).unwrap();
    let edited = text.replacen("\"num_items\": 30", "\"num_items\": 10000000000", 1);
    assert_ne!(edited, text);
    std::fs::write(&json, edited).unwrap();
    let run = netrex_with(
        Path::new("/nonexistent-netrex-data"),
        &[("NETREX_MEMORY_LIMIT", "8G")],
        &format!("recommend --model {} --user 3", dir.join("ease").display()),
    );
    run.fails_with("EASE's item-item weights");
}

#[test]
fn bad_linear_and_grid_settings_are_errors_before_any_work() {
    let none = Path::new("/nonexistent-netrex-data");
    for (line, needle) in [
        (
            format!("fit {MARKOV} --split random --model ease --l2 0"),
            "positive",
        ),
        (
            format!("fit {MARKOV} --split random --model ease --ease-dropout 1"),
            "dropout",
        ),
        (
            format!("fit {MARKOV} --model ease --split leave-one-out"),
            "not the next item",
        ),
        (
            format!("fit {MARKOV} --split random --model ials --alpha=-1"),
            "alpha",
        ),
        (
            format!("fit {MARKOV} --split random --model ials --checkpoint-every 1 --save /tmp/x"),
            "no epochs",
        ),
        (
            format!("fit {MARKOV} --split random --grid split.method=ua,ub"),
            "stay the run's",
        ),
        (
            format!("fit {MARKOV} --split random --grid nope=1,2"),
            "no key",
        ),
        (
            format!("fit {MARKOV} --split random --grid l2"),
            "key=v1,v2",
        ),
        (format!("fit {MARKOV} --split random --grid dim=8,0"), "dim"),
        (
            format!("fit {MARKOV} --split random --grid l2=1 --validation-fraction 1"),
            "validation_fraction",
        ),
    ] {
        let run = netrex_in(none, &line);
        run.fails_with(needle);
        assert!(run.stdout.is_empty(), "{line}: {}", run.stdout);
    }
}

/// A grid point is set on the plan as given, so defaults that follow the tuned key follow it:
/// the chosen loss trains with its own tuned learning rate (BPR's 0.01, not the default WARP's
/// 0.004).
#[test]
fn defaults_follow_a_tuned_key() {
    let dir = temp("linear", "follow");
    let none = Path::new("/nonexistent-netrex-data");
    let base = format!("fit {MARKOV} --split random --dim 4 --epochs 1");
    let folder = dir.join("m");
    let v = netrex_in(
        none,
        &format!("{base} --grid loss=bpr --save {} --json", folder.display()),
    )
    .json();
    let loss = v["tuning"]["best"]["training.loss"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = netrex_in(none, &format!("{base} --loss {loss} --print-config"));
    assert!(own.ok, "{}", own.stderr);
    let rate = |toml: &str| -> String {
        toml.lines()
            .find(|l| l.starts_with("learning_rate"))
            .unwrap()
            .to_owned()
    };
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("model.json")).unwrap()).unwrap();
    let saved_rate = saved["catalog"]["plan"]["training"]["learning_rate"]
        .as_f64()
        .unwrap();
    assert_eq!(rate(&own.stdout), format!("learning_rate = {saved_rate}"));
}

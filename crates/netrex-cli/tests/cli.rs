//! The `netrex` binary end to end on a small CSV: fit with --json and --save, recommend in raw
//! ids, evaluate the saved model, and clear errors for bad input.

mod support;

use std::path::PathBuf;

use support::{netrex, ring_file, temp};

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

    // a new user, folded in from three items: they are left out, raw ids come back
    let v = netrex(&format!(
        "recommend --model {model} --items i3,i4,i5 -k 4 --json"
    ))
    .json();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for it in items {
        let id = it["item"].as_str().unwrap();
        assert!(
            !["i3", "i4", "i5"].contains(&id),
            "chosen item {id} recommended"
        );
    }
    netrex(&format!("recommend --model {model} --items i3,nope")).fails_with("unknown item");

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
    netrex(&format!(
        "fit --csv {p} --model lstm --negative-sampling nope"
    ))
    .fails_with("unknown negative sampling");
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
    netrex("fit --dataset synthetic-markov --model nope").fails_with("unknown model");
    netrex("fit --dataset synthetic-markov --model cnn --dilations 1,x").fails_with("dilations");
}

/// A sequence file of 60 users walking a ring of 30 items, each starting where its id says.
fn ring_sequences(name: &str) -> String {
    ring_file(&temp("cli", name), 60, 12, 30)
        .display()
        .to_string()
}

#[test]
fn leave_one_out_ranks_next_items_and_stops_early() {
    let file = ring_sequences("loo");
    // the ring is deterministic: the item-to-item baseline finds every next item
    let cooc = netrex(&format!("fit --sequences {file} --model cooc --json")).json();
    assert_eq!(cooc["protocol"], "leave-one-out");
    assert_eq!(cooc["targets"], 60);
    assert!(cooc["hr_at_10"].as_f64().unwrap() > 0.99, "{cooc}");
    assert!(
        cooc["validation"]["ndcg_at_10"].as_f64().unwrap() > 0.99,
        "{cooc}"
    );
    for weights in ["", "--sknn-weights"] {
        let sknn = netrex(&format!(
            "fit --sequences {file} --model sknn {weights} --json"
        ))
        .json();
        assert_eq!(sknn["model"], "sknn");
        assert!(sknn["hr_at_10"].as_f64().unwrap() > 0.99, "{sknn}");
    }
    let v = netrex(&format!(
        "fit --sequences {file} --model pool --dim 8 --negatives 8 --max-epochs 4 --patience 2 \
         --json"
    ))
    .json();
    assert_eq!(v["loss"], "sampled-softmax");
    let epochs = v["epochs"].as_u64().unwrap();
    let best = v["best_epoch"].as_u64().unwrap();
    assert!(epochs <= 4 && best >= 1 && best <= epochs, "{v}");
    assert_eq!(v["epoch_seconds"].as_array().unwrap().len() as u64, epochs);
    for key in ["hr_at_10", "ndcg_at_10", "mrr"] {
        let x = v[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{key} {x}");
    }
    // the protocol refuses what it cannot do, before reading data
    netrex(&format!("fit --sequences {file} --model factorization")).fails_with("sequence model");
    netrex(&format!("fit --sequences {file} --model lstm --patience 0")).fails_with("patience");
    netrex("fit --dataset synthetic-markov --model cooc --split user").fails_with("leave-one-out");
    netrex("fit --dataset synthetic-markov --model sknn --split user").fails_with("leave-one-out");
    netrex(&format!(
        "fit --sequences {file} --model sknn --neighbours 0"
    ))
    .fails_with("neighbours");
}

#[test]
fn leave_one_out_trains_the_same_on_the_device_path() {
    let file = ring_sequences("loo-device");
    // the whole catalog (30 items) is the softmax: fewer items than the 256 sampled default
    let run = |extra: &str| {
        netrex(&format!(
            "fit --sequences {file} --model sasrec --dim 8 --max-epochs 3 --patience 3 --json \
             {extra}"
        ))
        .json()
    };
    let (kernel, device) = (run(""), run("--resident"));
    assert_eq!(kernel["host_kernel"], true);
    assert_eq!(device["host_kernel"], false);
    let losses = |v: &serde_json::Value| -> Vec<f64> {
        v["loss_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for (a, b) in losses(&kernel).iter().zip(losses(&device)) {
        assert!((a - b).abs() < 1e-4, "{kernel} vs {device}");
    }
    assert_eq!(kernel["best_epoch"], device["best_epoch"]);
    assert!(kernel["diverged"].is_null(), "{kernel}");
    #[cfg(not(feature = "cuda"))]
    netrex("fit --sequences /no/such/file --model sasrec --device cuda")
        .fails_with("built without CUDA");
}

#[test]
fn the_learning_rate_decays_on_each_validation_plateau() {
    let file = ring_sequences("loo-decay");
    let run = |extra: &str| {
        netrex(&format!(
            "fit --sequences {file} --model sasrec --dim 8 --max-epochs 8 --patience 8 \
             --learning-rate 0.03 --json {extra}"
        ))
        .json()
    };
    let (plain, decayed) = (run(""), run("--lr-decay-patience 1 --lr-decay-factor 0.5"));
    // the decays the rule gives for this run's validation curve: after every epoch that is
    // not a new best, counted from the best epoch or the last decay
    let curve = decayed["validation_curve"].as_array().unwrap();
    let (mut best, mut since, mut expected) = (f64::NEG_INFINITY, 0, Vec::new());
    for point in curve {
        let (epoch, score) = (point[0].as_u64().unwrap(), point[1].as_f64().unwrap());
        if score > best {
            (best, since) = (score, epoch);
        }
        if epoch > since {
            since = epoch;
            expected.push((epoch, 0.03 * 0.5f64.powi(expected.len() as i32 + 1)));
        }
    }
    let decays: Vec<(u64, f64)> = decayed["learning_rate_decays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d[0].as_u64().unwrap(), d[1].as_f64().unwrap()))
        .collect();
    assert!(!decays.is_empty(), "no plateau in {curve:?}");
    assert_eq!(decays.len(), expected.len(), "{decays:?} vs {expected:?}");
    for ((e, rate), (f, want)) in decays.iter().zip(&expected) {
        assert_eq!(e, f);
        assert!((rate - want).abs() < 1e-6 * want, "{rate} vs {want}");
    }
    // the same training up to the first decay, another one after it
    let losses = |v: &serde_json::Value| -> Vec<f64> {
        let history = v["loss_history"].as_array().unwrap();
        history.iter().map(|x| x.as_f64().unwrap()).collect()
    };
    let first = decays[0].0 as usize;
    let (a, b) = (losses(&plain), losses(&decayed));
    assert_eq!(a[..first], b[..first]);
    assert_ne!(a[first..], b[first..]);
    assert!(plain.get("learning_rate_decays").is_none());
    netrex(&format!(
        "fit --sequences {file} --model sasrec --lr-decay-patience 2 --lr-decay-factor 1.5"
    ))
    .fails_with("lr_decay_factor");
    netrex("fit --dataset synthetic-tiled --model lstm --lr-decay-patience 2")
        .fails_with("--lr-decay-patience (stopping.lr_decay_patience): early stopping runs on");
}

#[test]
fn ml_1m_leave_one_out_keeps_movies_with_five_ratings() {
    // ML-1M's format (UserID::MovieID::Rating::Timestamp): movie 99 has 3 ratings, dropped
    let dir = temp("cli", "ml1m");
    let folder = dir.join("ml-1m");
    std::fs::create_dir_all(&folder).unwrap();
    let mut text = String::new();
    for u in 1..=8 {
        for (t, m) in [1, 2, 3, 4].iter().enumerate() {
            text.push_str(&format!("{u}::{m}::4::{}\n", 1000 * u + t));
        }
        if u <= 3 {
            text.push_str(&format!("{u}::99::5::{}\n", 1000 * u + 9));
        }
    }
    std::fs::write(folder.join("ratings.dat"), text).unwrap();
    let v = netrex(&format!(
        "fit --dataset ml-1m --data-dir {} --split leave-one-out --model popularity --json",
        dir.display()
    ))
    .json();
    assert_eq!(
        (v["targets"].as_u64(), v["items"].as_u64()),
        (Some(8), Some(4)),
        "{v}"
    );
    // the literature's filter is the default for ml-1m only; it can be set
    let all = netrex(&format!(
        "fit --dataset ml-1m --data-dir {} --split leave-one-out --model popularity \
         --min-item-interactions 1 --json",
        dir.display()
    ))
    .json();
    assert_eq!(all["items"], 5, "{all}");
}

#[test]
fn hybrid_cold_items_fit_save_and_score_new_items_from_features() {
    let (dir, path) = csv("hybrid");
    // items i0..i24 in five groups; a feature row names each item's group and parity
    let mut features = String::from("item,feature\n");
    for i in 0..25 {
        features.push_str(&format!("i{i},group:{}\ni{i},parity:{}\n", i % 5, i % 2));
    }
    let file = dir.join("features.csv");
    std::fs::write(&file, features).unwrap();
    let cold = dir.join("cold.txt");
    std::fs::write(&cold, "# held out\ni3\ni17\ni20\n").unwrap();
    let model = dir.join("model").display().to_string();
    let (file, cold) = (file.display().to_string(), cold.display().to_string());
    let common =
        format!("--csv {path} --split cold-items --cold-items {cold} --item-features {file}");
    let v = netrex(&format!(
        "fit {common} --loss bpr --dim 8 --epochs 2 --batch-size 32 --json --save {model}"
    ))
    .json();
    assert_eq!(v["model"], "hybrid factorization");
    // every user who had a cold item is tested, on the three cold items alone: no rank is
    // worse than 3
    let tested = (0..30)
        .filter(|u| (0..8).any(|j| [3, 17, 20].contains(&((u + j) % 25))))
        .count();
    assert_eq!(v["test_users"].as_u64().unwrap() as usize, tested, "{v}");
    assert!(v["mrr"].as_f64().unwrap() >= 1.0 / 3.0 - 1e-9, "{v}");
    let run = netrex(&format!("evaluate --model {model} {common} --json"));
    assert!(run.ok, "{}", run.stderr);

    // a new item given by its features is ranked; --new-only ranks new items alone
    let new = dir.join("new.csv");
    std::fs::write(&new, "i99,group:2\ni99,parity:1\ni3,group:0\n").unwrap();
    let new = new.display().to_string();
    let v = netrex(&format!(
        "recommend --model {model} --user u1 --item-features {new} --new-only --json"
    ))
    .json();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["item"], "i99");

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "i98,colour:red\n").unwrap();
    netrex(&format!(
        "recommend --model {model} --user u1 --item-features {}",
        bad.display()
    ))
    .fails_with("unknown feature colour:red");
    netrex(&format!("fit --csv {path} --cold-items {cold}")).fails_with("--split cold-items");
    netrex(&format!("fit --csv {path} --with-ids")).fails_with("--item-features");
    // users made of features: a new user known by features alone gets recommendations
    let users = dir.join("users.csv");
    let mut text = String::from("user,feature\n");
    for u in 0..30 {
        text.push_str(&format!("u{u},start:{}\n", u % 25 / 5));
    }
    std::fs::write(&users, text).unwrap();
    let users = users.display().to_string();
    let by_users = dir.join("by-users").display().to_string();
    netrex(&format!(
        "fit --csv {path} --user-features {users} --loss bpr --dim 8 --epochs 2 --json \
         --save {by_users}"
    ))
    .json();
    let visitor = dir.join("visitor.csv");
    std::fs::write(&visitor, "u99,start:2\n").unwrap();
    let visitor = visitor.display().to_string();
    let v = netrex(&format!(
        "recommend --model {by_users} --user u99 --user-features {visitor} -k 4 --json"
    ))
    .json();
    assert_eq!(v["items"].as_array().unwrap().len(), 4, "{v}");
    netrex(&format!(
        "recommend --model {model} --user u99 --user-features {visitor}"
    ))
    .fails_with("this model has no user features");

    // a sequence model's items made of ids and features: fit, save, recommend from a history
    let seq = dir.join("seq").display().to_string();
    let v = netrex(&format!(
        "fit --csv {path} --model lstm --item-features {file} --with-ids items --split user \
         --epochs 2 --dim 8 --json --save {seq}"
    ))
    .json();
    assert!(v["sequence_mrr"].as_f64().unwrap() > 0.0, "{v}");
    let v = netrex(&format!(
        "recommend --model {seq} --items i1,i2 -k 3 --json"
    ))
    .json();
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
    netrex(&format!(
        "recommend --model {seq} --items i1 --item-features {new}"
    ))
    .fails_with("a sequence model ranks the items it was trained with");
    netrex(&format!(
        "fit --csv {path} --model lstm --user-features {file} --split user"
    ))
    .fails_with("give it --item-features");
    netrex(&format!(
        "fit --csv {path} --model lstm --item-features {file} --split leave-one-out"
    ))
    .fails_with("the leave-one-out protocol and popularity do not read features");
    netrex(&format!("fit --csv {path} --item-features movielens")).fails_with("MovieLens release");
}

/// The rows of a float32 `.npy` file written by `netrex export`, and their width.
fn read_npy(path: &std::path::Path) -> (Vec<f32>, usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "the header pads the data to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    let shape = header.split("'shape': (").nth(1).unwrap();
    let width: usize = shape
        .split(", ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let values = bytes[10 + len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (values, width)
}

#[test]
fn export_writes_vectors_whose_inner_product_is_the_score() {
    let (dir, path) = csv("export");
    let (model, out) = (dir.join("model"), dir.join("vectors"));
    netrex(&format!(
        "fit --csv {path} --timestamp-col ts --split leave-last --loss bpr --dim 8 --epochs 2 \
         --json --save {}",
        model.display()
    ))
    .json();
    let printed = netrex(&format!(
        "export --model {} --out {}",
        model.display(),
        out.display()
    ));
    assert!(
        printed.ok && printed.stdout.contains("30 users and 25 items"),
        "{}",
        printed.stderr
    );
    let (users, width) = read_npy(&out.join("users.npy"));
    let (items, item_width) = read_npy(&out.join("items.npy"));
    assert_eq!(
        (width, item_width, users.len(), items.len()),
        (10, 10, 300, 250)
    );
    let ids = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let (user_ids, item_ids) = (ids("user_ids.txt"), ids("item_ids.txt"));
    let row_of = |ids: &str, id: &str| ids.lines().position(|l| l == id).unwrap();
    let u = row_of(&user_ids, "u3");
    let v = netrex(&format!(
        "recommend --model {} --user u3 -k 5 --json",
        model.display()
    ))
    .json();
    for it in v["items"].as_array().unwrap() {
        let i = row_of(&item_ids, it["item"].as_str().unwrap());
        let (p, q) = (&users[u * 10..(u + 1) * 10], &items[i * 10..(i + 1) * 10]);
        let dot: f32 = p.iter().zip(q).map(|(a, b)| a * b).sum();
        let score = it["score"].as_f64().unwrap() as f32;
        assert!((dot - score).abs() < 1e-4, "{it}: {dot}");
    }
    // the same rows and ids as Parquet (columns `id` and `vector`)
    let parquet = dir.join("parquet");
    let (from, to) = (model.display(), parquet.display());
    let exported = netrex(&format!(
        "export --model {from} --out {to} --format parquet"
    ));
    assert!(exported.ok, "{}", exported.stderr);
    for (file, ids, rows) in [
        ("users.parquet", &user_ids, &users),
        ("items.parquet", &item_ids, &items),
    ] {
        use polars::prelude::*;
        let frame = ParquetReader::new(std::fs::File::open(parquet.join(file)).unwrap())
            .finish()
            .unwrap();
        let got: Vec<String> = frame
            .column("id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_owned())
            .collect();
        assert_eq!(got, ids.lines().collect::<Vec<_>>());
        let vectors = frame.column("vector").unwrap().list().unwrap().get_inner();
        let flat: Vec<f32> = vectors.f32().unwrap().iter().map(Option::unwrap).collect();
        assert_eq!(&flat, rows);
    }
    let (model_dir, out_dir) = (dir.display(), out.display());
    netrex(&format!("export --model {model_dir} --out {out_dir}")).fails_with("model.json");
    // items like i3: cosines (or inner products) of the exported item rows, i3 left out
    let i3 = row_of(&item_ids, "i3");
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    for (how, cosine) in [("cosine", true), ("dot", false)] {
        let line = format!("recommend --model {} --similar-to i3 -k 4", model.display());
        let found = netrex(&format!("{line} --similarity {how} --json")).json();
        let found = found["items"].as_array().unwrap();
        assert_eq!(found.len(), 4);
        for it in found {
            assert_ne!(it["item"], "i3");
            let i = row_of(&item_ids, it["item"].as_str().unwrap());
            let (p, q) = (&items[i3 * 10..i3 * 10 + 8], &items[i * 10..i * 10 + 8]);
            let dot: f32 = p.iter().zip(q).map(|(a, b)| a * b).sum();
            let expected = if cosine {
                dot / (norm(p) * norm(q))
            } else {
                dot
            };
            let score = it["score"].as_f64().unwrap() as f32;
            assert!((score - expected).abs() < 1e-4, "{how} {it}: {expected}");
        }
    }
    let unknown = format!("recommend --model {} --similar-to nope", model.display());
    netrex(&unknown).fails_with("nope");
}

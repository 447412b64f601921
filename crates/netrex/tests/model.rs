//! Behaviour of the factorization model on small synthetic data: determinism, continued
//! training, save/load, a custom loss, and typed errors for bad input.

mod common;

use common::{temp, zipf_data, Custom};
use netrex::data::Interactions;
use netrex::prelude::Bilinear;
use netrex::prelude::*;

fn data() -> Interactions {
    zipf_data(60, 40, 3000, 3)
}

/// The data and a bilinear model trained on it with `loss`.
fn fitted<L: Loss>(loss: L) -> (Interactions, ImplicitFactorizationModel<Bilinear, L>) {
    let x = data();
    let mut m = ImplicitFactorizationModel::bilinear(config(), 60, 40, loss).unwrap();
    m.fit(&x).unwrap();
    (x, m)
}

fn config() -> TrainingConfig {
    TrainingConfig::builder()
        .embedding_dim(8)
        .epochs(3)
        .batch_size(256)
        .learning_rate(0.01)
        .seed(7)
        .config()
}

#[test]
fn same_seed_same_model() {
    let x = data();
    let fit = || {
        let mut m =
            ImplicitFactorizationModel::bilinear(config(), 60, 40, AdaptiveHinge::default())
                .unwrap();
        let r = m.fit(&x).unwrap();
        (m.representation().clone(), r.loss_history)
    };
    let (a, la) = fit();
    let (b, lb) = fit();
    assert_eq!(a, b);
    assert_eq!(la, lb);
    let other = TrainingConfig {
        seed: 8,
        ..config()
    };
    let mut m =
        ImplicitFactorizationModel::bilinear(other, 60, 40, AdaptiveHinge::default()).unwrap();
    m.fit(&x).unwrap();
    assert_ne!(m.representation(), &a);
}

#[test]
fn second_fit_continues() {
    let x = data();
    let mut m = ImplicitFactorizationModel::bilinear(config(), 60, 40, Bpr::default()).unwrap();
    let first = m.fit(&x).unwrap();
    let second = m.fit(&x).unwrap();
    assert_eq!(m.epochs_trained(), 6);
    assert_eq!(m.loss_history().len(), 6);
    assert!(
        second.loss_history[2] < first.loss_history[0],
        "{first:?} {second:?}"
    );
}

#[test]
fn save_load_round_trip() {
    let (x, m) = fitted(Warp::default());
    let dir = temp("roundtrip");
    let catalog = Catalog {
        seen: Some(x.histories()),
        ..Catalog::default()
    };
    m.save(&dir, &catalog).unwrap();
    let (back, cat) =
        ImplicitFactorizationModel::<Bilinear, Warp>::load(&dir, Warp::default()).unwrap();
    let items: Vec<u32> = (0..40).collect();
    for u in 0..60 {
        assert_eq!(
            m.predict(u, &items).unwrap(),
            back.predict(u, &items).unwrap()
        );
    }
    assert_eq!(back.epochs_trained(), 3);
    assert_eq!(cat.seen.unwrap(), x.histories());
    // no temporary files left behind
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn corrupt_or_mismatched_files_are_errors() {
    let (_, m) = fitted(Bpr::default());
    let dir = temp("corrupt");
    m.save(&dir, &Catalog::default()).unwrap();
    let load = || ImplicitFactorizationModel::<Bilinear, Bpr>::load(&dir, Bpr::default());

    let tensors = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &tensors[..tensors.len() / 2]).unwrap();
    assert!(matches!(load(), Err(NetrexError::ModelFile { .. })));
    std::fs::write(dir.join("model.safetensors"), &tensors).unwrap();
    assert!(load().is_ok());

    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    std::fs::write(dir.join("model.json"), &json[..json.len() / 3]).unwrap();
    assert!(matches!(load(), Err(NetrexError::ModelFile { .. })));
    // the JSON claims a different table shape than the tensors hold
    std::fs::write(
        dir.join("model.json"),
        json.replacen("\"cols\": 8", "\"cols\": 9", 1),
    )
    .unwrap();
    let err = load().err().expect("mismatch must fail");
    assert!(matches!(err, NetrexError::ModelFile { .. }), "{err}");
    std::fs::write(
        dir.join("model.json"),
        json.replace("netrex-factorization", "something-else"),
    )
    .unwrap();
    assert!(matches!(load(), Err(NetrexError::ModelFile { .. })));
    let missing =
        ImplicitFactorizationModel::<Bilinear, Bpr>::load(temp("nothing-here"), Bpr::default());
    assert!(matches!(missing, Err(NetrexError::Io { .. })));
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut m =
        ImplicitFactorizationModel::bilinear(config(), 60, 40, AdaptiveHinge::default()).unwrap();
    assert!(matches!(
        m.predict(60, &[0]),
        Err(NetrexError::UnknownId { kind: "user", .. })
    ));
    assert!(matches!(
        m.predict(0, &[40]),
        Err(NetrexError::UnknownId { kind: "item", .. })
    ));
    assert!(matches!(
        m.recommend(99, 5, &[]),
        Err(NetrexError::UnknownId { .. })
    ));
    let empty = Interactions::new(vec![], vec![], 60, 40).unwrap();
    assert!(matches!(m.fit(&empty), Err(NetrexError::Data(_))));
    let wrong = Interactions::new(vec![0], vec![0], 60, 41).unwrap();
    assert!(matches!(m.fit(&wrong), Err(NetrexError::Training(_))));
    let mut few =
        ImplicitFactorizationModel::bilinear(config(), 2, 3, AdaptiveHinge::default()).unwrap();
    let tiny = Interactions::new(vec![0], vec![0], 2, 3).unwrap();
    let err = few.fit(&tiny).unwrap_err();
    assert!(err.to_string().contains("negatives"), "{err}");
    assert!(TrainingConfig::builder()
        .learning_rate(f32::NAN)
        .build()
        .is_err());
    assert!(TrainingConfig::builder().batch_size(0).build().is_err());
}

#[test]
fn custom_loss_trains() {
    let x = data();
    let mut m =
        ImplicitFactorizationModel::bilinear(config(), 60, 40, Custom::SquaredGap { negatives: 2 })
            .unwrap();
    let r = m.fit(&x).unwrap();
    assert!(
        r.loss_history[2] < r.loss_history[0],
        "{:?}",
        r.loss_history
    );
}

#[test]
fn nan_loss_stops_training_with_its_place() {
    let mut m = ImplicitFactorizationModel::bilinear(config(), 60, 40, Custom::Broken).unwrap();
    match m.fit(&data()) {
        Err(NetrexError::NonFiniteLoss {
            epoch: 1, batch: 1, ..
        }) => {}
        other => panic!(
            "expected a NaN loss error at epoch 1 batch 1, got {:?}",
            other.map(|r| r.loss_history)
        ),
    }
}

#[test]
fn a_nan_parameter_stops_per_example_sgd_at_the_first_positive() {
    let config = netrex::TrainingConfigBuilder::from(config())
        .batch_size(1)
        .optimizer(netrex::OptimizerKind::Sgd)
        .build()
        .unwrap();
    let mut m = ImplicitFactorizationModel::bilinear(config, 60, 40, Hinge::default()).unwrap();
    assert!(m.uses_per_example_sgd());
    // item biases: table 3 of the bilinear layout
    m.representation_mut().tables_mut()[3]
        .data_mut()
        .fill(f32::NAN);
    match m.fit(&data()) {
        // every positive is a batch of its own
        Err(NetrexError::NonFiniteLoss {
            epoch: 1,
            batch: 1,
            value,
        }) => assert!(value.is_nan()),
        other => panic!(
            "expected a NaN loss error at epoch 1 batch 1, got {:?}",
            other.map(|r| r.loss_history)
        ),
    }
}

#[test]
fn recommend_leaves_out_seen_items() {
    let (x, m) = fitted(Bpr::default());
    let seen = x.histories();
    let recs = m.recommend(0, 10, seen.get(0)).unwrap();
    assert_eq!(recs.len(), 10);
    assert!(recs.iter().all(|(i, _)| !seen.get(0).contains(i)));
    assert!(recs.windows(2).all(|w| w[0].1 >= w[1].1));
}

//! Sequence models: save -> load gives identical predictions for every kind; mismatched or
//! corrupt files are errors; recommend validates ids and leaves out the history.

mod common;

use common::markov_data;
use netrex::evaluation::SequenceScorer;
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn data() -> Interactions {
    markov_data()
}

fn config() -> SequenceConfig {
    SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(6)
            .epochs(2)
            .batch_size(8)
            .learning_rate(0.01)
            .seed(3)
            .config(),
        max_len: 8,
        negatives: NegativeSampling::PerPosition,
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("netrex-seq-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn kinds() -> Vec<AnySequence> {
    let rng = || StdRng::seed_from_u64(0);
    vec![
        AnySequence::Popularity(SequencePopularity::new(15, &mut rng()).unwrap()),
        AnySequence::Pooling(Pooling::new(15, 6, true, &mut rng()).unwrap()),
        AnySequence::Pooling(Pooling::new(15, 6, false, &mut rng()).unwrap()),
        AnySequence::Lstm(Lstm::new(15, 6, &mut rng()).unwrap()),
        AnySequence::Cnn(CausalCnn::new(15, 6, 2, &[1, 2], true, &mut rng()).unwrap()),
    ]
}

#[test]
fn save_load_gives_identical_predictions() {
    let x = data();
    for (k, representation) in kinds().into_iter().enumerate() {
        let mut model = ImplicitSequenceModel::new(
            config(),
            representation,
            BuiltinLoss::from_name("bpr", None).unwrap(),
        )
        .unwrap();
        model.fit(&x).unwrap();
        let dir = temp(&format!("roundtrip{k}"));
        model.save(&dir, &Catalog::default()).unwrap();
        let (back, _) = ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(
            &dir,
            BuiltinLoss::from_name("bpr", None).unwrap(),
        )
        .unwrap();
        for history in [vec![], vec![3], vec![1, 4, 2, 9, 0, 14, 7, 7, 3, 5]] {
            let (mut a, mut b) = (vec![0.0; 15], vec![0.0; 15]);
            model.score_next(&history, &mut a);
            back.score_next(&history, &mut b);
            assert_eq!(a, b, "{}", model.representation().name());
        }
        assert_eq!(back.epochs_trained(), 2);
    }
}

/// The LSTM of [`kinds`] trained with BPR.
fn fitted_lstm() -> ImplicitSequenceModel<AnySequence, BuiltinLoss> {
    let bpr = BuiltinLoss::from_name("bpr", None).unwrap();
    let mut model = ImplicitSequenceModel::new(config(), kinds().remove(3), bpr).unwrap();
    model.fit(&data()).unwrap();
    model
}

#[test]
fn mismatched_or_corrupt_files_are_errors() {
    let model = fitted_lstm();
    let dir = temp("corrupt");
    model.save(&dir, &Catalog::default()).unwrap();
    let load = || {
        ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(
            &dir,
            BuiltinLoss::from_name("bpr", None).unwrap(),
        )
    };
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    // an LSTM's tables read as a CNN
    std::fs::write(
        dir.join("model.json"),
        json.replace(
            "\"kind\": \"lstm\"",
            "\"kind\": \"cnn\", \"kernel_width\": 2, \"dilations\": [1], \"residual\": true",
        ),
    )
    .unwrap();
    assert!(matches!(load(), Err(NetrexError::ModelFile { .. })));
    std::fs::write(dir.join("model.json"), &json[..json.len() / 2]).unwrap();
    assert!(matches!(load(), Err(NetrexError::ModelFile { .. })));
    std::fs::write(dir.join("model.json"), &json).unwrap();
    let tensors = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &tensors[..tensors.len() - 7]).unwrap();
    assert!(matches!(load(), Err(NetrexError::ModelFile { .. })));
}

#[test]
fn recommend_validates_and_excludes_the_history() {
    let model = fitted_lstm();
    let recs = model.recommend(&[1, 2, 3], 5, true).unwrap();
    assert_eq!(recs.len(), 5);
    assert!(recs.iter().all(|(i, _)| ![1, 2, 3].contains(i)));
    assert!(matches!(
        model.recommend(&[15], 5, true),
        Err(NetrexError::UnknownId { kind: "item", .. })
    ));
    let scores = model.predict(&[1, 2, 3]).unwrap();
    assert_eq!(scores.len(), 15);
    assert!(scores.iter().all(|s| s.is_finite()));
    assert!(matches!(
        model.predict(&[99]),
        Err(NetrexError::UnknownId { .. })
    ));
}

//! Sequence models: save -> load gives identical predictions for every kind; mismatched or
//! corrupt files are errors; recommend validates ids and leaves out the history.

mod common;

use common::{markov_data, sequence_config, temp};
use netrex::evaluation::SequenceScorer;
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn data() -> Interactions {
    markov_data()
}

fn config() -> SequenceConfig {
    sequence_config((6, 2, 8), 0.01, 3, 8)
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

#[test]
fn a_sequence_model_resumes_from_its_checkpoint_to_the_same_model() {
    let x = data();
    let mut config = sequence_config((6, 4, 8), 0.01, 3, 8);
    config.training.lr_schedule = LearningRateSchedule::Linear;
    let build = || {
        let mut rng = StdRng::seed_from_u64(4);
        let lstm = AnySequence::Lstm(Lstm::new(15, 6, &mut rng).unwrap());
        ImplicitSequenceModel::new(
            config.clone(),
            lstm,
            BuiltinLoss::from_name("bpr", None).unwrap(),
        )
        .unwrap()
    };
    let mut whole = build();
    whole.fit(&x).unwrap();

    let dir = temp("checkpoint");
    let catalog = Catalog::default();
    let mut first = build();
    // stop after two epochs, as a crash would, once the checkpoint is written
    let stopped = first.fit_with(&x, &mut |m, end| {
        if end.epoch == 2 {
            m.save_checkpoint(&dir, &catalog)?;
            return Err(NetrexError::Training("interrupted".into()));
        }
        Ok(())
    });
    assert!(stopped.is_err());
    let (mut resumed, _) = ImplicitSequenceModel::<AnySequence, _>::load_checkpoint(
        &dir,
        BuiltinLoss::from_name("bpr", None).unwrap(),
    )
    .unwrap();
    assert_eq!(resumed.epochs_trained(), 2);
    let report = resumed.resume_with(&x, &mut |_, _| Ok(())).unwrap();
    assert_eq!(report.loss_history.len(), 2);
    assert_eq!(resumed.epochs_trained(), 4);
    assert_eq!(resumed.representation(), whole.representation());
    assert_eq!(resumed.loss_history(), whole.loss_history());
}

#[test]
fn resident_tables_refuse_to_checkpoint() {
    let config = TrainingConfig::builder()
        .embedding_dim(4)
        .fused(false)
        .build()
        .unwrap();
    let model = ImplicitFactorizationModel::bilinear(config, 3, 4, Bpr::default())
        .unwrap()
        .with_resident_tables(true);
    let err = model
        .save_checkpoint(&temp("resident"), &Catalog::default())
        .unwrap_err();
    assert!(err.to_string().contains("--resident"), "{err}");
}

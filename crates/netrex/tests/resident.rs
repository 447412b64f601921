//! Tables resident on the device (the GPU path), run here on dfdx's CPU device: training with
//! them follows the row-wise host path (SGD: the same updates up to rounding; Adam: the same
//! lazy rule), for factorization and for every sequence representation.

mod common;

use common::{markov_data, worst_difference, zipf_data};
use netrex::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn training(optimizer: OptimizerKind, lr: f32) -> TrainingConfig {
    TrainingConfig::builder()
        .embedding_dim(8)
        .epochs(2)
        .batch_size(64)
        .learning_rate(lr)
        .optimizer(optimizer)
        .fused(false)
        .seed(5)
        .config()
}

#[test]
fn resident_factorization_follows_the_host_path() {
    let x = zipf_data(40, 30, 1500, 2);
    for (optimizer, lr, tolerance) in [
        (OptimizerKind::Sgd, 0.05, 1e-4),
        (OptimizerKind::Adagrad, 0.05, 1e-2),
        (OptimizerKind::Adam, 0.01, 2e-2),
    ] {
        let fit = |resident: bool| {
            let mut m = ImplicitFactorizationModel::bilinear(
                training(optimizer, lr),
                40,
                30,
                Bpr::default(),
            )
            .unwrap()
            .with_resident_tables(resident);
            assert_eq!(m.uses_resident_tables(), resident);
            let report = m.fit(&x).unwrap();
            (m, report.loss_history)
        };
        let (host, host_loss) = fit(false);
        let (resident, resident_loss) = fit(true);
        for (a, b) in host_loss.iter().zip(&resident_loss) {
            assert!((a - b).abs() < 1e-3, "{optimizer:?}: loss {a} vs {b}");
        }
        let worst = worst_difference(
            host.representation().tables(),
            resident.representation().tables(),
        );
        assert!(
            worst < tolerance,
            "{optimizer:?}: parameters differ by {worst}"
        );
    }
}

#[test]
fn resident_sequence_models_follow_the_host_path() {
    let x = markov_data();
    let config = SequenceConfig {
        training: training(OptimizerKind::Sgd, 0.05),
        max_len: 8,
        negatives: NegativeSampling::PerPosition,
    };
    let kinds: [fn(&mut StdRng) -> AnySequence; 3] = [
        |rng| AnySequence::Lstm(Lstm::new(15, 8, rng).unwrap()),
        |rng| AnySequence::Cnn(CausalCnn::new(15, 8, 3, &[1, 2], true, rng).unwrap()),
        |rng| AnySequence::Pooling(Pooling::new(15, 8, true, rng).unwrap()),
    ];
    for kind in kinds {
        let fit = |resident: bool| {
            let representation = kind(&mut StdRng::seed_from_u64(9));
            let mut m = ImplicitSequenceModel::new(config.clone(), representation, Bpr::default())
                .unwrap()
                .with_resident_tables(resident);
            m.fit(&x).unwrap();
            m
        };
        let (host, resident) = (fit(false), fit(true));
        let tables = resident.representation().tables();
        // the padding rows stay at zero
        assert!(tables[0].row(0).iter().all(|&v| v == 0.0));
        assert_eq!(tables[1].row(0), &[0.0]);
        let worst = worst_difference(host.representation().tables(), tables);
        assert!(
            worst < 1e-3,
            "{}: parameters differ by {worst}",
            resident.representation().name()
        );
    }
}

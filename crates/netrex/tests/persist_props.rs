//! Property: save -> load gives a model with identical predictions, for any shape, seed and
//! loss, factorization and sequence models alike.

use netrex::data::synthetic::{zipf, ZipfConfig};
use netrex::evaluation::SequenceScorer;
use netrex::prelude::*;
use proptest::prelude::*;
use rand::SeedableRng;

fn temp(name: &str, case: u64) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("netrex-props-{}-{name}-{case}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn factorization_save_load_predicts_the_same(
        users in 2usize..12,
        items in 3usize..12,
        dim in 1usize..6,
        seed in any::<u64>(),
        loss in 0usize..BuiltinLoss::NAMES.len(),
    ) {
        let x = zipf(&ZipfConfig {
            num_users: users,
            num_items: items,
            num_interactions: users * 6,
            exponent: 1.0,
            seed,
        })
        .unwrap();
        let config = TrainingConfig::builder()
            .embedding_dim(dim)
            .epochs(1)
            .batch_size(16)
            .seed(seed)
            .negatives(2)
            .build()
            .unwrap();
        let loss = BuiltinLoss::from_name(BuiltinLoss::NAMES[loss], Some(2)).unwrap();
        let mut model = ImplicitFactorizationModel::bilinear(config, users, items, loss).unwrap();
        model.fit(&x).unwrap();
        let dir = temp("f", seed);
        model.save(&dir, &Catalog::default()).unwrap();
        let (loaded, _) = ImplicitFactorizationModel::<Bilinear, BuiltinLoss>::load(&dir, loss).unwrap();
        let all: Vec<u32> = (0..items as u32).collect();
        for u in 0..users as u32 {
            prop_assert_eq!(model.predict(u, &all).unwrap(), loaded.predict(u, &all).unwrap());
        }
        prop_assert_eq!(loaded.epochs_trained(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sequence_save_load_predicts_the_same(
        items in 3usize..12,
        dim in 1usize..6,
        kind in 0usize..4,
        seed in any::<u64>(),
        history in proptest::collection::vec(0u32..3, 1..6),
    ) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let representation = match kind {
            0 => AnySequence::Lstm(Lstm::new(items, dim, &mut rng).unwrap()),
            1 => AnySequence::Cnn(CausalCnn::new(items, dim, 2, &[1], true, &mut rng).unwrap()),
            2 => AnySequence::Pooling(Pooling::new(items, dim, true, &mut rng).unwrap()),
            _ => AnySequence::Popularity(SequencePopularity::new(items, &mut rng).unwrap()),
        };
        let config = SequenceConfig {
            training: TrainingConfig::builder().embedding_dim(dim).seed(seed).config(),
            max_len: 6,
 negatives: NegativeSampling::PerPosition,

        };
        let loss = BuiltinLoss::from_name("bpr", None).unwrap();
        let model = ImplicitSequenceModel::new(config, representation, loss).unwrap();
        let dir = temp("s", seed);
        model.save(&dir, &Catalog::default()).unwrap();
        let (loaded, _) = ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(&dir, loss).unwrap();
        let (mut a, mut b) = (vec![0.0; items], vec![0.0; items]);
        model.score_next(&history, &mut a);
        loaded.score_next(&history, &mut b);
        prop_assert_eq!(a, b);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

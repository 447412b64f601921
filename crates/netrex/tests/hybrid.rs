//! The hybrid (feature) factorization model: its CPU kernel's gradients through the feature
//! sums against dfdx's for every loss, identity features reproducing the bilinear model
//! exactly, and cold items scored from their features.

mod common;

use std::sync::Arc;

use netrex::data::features::FeaturesBuilder;
use netrex::data::Interactions;
use netrex::losses::Loss;
use netrex::prelude::*;
use netrex::representations::FeatureMap;
use netrex::{feature_map, FeatureNames, SideFeatures};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{assert_kernel_matches_dfdx, assert_same_tables, custom_losses, sgd, temp, zipf_data};

const USERS: usize = 30;
const ITEMS: usize = 24;

fn data() -> Interactions {
    zipf_data(USERS, ITEMS, 1500, 5)
}

fn config(fused: bool, threads: usize) -> TrainingConfig {
    TrainingConfig::builder()
        .embedding_dim(8)
        .epochs(2)
        .batch_size(64)
        .learning_rate(0.02)
        .seed(11)
        .fused(fused)
        .threads(threads)
        .config()
}

/// Random sparse rows over `features` features, one to three per id, random weights.
fn random_map(ids: usize, features: usize, rng: &mut StdRng) -> Arc<FeatureMap> {
    let rows: Vec<Vec<(u32, f32)>> = (0..ids)
        .map(|_| {
            let mut row: Vec<(u32, f32)> = Vec::new();
            for _ in 0..rng.gen_range(1..=3) {
                let f = rng.gen_range(0..features as u32);
                if row.iter().all(|&(g, _)| g != f) {
                    row.push((f, rng.gen_range(0.2..1.5)));
                }
            }
            row
        })
        .collect();
    Arc::new(FeatureMap::from_rows(&rows, features).unwrap())
}

/// The sides every check runs over: items of features, users of ids; both of features; users
/// of features, items of ids.
fn sides(rng: &mut StdRng) -> Vec<(HybridSide, HybridSide)> {
    vec![
        (
            HybridSide::Ids(USERS),
            HybridSide::Features(random_map(ITEMS, 7, rng)),
        ),
        (
            HybridSide::Features(random_map(USERS, 5, rng)),
            HybridSide::Features(random_map(ITEMS, 9, rng)),
        ),
        (
            HybridSide::Features(random_map(USERS, 6, rng)),
            HybridSide::Ids(ITEMS),
        ),
    ]
}

/// The kernel's loss and row gradients of a random batch, with and without weights, against
/// dfdx's (which gathers feature rows and sums them on the tape). A batch of 4 reads fewer
/// item rows than there are items (the kernel sums them as it goes), one of 16 more (it sums
/// every item once per batch).
fn check_against_dfdx<L: Loss + Clone>(loss: L, rng: &mut StdRng) {
    for b in [4, 16] {
        check_batch_against_dfdx(loss.clone(), b, rng);
    }
}

fn check_batch_against_dfdx<L: Loss + Clone>(loss: L, b: usize, rng: &mut StdRng) {
    for (users, items) in sides(rng) {
        let mut m = ImplicitFactorizationModel::hybrid(config(true, 1), users, items, loss.clone())
            .unwrap();
        assert!(m.uses_fused_kernel());
        assert_kernel_matches_dfdx(&mut m, (USERS, ITEMS, b), rng);
    }
}

/// Built-in losses run their hand-written gradients through the feature sums, custom ones the
/// score tape: both must give dfdx's gradients.
#[test]
fn kernel_gradients_through_feature_sums_equal_dfdx_for_every_loss() {
    let mut rng = StdRng::seed_from_u64(1);
    for loss in BuiltinLoss::all(Some(4)) {
        check_against_dfdx(loss, &mut rng);
    }
    custom_losses(2)
        .into_iter()
        .for_each(|loss| check_against_dfdx(loss, &mut rng));
}

#[test]
fn identity_features_train_the_bilinear_model_exactly() {
    let x = data();
    for loss in ["warp", "bpr", "adaptive-hinge"] {
        let loss = BuiltinLoss::from_name(loss, None).unwrap();
        let mut bilinear =
            ImplicitFactorizationModel::bilinear(config(true, 1), USERS, ITEMS, loss).unwrap();
        let mut hybrid = ImplicitFactorizationModel::hybrid(
            config(true, 1),
            HybridSide::Features(Arc::new(FeatureMap::identity(USERS))),
            HybridSide::Features(Arc::new(FeatureMap::identity(ITEMS))),
            loss,
        )
        .unwrap();
        let a = bilinear.fit(&x).unwrap().loss_history;
        let b = hybrid.fit(&x).unwrap().loss_history;
        assert_eq!(a, b, "{}", loss.name());
        assert_same_tables(
            bilinear.representation().tables(),
            hybrid.representation().tables(),
            &loss.name(),
        );
        let (mut sa, mut sb) = (vec![0.0; ITEMS], vec![0.0; ITEMS]);
        bilinear.score_items(3, &mut sa);
        hybrid.score_items(3, &mut sb);
        assert_eq!(sa, sb);
    }
}

#[test]
fn the_dfdx_path_trains_a_hybrid_like_the_kernel() {
    let x = data();
    let mut rng = StdRng::seed_from_u64(4);
    let (users, items) = sides(&mut rng).swap_remove(1);
    let fit = |fused: bool| {
        let config = sgd(config(fused, 1), 0.05);
        let mut m = ImplicitFactorizationModel::hybrid(
            config,
            users.clone(),
            items.clone(),
            Bpr::default(),
        )
        .unwrap();
        assert_eq!(m.uses_fused_kernel(), fused);
        (m.fit(&x).unwrap().loss_history, m)
    };
    let (fused, a) = fit(true);
    let (generic, b) = fit(false);
    for (x, y) in fused.iter().zip(&generic) {
        assert!((x - y).abs() < 1e-4, "loss {x} vs {y}");
    }
    assert!(fused[1] < fused[0], "{fused:?}");
    let (mut sa, mut sb) = (vec![0.0; ITEMS], vec![0.0; ITEMS]);
    a.score_items(2, &mut sa);
    b.score_items(2, &mut sb);
    for (x, y) in sa.iter().zip(&sb) {
        assert!((x - y).abs() < 1e-3, "score {x} vs {y}");
    }
}

#[test]
fn cold_items_score_from_their_features() {
    // items 20..24 never occur in training; item 20 shares item 0's features, 21 item 1's
    let x = data();
    let keep: Vec<usize> = (0..x.len()).filter(|&k| x.items()[k] < 20).collect();
    let train = x.select(&keep);
    let mut builder = FeaturesBuilder::new();
    for item in 0..ITEMS as u32 {
        let twin = if item >= 20 { item - 20 } else { item };
        builder.add(item, &format!("group:{}", twin % 6), 1.0);
        builder.add(item, &format!("shade:{}", twin % 4), 0.5);
    }
    let features = builder.build();
    let map = feature_map(&features, ITEMS, SideFeatures::default()).unwrap();
    assert_eq!(map.row(0).1, &[2.0 / 3.0, 1.0 / 3.0]);
    let mut m = ImplicitFactorizationModel::hybrid(
        config(true, 2),
        HybridSide::Ids(USERS),
        HybridSide::Features(Arc::new(map)),
        Warp::default(),
    )
    .unwrap();
    let report = m.fit(&train).unwrap();
    assert!(report.loss_history.iter().all(|l| l.is_finite()));
    let mut scores = vec![0.0; ITEMS];
    for user in 0..USERS as u32 {
        m.score_items(user, &mut scores);
        assert_eq!(scores[20], scores[0], "user {user}");
        assert_eq!(scores[21], scores[1], "user {user}");
    }
    // with ids kept, a cold item's id row is untrained but it still differs from its twin
    let with_ids = SideFeatures {
        with_ids: true,
        normalise: true,
        feature_weight: 1.0,
    };
    let map = feature_map(&features, ITEMS, with_ids).unwrap();
    assert_eq!(map.num_features(), ITEMS + 10);
    // names number in order of first use: item 5 is group:5 (9th) and shade:1 (3rd)
    assert_eq!(map.row(5).0, &[5, ITEMS as u32 + 9, ITEMS as u32 + 3]);
    assert_eq!(map.row(5).1, &[1.0 / 2.5, 1.0 / 2.5, 0.5 / 2.5]);
    // a feature weight scales the named features, not the id
    let lighter = SideFeatures {
        with_ids: true,
        normalise: false,
        feature_weight: 0.5,
    };
    let map = feature_map(&features, ITEMS, lighter).unwrap();
    assert_eq!(map.row(5).1, &[1.0, 0.5, 0.25]);
    for bad in [0.0, -1.0, f32::NAN] {
        let side = SideFeatures {
            feature_weight: bad,
            ..lighter
        };
        let err = feature_map(&features, ITEMS, side).unwrap_err();
        assert!(err.to_string().contains("positive number"), "{err}");
    }
    // an id with no feature at all is an error, not a silent zero vector
    let err = feature_map(&features, ITEMS + 2, SideFeatures::default()).unwrap_err();
    assert!(
        err.to_string().contains("2 of 26 ids have no features"),
        "{err}"
    );
}

#[test]
fn new_users_are_made_of_their_features_at_inference() {
    // users made of features; a new user (id 30) given user 4's features scores as user 4,
    // and one given features the model never saw is an error
    let x = data();
    let mut builder = FeaturesBuilder::new();
    for user in 0..USERS as u32 {
        builder.add(user, &format!("age:{}", user % 5), 1.0);
        builder.add(user, &format!("job:{}", user % 3), 1.0);
    }
    let features = builder.build();
    let side = SideFeatures::default();
    let names = FeatureNames::of(&features, USERS, side);
    let map = feature_map(&features, USERS, side).unwrap();
    let mut m = ImplicitFactorizationModel::hybrid(
        config(true, 1),
        HybridSide::Features(Arc::new(map)),
        HybridSide::Ids(ITEMS),
        Bpr::default(),
    )
    .unwrap();
    m.fit(&x).unwrap();
    let row = names.row([("job:1", 1.0), ("age:4", 1.0)]).unwrap();
    let m = m.with_new_users(&[row]).unwrap();
    assert_eq!(m.representation().num_users(), USERS + 1);
    let (mut new, mut old) = (vec![0.0; ITEMS], vec![0.0; ITEMS]);
    m.score_items(USERS as u32, &mut new);
    m.score_items(4, &mut old);
    for (a, b) in new.iter().zip(&old) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    let err = names.row([("job:9", 1.0)]).unwrap_err();
    assert!(err.to_string().contains("unknown feature"), "{err}");
    // a model whose users are ids has no features to make a new user of
    let ids = ImplicitFactorizationModel::hybrid(
        config(true, 1),
        HybridSide::Ids(USERS),
        HybridSide::Ids(ITEMS),
        Bpr::default(),
    )
    .unwrap();
    let err = ids.with_new_users(&[vec![(0, 1.0)]]).err().unwrap();
    assert!(err.to_string().contains("users are ids"), "{err}");
}

#[test]
fn a_saved_hybrid_keeps_its_feature_maps_and_a_plain_one_is_bilinear() {
    let x = data();
    let mut rng = StdRng::seed_from_u64(6);
    let (users, items) = sides(&mut rng).swap_remove(1);
    let mut m =
        ImplicitFactorizationModel::hybrid(config(true, 1), users, items, Warp::default()).unwrap();
    m.fit(&x).unwrap();
    let dir = temp("features");
    m.save(&dir, &netrex::Catalog::default()).unwrap();
    let (back, _) = ImplicitFactorizationModel::<Hybrid, _>::load(&dir, Warp::default()).unwrap();
    assert_eq!(back.representation(), m.representation());
    let (mut a, mut b) = (vec![0.0; ITEMS], vec![0.0; ITEMS]);
    m.score_items(4, &mut a);
    back.score_items(4, &mut b);
    assert_eq!(a, b);
    // a bilinear model cannot read it: a typed error, not a panic
    let err = ImplicitFactorizationModel::<Bilinear, _>::load(&dir, Warp::default())
        .err()
        .expect("a bilinear model does not load a hybrid file");
    assert!(matches!(err, NetrexError::ModelFile { .. }), "{err}");
    // a corrupt feature map (a feature out of range) is refused
    let file = dir.join("model.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("\"num_features\": 9", "\"num_features\": 2", 1);
    assert_ne!(broken, text);
    std::fs::write(&file, broken).unwrap();
    let err = ImplicitFactorizationModel::<Hybrid, _>::load(&dir, Warp::default())
        .err()
        .expect("a corrupt map is refused");
    assert!(matches!(err, NetrexError::ModelFile { .. }), "{err}");

    // ids on both sides: the bilinear model, saved as one, loaded by either type
    let mut plain = ImplicitFactorizationModel::hybrid(
        config(true, 1),
        HybridSide::Ids(USERS),
        HybridSide::Ids(ITEMS),
        Warp::default(),
    )
    .unwrap();
    plain.fit(&x).unwrap();
    let dir = temp("plain");
    plain.save(&dir, &netrex::Catalog::default()).unwrap();
    let (bilinear, _) =
        ImplicitFactorizationModel::<Bilinear, _>::load(&dir, Warp::default()).unwrap();
    assert_eq!(
        bilinear.representation().tables(),
        plain.representation().tables()
    );
    let (again, _) = ImplicitFactorizationModel::<Hybrid, _>::load(&dir, Warp::default()).unwrap();
    assert_eq!(again.representation(), plain.representation());
}

#[test]
fn negatives_drawn_from_a_pool_never_touch_the_other_items() {
    // items 20..24 are outside the pool and never positives: training leaves their rows alone
    let x = data();
    let keep: Vec<usize> = (0..x.len()).filter(|&k| x.items()[k] < 20).collect();
    let train = x.select(&keep);
    let m = ImplicitFactorizationModel::bilinear(config(true, 1), USERS, ITEMS, Bpr::default())
        .unwrap();
    let before = m.representation().tables()[2].clone();
    let mut m = m.with_negative_items((0..20).collect()).unwrap();
    m.fit(&train).unwrap();
    let after = &m.representation().tables()[2];
    for item in 20..ITEMS {
        assert_eq!(after.row(item), before.row(item), "item {item}");
    }
    assert_ne!(after.row(0), before.row(0));
    let fresh = || {
        ImplicitFactorizationModel::bilinear(config(true, 1), USERS, ITEMS, Bpr::default()).unwrap()
    };
    for (pool, says) in [
        (vec![], "at least one item"),
        (vec![1, 2, 1], "listed twice"),
        (vec![ITEMS as u32], "unknown item"),
    ] {
        let err = fresh().with_negative_items(pool).err().unwrap();
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn folded_vectors_score_as_the_model_does_on_every_side() {
    let x = data();
    let mut rng = StdRng::seed_from_u64(12);
    for (users, items) in sides(&mut rng) {
        let mut m =
            ImplicitFactorizationModel::hybrid(config(true, 1), users, items, Bpr::default())
                .unwrap();
        m.fit(&x).unwrap();
        let vectors = m.vectors().unwrap();
        let (folded_users, folded_items) = vectors.folded();
        let width = vectors.dim + 2;
        let all: Vec<u32> = (0..ITEMS as u32).collect();
        for u in 0..USERS {
            let p = &folded_users[u * width..(u + 1) * width];
            let expected = m.predict(u as u32, &all).unwrap();
            for (i, e) in expected.iter().enumerate() {
                let q = &folded_items[i * width..(i + 1) * width];
                let dot: f32 = p.iter().zip(q).map(|(a, b)| a * b).sum();
                assert!((dot - e).abs() < 1e-4, "user {u} item {i}: {dot} vs {e}");
            }
        }
    }
}

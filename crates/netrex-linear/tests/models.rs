//! EASE against a direct dense solve, iALS's loss and fold-in, and model files.

use netrex_data::synthetic::{zipf, ZipfConfig};
use netrex_data::Interactions;
use netrex_linear::{
    Ease, EaseConfig, Ials, IalsConfig, LinearError, LinearModel, LocalEase, LocalEaseConfig,
    Precision, UserItems,
};
use proptest::prelude::*;

/// `(G + diag(d))⁻¹` by Gauss-Jordan elimination in f64, the textbook way.
fn inverse(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut inv: Vec<f64> = (0..n * n)
        .map(|k| f64::from(u8::from(k / n == k % n)))
        .collect();
    for c in 0..n {
        let pivot = (c..n)
            .max_by(|&x, &y| a[x * n + c].abs().total_cmp(&a[y * n + c].abs()))
            .unwrap();
        for k in 0..n {
            a.swap(c * n + k, pivot * n + k);
            inv.swap(c * n + k, pivot * n + k);
        }
        let p = a[c * n + c];
        for k in 0..n {
            a[c * n + k] /= p;
            inv[c * n + k] /= p;
        }
        for r in (0..n).filter(|&r| r != c) {
            let f = a[r * n + c];
            for k in 0..n {
                a[r * n + k] -= f * a[c * n + k];
                inv[r * n + k] -= f * inv[c * n + k];
            }
        }
    }
    inv
}

/// EASE's weights the direct way: `P = (XᵀX + Λ)⁻¹`, `B = I - P diag(1 / diag P)`.
fn direct_ease(pairs: &[(u32, u32)], users: usize, n: usize, l2: f64, dropout: f64) -> Vec<f64> {
    let mut x = vec![0.0f64; users * n];
    for &(u, i) in pairs {
        x[u as usize * n + i as usize] = 1.0;
    }
    let mut g = vec![0.0f64; n * n];
    for u in 0..users {
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] += x[u * n + i] * x[u * n + j];
            }
        }
    }
    for i in 0..n {
        g[i * n + i] += l2 + dropout / (1.0 - dropout) * g[i * n + i];
    }
    let p = inverse(g, n);
    (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            if i == j {
                0.0
            } else {
                -p[i * n + j] / p[j * n + j]
            }
        })
        .collect()
}

fn interactions(pairs: &[(u32, u32)], users: usize, items: usize) -> Interactions {
    let (u, i): (Vec<u32>, Vec<u32>) = pairs.iter().copied().unzip();
    Interactions::new(u, i, users, items).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ease_equals_the_direct_dense_solve(
        pairs in prop::collection::vec((0u32..12, 0u32..9), 1..60),
        l2 in 0.5f32..50.0,
        dropout in prop_oneof![Just(0.0f32), 0.05f32..0.6],
        precision in prop_oneof![Just(Precision::F32), Just(Precision::F64)],
    ) {
        let rows = UserItems::of(&interactions(&pairs, 12, 9));
        let model = Ease::fit(&rows, &EaseConfig { l2, precision, dropout }).unwrap();
        let expected = direct_ease(&pairs, 12, 9, f64::from(l2), f64::from(dropout));
        let tolerance = match precision { Precision::F32 => 1e-4, Precision::F64 => 1e-6 };
        for (k, (&got, want)) in model.weights().iter().zip(&expected).enumerate() {
            prop_assert!((f64::from(got) - want).abs() <= tolerance * (1.0 + want.abs()),
                "B[{}, {}] = {got}, the direct solve gives {want}", k / 9, k % 9);
        }
    }
}

/// Where every pair of items co-occurs and the neighbourhood holds every item, the scalable
/// EASE solves EASE's own problem: the same weights.
#[test]
fn the_scalable_ease_with_every_neighbour_is_ease() {
    let pairs: Vec<(u32, u32)> = (0..14u32)
        .flat_map(|u| {
            (0..7u32)
                .filter(move |i| (u + i) % 5 != 0)
                .map(move |i| (u, i))
        })
        .collect();
    let rows = UserItems::of(&interactions(&pairs, 14, 7));
    let local = LocalEase::fit(
        &rows,
        &LocalEaseConfig {
            l2: 3.0,
            neighbours: 6,
        },
    )
    .unwrap();
    let expected = direct_ease(&pairs, 14, 7, 3.0, 0.0);
    for (k, (&got, want)) in local.dense_weights().iter().zip(&expected).enumerate() {
        assert!(
            (f64::from(got) - want).abs() < 1e-5,
            "B[{}, {}] = {got} vs {want}",
            k / 7,
            k % 7
        );
    }
    // fewer neighbours: at most that many weights per item
    let small = LocalEase::fit(
        &rows,
        &LocalEaseConfig {
            l2: 3.0,
            neighbours: 2,
        },
    )
    .unwrap();
    assert!(small.nnz() <= 7 * 2);
}

#[test]
fn repeated_pairs_count_once_and_scores_sum_rows() {
    let once = UserItems::of(&interactions(&[(0, 1), (0, 2), (1, 2)], 2, 3));
    let twice = UserItems::of(&interactions(
        &[(0, 1), (0, 2), (0, 2), (1, 2), (0, 1)],
        2,
        3,
    ));
    assert_eq!(once, twice);
    let model = Ease::fit(&once, &EaseConfig::default()).unwrap();
    let mut scores = vec![0.0; 3];
    model.score_items_of(&[1, 2], &mut scores);
    let w = model.weights();
    for (j, s) in scores.iter().enumerate() {
        assert!((s - (w[3 + j] + w[6 + j])).abs() < 1e-7);
    }
}

fn synthetic() -> UserItems {
    UserItems::of(
        &zipf(&ZipfConfig {
            num_users: 80,
            num_items: 50,
            num_interactions: 2000,
            exponent: 1.0,
            seed: 4,
        })
        .unwrap(),
    )
}

#[test]
fn ials_loss_falls_every_sweep() {
    let config = IalsConfig {
        factors: 8,
        l2: 2.0,
        alpha: 5.0,
        iterations: 8,
        ..IalsConfig::default()
    };
    let mut losses = Vec::new();
    let model = Ials::fit(&synthetic(), &config, |_, l| losses.push(l)).unwrap();
    assert_eq!(losses.len(), 8);
    for w in losses.windows(2) {
        assert!(w[1] < w[0], "the loss rose: {losses:?}");
    }
    assert!((model.loss() - losses[7]).abs() <= 1e-6 * losses[7]);
}

#[test]
fn ials_is_deterministic_and_folds_in_by_its_closed_form() {
    let rows = synthetic();
    let config = IalsConfig {
        factors: 6,
        l2: 1.0,
        alpha: 3.0,
        iterations: 4,
        cg_steps: 6,
        seed: 9,
    };
    let a = Ials::fit(&rows, &config, |_, _| {}).unwrap();
    let b = Ials::fit(&rows, &config, |_, _| {}).unwrap();
    assert_eq!(a, b);
    // a training user folded in by the exact solve lands where the sweeps' conjugate
    // gradients (warm-started, a few steps each) brought their factors
    let items = rows.get(3).to_vec();
    let folded = a.fold_in(&items).unwrap();
    let k = config.factors;
    let trained = &a.user_factors()[3 * k..4 * k];
    let gap: f32 = folded
        .iter()
        .zip(trained)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(gap < 0.05, "fold-in {folded:?} vs trained {trained:?}");
    assert!(matches!(a.fold_in(&[50]), Err(LinearError::Parameter(_))));
}

#[test]
fn bad_settings_and_empty_data_are_errors() {
    let rows = synthetic();
    for l2 in [0.0, -1.0, f32::NAN] {
        let config = EaseConfig {
            l2,
            ..EaseConfig::default()
        };
        assert!(matches!(
            Ease::fit(&rows, &config),
            Err(LinearError::Parameter(_))
        ));
    }
    let config = EaseConfig {
        dropout: 1.0,
        ..EaseConfig::default()
    };
    assert!(matches!(
        Ease::fit(&rows, &config),
        Err(LinearError::Parameter(_))
    ));
    let empty = UserItems::of(&interactions(&[(0, 0)], 1, 1).filter(|_| false));
    assert!(matches!(
        Ease::fit(&empty, &EaseConfig::default()),
        Err(LinearError::Empty(_))
    ));
    let zero = IalsConfig {
        factors: 0,
        ..IalsConfig::default()
    };
    assert!(matches!(
        Ials::fit(&rows, &zero, |_, _| {}),
        Err(LinearError::Parameter(_))
    ));
}

#[test]
fn models_save_and_load_to_the_same_scores_and_corrupt_files_are_errors() {
    let rows = synthetic();
    let dir = std::env::temp_dir().join(format!("netrex-linear-{}", std::process::id()));
    let catalog = serde_json::json!({"note": "kept as given"});
    let ease = LinearModel::Ease(Ease::fit(&rows, &EaseConfig::default()).unwrap());
    let ials = LinearModel::Ials(
        Ials::fit(
            &rows,
            &IalsConfig {
                factors: 4,
                iterations: 2,
                ..IalsConfig::default()
            },
            |_, _| {},
        )
        .unwrap(),
    );
    let local = LinearModel::LocalEase(
        LocalEase::fit(
            &rows,
            &LocalEaseConfig {
                l2: 10.0,
                neighbours: 5,
            },
        )
        .unwrap(),
    );
    for model in [ease, ials, local] {
        model.save(&dir, catalog.clone()).unwrap();
        assert!(netrex_linear::is_linear_model(&dir));
        let (back, saved) = LinearModel::load(&dir).unwrap();
        assert_eq!(back, model);
        assert_eq!(saved, catalog);
    }
    let tensors = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &tensors[..tensors.len() - 9]).unwrap();
    assert!(matches!(
        LinearModel::load(&dir),
        Err(LinearError::File { .. })
    ));
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    std::fs::write(dir.join("model.json"), &json[..json.len() / 2]).unwrap();
    assert!(matches!(
        LinearModel::load(&dir),
        Err(LinearError::File { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

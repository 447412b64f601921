use super::rule::ADAM_RATIO;
use super::*;

#[test]
fn atomic_rows_round_trip_whatever_their_width_and_start() {
    const N: usize = 104;
    let mut data: Vec<f32> = (0..N).map(|k| k as f32 * 0.25 - 3.0).collect();
    let original = data.clone();
    // rows of 4 (pairs where aligned), 5 (singles), 8 (one vector move where the CPU has
    // AVX) and 13 (a vector move and a tail of singles), over the same words
    for cols in [4usize, 5, 8, 13] {
        let rows = AtomicRows::new(&mut data, N / cols, cols);
        let mut out = vec![0.0f32; cols];
        for r in 0..N / cols {
            rows.read(r, &mut out);
            assert_eq!(out, original[r * cols..(r + 1) * cols]);
            let doubled: Vec<f32> = out.iter().map(|v| v * 2.0).collect();
            rows.write(r, &doubled);
            rows.read(r, &mut out);
            assert_eq!(out, doubled);
            rows.write(r, &original[r * cols..(r + 1) * cols]);
        }
    }
    assert_eq!(data, original);
    // an odd start: rows that begin between two pairs and off any vector boundary
    for cols in [4usize, 13] {
        let rows = (N - 1) / cols;
        let store = AtomicRows::new(&mut data[1..1 + rows * cols], rows, cols);
        let mut out = vec![0.0f32; cols];
        for r in 0..rows {
            store.read(r, &mut out);
            assert_eq!(out, original[1 + r * cols..1 + (r + 1) * cols]);
            store.write(r, &vec![-1.0; cols]);
            store.read(r, &mut out);
            assert!(out.iter().all(|&v| v == -1.0));
        }
        // the words around the rows are untouched
        assert_eq!(data[0], original[0]);
        assert!(data[1 + rows * cols..]
            .iter()
            .zip(&original[1 + rows * cols..])
            .all(|(a, b)| a == b));
        data.copy_from_slice(&original);
    }
}

#[test]
fn row_steps_in_place_match_steps_through_a_copy() {
    let rule = (0.05f32, 0.01f32);
    for cols in [1usize, 4, 5, 13, 64] {
        let rows = 3;
        let start: Vec<f32> = (0..rows * cols).map(|k| (k as f32 * 0.37).sin()).collect();
        let x: Vec<f32> = (0..cols).map(|k| (k as f32 * 0.61).cos()).collect();
        // the reference: plain loops over a copy
        let mut expected = start.clone();
        let mut expected_grad = vec![0.0f32; cols];
        let expected_dot: f32 = netrex_representations::kernel::dot(&expected[cols..2 * cols], &x);
        let q = &mut expected[cols..2 * cols];
        for ((q, x), g) in q.iter_mut().zip(&x).zip(expected_grad.iter_mut()) {
            *g += -0.7 * *q;
            *q -= rule.0 * (-0.7 * x + rule.1 * *q);
        }
        for (p, g) in expected[2 * cols..].iter_mut().zip(&x) {
            *p -= rule.0 * (g + rule.1 * *p);
        }
        let (mut cells, mut atomics) = (start.clone(), start.clone());
        for (data, shared) in [(&mut cells, false), (&mut atomics, true)] {
            let mut grad = vec![0.0f32; cols];
            let mut tmp = vec![0.0f32; cols];
            if shared {
                let store = AtomicRows::new(data, rows, cols);
                assert_eq!(store.dot_row(1, &x, &mut tmp), expected_dot);
                store.step_row(1, -0.7, &x, rule, &mut grad, &mut tmp);
                store.sgd_row(2, &x, rule, &mut tmp);
            } else {
                let store = CellRows::new(data, rows, cols);
                assert_eq!(store.dot_row(1, &x, &mut tmp), expected_dot);
                store.step_row(1, -0.7, &x, rule, &mut grad, &mut tmp);
                store.sgd_row(2, &x, rule, &mut tmp);
            }
            assert_eq!(grad, expected_grad, "cols {cols}, shared {shared}");
        }
        assert_eq!(cells, expected, "cols {cols}");
        assert_eq!(atomics, expected, "cols {cols}");
    }
}

#[test]
fn rows_read_and_updated_where_they_lie_match_copies_to_the_bit() {
    let bias = Bias::at(3);
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Adagrad,
        OptimizerKind::Adam,
    ] {
        let rule = Rule {
            kind,
            lr: 0.05,
            l2: 0.01,
        };
        // rows of one (biases), a vector move and a tail, and the usual width
        for cols in [1usize, 5, 13, 64] {
            let rows = 3;
            let values = |phase: f32| -> Vec<f32> {
                (0..rows * cols)
                    .map(|k| (k as f32 * 0.37 + phase).sin().abs())
                    .collect()
            };
            let (w, m, v) = (values(0.0), values(1.0), values(2.0));
            let g: Vec<f32> = (0..cols).map(|k| (k as f32 * 0.61).cos()).collect();
            // the reference: the rule on copies of row 1
            let (mut ew, mut em, mut ev) = (w.clone(), m.clone(), v.clone());
            let row = cols..2 * cols;
            let (mut sm, mut sv) = (em[row.clone()].to_vec(), ev[row.clone()].to_vec());
            let (sm, sv) = match kind {
                OptimizerKind::Sgd => (&mut sm[..0], &mut sv[..0]),
                OptimizerKind::Adagrad => (&mut sm[..0], &mut sv[..]),
                OptimizerKind::Adam => (&mut sm[..], &mut sv[..]),
            };
            rule.update(bias, &mut ew[row.clone()], &g, sm, sv);
            if !sm.is_empty() {
                em[row.clone()].copy_from_slice(sm);
            }
            if !sv.is_empty() {
                ev[row.clone()].copy_from_slice(sv);
            }
            let mut expected_sum = vec![0.5f32; cols];
            netrex_representations::kernel::add_scaled(&mut expected_sum, -0.3, &w[row.clone()]);

            for shared in [false, true] {
                let (mut tw, mut tm, mut tv) = (w.clone(), m.clone(), v.clone());
                let state_rows = |kept: bool| if kept { rows } else { 0 };
                let keeps_m = kind == OptimizerKind::Adam;
                let keeps_v = kind != OptimizerKind::Sgd;
                let (tm, tv) = (
                    if keeps_m { &mut tm[..] } else { &mut tm[..0] },
                    if keeps_v { &mut tv[..] } else { &mut tv[..0] },
                );
                let mut sum = vec![0.5f32; cols];
                let mut tmp = vec![0.0f32; cols];
                let mut buffers: [Vec<f32>; 3] = Default::default();
                let step =
                    |w: &mut [f32], m: &mut [f32], v: &mut [f32]| rule.update(bias, w, &g, m, v);
                if shared {
                    let store = AtomicRows::new(&mut tw, rows, cols);
                    let first = AtomicRows::new(tm, state_rows(keeps_m), cols);
                    let second = AtomicRows::new(tv, state_rows(keeps_v), cols);
                    store.add_scaled_row(1, -0.3, &mut sum, &mut tmp);
                    store.update_row(&first, &second, 1, &mut buffers, step);
                } else {
                    let store = CellRows::new(&mut tw, rows, cols);
                    let first = CellRows::new(tm, state_rows(keeps_m), cols);
                    let second = CellRows::new(tv, state_rows(keeps_v), cols);
                    store.add_scaled_row(1, -0.3, &mut sum, &mut tmp);
                    store.update_row(&first, &second, 1, &mut buffers, step);
                }
                let case = format!("{kind:?}, cols {cols}, shared {shared}");
                assert_eq!(sum, expected_sum, "{case}");
                assert_eq!(tw, ew, "{case}");
                assert_eq!(&tm[..], if keeps_m { &em[..] } else { &[][..] }, "{case}");
                assert_eq!(&tv[..], if keeps_v { &ev[..] } else { &[][..] }, "{case}");
            }
        }
    }
}

fn adam(lr: f32, l2: f32) -> Rule {
    Rule {
        kind: OptimizerKind::Adam,
        lr,
        l2,
    }
}

proptest::proptest! {
    /// The bound on Adam's first moment never binds on moments of one history, so one
    /// thread's results are Adam's own to the bit.
    #[test]
    fn adam_bound_leaves_moments_of_one_history_alone(
        grads in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(0.0f32),
                -1e3f32..1e3,
                -1e-3f32..1e-3,
            ],
            1..300,
        ),
        l2 in proptest::prop_oneof![proptest::strategy::Just(0.0f32), 0.0f32..0.1],
        start in -1.0f32..1.0,
    ) {
        let rule = adam(0.01, l2);
        let (mut w, mut m, mut v) = ([start], [0.0f32], [0.0f32]);
        let (mut rw, mut rm, mut rv) = (start, 0.0f32, 0.0f32);
        for (t, &g) in grads.iter().enumerate() {
            let bias = Bias::at(t as i32 + 1);
            rule.update(bias, &mut w, &[g], &mut m, &mut v);
            // Adam as written before the bound
            let (step, scale) = bias.factors(0.01);
            let g = g + l2 * rw;
            rm = BETA1 * rm + (1.0 - BETA1) * g;
            rv = BETA2 * rv + (1.0 - BETA2) * g * g;
            rw -= step * rm / (rv.sqrt() * scale + EPSILON);
            proptest::prop_assert_eq!((w[0], m[0], v[0]), (rw, rm, rv), "step {}", t + 1);
        }
    }
}

#[test]
fn adam_steps_from_mixed_moments_stay_bounded() {
    // a Hogwild worker read a row's first moment after another worker's update and its
    // second moment before it: the row's first update left v at 0 as far as this worker
    // sees, and its own gradient is small
    let (lr, t) = (0.01f32, 500);
    let bias = Bias::at(t);
    let (step, scale) = bias.factors(lr);
    let (m0, g) = (0.05f32, 1e-4f32);
    let unbounded = {
        let m = BETA1 * m0 + (1.0 - BETA1) * g;
        let v = (1.0 - BETA2) * g * g;
        step * m / (v.sqrt() * scale + EPSILON)
    };
    assert!(
        unbounded > 1000.0 * lr,
        "the case must be one Adam alone cannot reach"
    );
    let (mut w, mut m, mut v) = ([0.0f32], [m0], [0.0f32]);
    adam(lr, 0.0).update(bias, &mut w, &[g], &mut m, &mut v);
    // |m| <= 8 (sqrt(v) + eps) and scale >= 1: the step is at most 8 lr / c1
    assert!(
        w[0].abs() <= ADAM_RATIO * step * 1.0001,
        "{} > {}",
        w[0].abs(),
        8.0 * step
    );
    assert!(m[0].abs() <= ADAM_RATIO * (v[0].sqrt() + EPSILON) * 1.0001);
    // and the repaired moments train on: a second consistent step is Adam's own
    let (w1, m1, v1) = (w[0], m[0], v[0]);
    adam(lr, 0.0).update(Bias::at(t + 1), &mut w, &[g], &mut m, &mut v);
    assert!(w[0].is_finite() && (w[0] - w1).abs() <= ADAM_RATIO * step * 1.0001);
    assert!(m[0] != m1 && v[0] != v1);
}

#[test]
fn state_is_allocated_by_the_first_update_only() {
    let mut tables = vec![Table::zeros(
        "t",
        netrex_representations::IndexedBy::User,
        5,
        3,
    )];
    let config = OptimizerConfig {
        kind: OptimizerKind::Adam,
        learning_rate: 0.1,
        l2: 0.0,
    };
    let mut optimizer = RowOptimizer::new(config, &tables);
    assert!(!optimizer.is_allocated());
    // an untouched optimizer saves empty state, which restores as untouched
    let saved: Vec<_> = optimizer
        .state()
        .into_iter()
        .map(|(a, b, s)| (a.to_vec(), b.to_vec(), s))
        .collect();
    assert_eq!(saved, vec![(vec![], vec![], 0)]);
    optimizer.restore_state(saved).unwrap();
    assert!(!optimizer.is_allocated());

    let mut grads = vec![SparseGrad::for_table(&tables[0])];
    grads[0].row_mut(2).copy_from_slice(&[1.0, -1.0, 0.5]);
    optimizer.step(&mut tables, &mut grads);
    assert!(optimizer.is_allocated());
    let state = optimizer.state();
    assert_eq!(
        (state[0].0.len(), state[0].1.len(), state[0].2),
        (15, 15, 1)
    );
    // a restore checks lengths against the tables, not against what is allocated
    let mut fresh = RowOptimizer::new(config, &tables);
    let bad = vec![(vec![0.0; 14], vec![0.0; 15], 1)];
    assert!(fresh.restore_state(bad).is_err());
    let good = vec![(vec![0.0; 15], vec![0.0; 15], 1)];
    fresh.restore_state(good).unwrap();
    assert!(fresh.is_allocated());
}

//! A representation's kernel is checked against its tables when the model is built (a typed
//! error, not a panic or garbage training), and the fused kernel reads tables by the positions
//! the representation's kernel gives, not by fixed indices.

use dfdx::prelude::*;
use netrex::prelude::*;
use netrex::representations::gather::Rows;
use netrex::representations::sequence::{SequenceRows, Steps};
use netrex::representations::{bilinear_scores, IndexedBy, RepresentationError, Table};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The bilinear model with its tables stored in another order:
/// `[item_bias, user_embedding, item_embedding, user_bias]`.
#[derive(Clone)]
struct Shuffled {
    tables: Vec<Table>,
    kernel: BilinearKernel,
}

impl Shuffled {
    fn new(users: usize, items: usize, dim: usize, rng: &mut StdRng) -> Self {
        let mut random = |name: &str, by, rows: usize, cols: usize| {
            let data = (0..rows * cols).map(|_| rng.gen_range(-0.8..0.8)).collect();
            Table::from_data(name, by, rows, cols, data).unwrap()
        };
        Shuffled {
            tables: vec![
                random("item_bias", IndexedBy::Item, items, 1),
                random("user_embedding", IndexedBy::User, users, dim),
                random("item_embedding", IndexedBy::Item, items, dim),
                random("user_bias", IndexedBy::User, users, 1),
            ],
            kernel: BilinearKernel {
                user: 1,
                user_bias: 3,
                item: 2,
                item_bias: 0,
            },
        }
    }
}

impl FactorizationRepresentation for Shuffled {
    fn name(&self) -> String {
        "shuffled".into()
    }
    fn tables(&self) -> &[Table] {
        &self.tables
    }
    fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }
    /// User rows come in table order (embedding, bias), item rows too (bias, embedding).
    fn forward<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: Rows<D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let mut user = rows.user.into_iter();
        let mut item = rows.item.into_iter();
        let (p, bu) = (user.next().unwrap(), user.next().unwrap());
        let (bi, q) = (item.next().unwrap(), item.next().unwrap());
        bilinear_scores(p, bu, q, bi)
    }
    fn bilinear_kernel(&self) -> Option<BilinearKernel> {
        Some(self.kernel)
    }
}

fn config() -> TrainingConfig {
    TrainingConfig::builder().embedding_dim(5).seed(1).config()
}

#[test]
fn the_fused_kernel_reads_tables_where_the_representation_says() {
    let mut rng = StdRng::seed_from_u64(3);
    let (users, items, b) = (7usize, 11usize, 12usize);
    let representation = Shuffled::new(users, items, 5, &mut rng);
    for loss in [
        BuiltinLoss::from_name("bpr", None).unwrap(),
        BuiltinLoss::from_name("warp", None).unwrap(),
    ] {
        let n = loss.num_negatives();
        let model =
            ImplicitFactorizationModel::new(config(), representation.clone(), loss).unwrap();
        assert!(model.uses_fused_kernel());
        let u: Vec<u32> = (0..b).map(|_| rng.gen_range(0..users as u32)).collect();
        let p: Vec<u32> = (0..b).map(|_| rng.gen_range(0..items as u32)).collect();
        let neg: Vec<u32> = (0..b * n).map(|_| rng.gen_range(0..items as u32)).collect();
        let (reference, expected) = model.batch_gradients(&u, &p, &neg, None).unwrap();
        let (value, actual) = model.fused_batch_gradients(&u, &p, &neg, None).unwrap();
        assert!((value - reference).abs() <= 1e-5 * (1.0 + reference.abs()));
        for (t, (a, e)) in actual.iter().zip(&expected).enumerate() {
            for r in 0..representation.tables[t].rows() as u32 {
                for (x, y) in a.row(r).iter().zip(e.row(r)) {
                    assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "table {t} row {r}");
                }
            }
        }
        // scoring every item goes through the kernel too, and agrees with dfdx's forward
        let all: Vec<u32> = (0..items as u32).collect();
        let mut fast = vec![0.0; items];
        model.score_items(2, &mut fast);
        let some: Vec<u32> = all[..items - 1].to_vec();
        let slow = model.predict(2, &some).unwrap();
        for (x, y) in fast.iter().zip(&slow) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}

#[test]
fn a_kernel_that_does_not_fit_the_tables_is_refused_when_the_model_is_built() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut wrong = Shuffled::new(4, 6, 3, &mut rng);
    wrong.kernel = BilinearKernel::IN_ORDER;
    let err = ImplicitFactorizationModel::new(config(), wrong, Bpr::default())
        .err()
        .expect("a wrong layout must not build");
    assert!(
        matches!(
            err,
            NetrexError::Representation(RepresentationError::Layout { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("table 0"), "{err}");
}

/// A sequence representation whose second table is not the item bias.
struct NoBias {
    tables: Vec<Table>,
}

impl SequenceRepresentation for NoBias {
    fn name(&self) -> String {
        "no-bias".into()
    }
    fn tables(&self) -> &[Table] {
        &self.tables
    }
    fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }
    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        rows.inputs
    }
}

#[test]
fn sequence_tables_out_of_layout_are_refused_when_the_model_is_built() {
    let representation = NoBias {
        tables: vec![
            Table::zeros("item_embedding", IndexedBy::Item, 6, 4),
            Table::zeros("weights", IndexedBy::Whole, 4, 4),
        ],
    };
    let config = SequenceConfig {
        training: config(),
        max_len: 5,
        negatives: NegativeSampling::PerPosition,
    };
    let err = ImplicitSequenceModel::new(config, representation, Bpr::default())
        .err()
        .expect("a wrong layout must not build");
    assert!(
        matches!(
            err,
            NetrexError::Representation(RepresentationError::Layout { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("table 1"), "{err}");
}

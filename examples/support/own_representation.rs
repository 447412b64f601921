//! Two representations defined outside netrex's crates, as a researcher would in their own:
//! a factorization one (`TemperedDot`: `<p_u, q_i> / temperature`, no biases) and a sequence
//! one (`LastItem`: the next item predicted from the last one alone). Each implements its
//! representation trait and [`Record`], and with that alone trains, checkpoints, resumes,
//! saves and loads through netrex's models. `run` does all of it and checks every step;
//! `examples/own_representation.rs` prints what it did, and `tests/own_representation.rs`
//! runs it.

use std::error::Error;
use std::path::Path;

use netrex::data::synthetic::{markov, zipf, MarkovConfig, ZipfConfig};
use netrex::data::Interactions;
use netrex::losses::dfdx::prelude::*;
use netrex::prelude::*;
use netrex::representations::gather::Rows;
use netrex::representations::sequence::{SequenceRows, Steps};
use netrex::representations::{dot_scores, IndexedBy, RepresentationError, Table};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// `score(u, i) = <p_u, q_i> / temperature`.
#[derive(Clone, Debug, PartialEq)]
pub struct TemperedDot {
    tables: Vec<Table>,
    temperature: f32,
}

/// What `TemperedDot` needs beyond its tables: saved as JSON beside them.
#[derive(Serialize, Deserialize)]
pub struct TemperedDotSpec {
    temperature: f32,
}

impl TemperedDot {
    /// A fresh model, embeddings normal with standard deviation `1 / dim`.
    pub fn new(users: usize, items: usize, dim: usize, temperature: f32, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        TemperedDot {
            tables: vec![
                Table::scaled_normal("user_embedding", IndexedBy::User, users, dim, &mut rng),
                Table::scaled_normal("item_embedding", IndexedBy::Item, items, dim, &mut rng),
            ],
            temperature,
        }
    }
}

impl FactorizationRepresentation for TemperedDot {
    fn name(&self) -> String {
        "tempered-dot".into()
    }

    fn tables(&self) -> &[Table] {
        &self.tables
    }

    fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    /// `rows.user[0]` is `(B, D)`, `rows.item[0]` is `(B, M, D)`; the result is `(B, M)`.
    fn forward<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: Rows<D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let p = rows.user.into_iter().next().expect("user_embedding rows");
        let q = rows.item.into_iter().next().expect("item_embedding rows");
        dot_scores(p, q) / self.temperature
    }
}

impl Record for TemperedDot {
    type Spec = TemperedDotSpec;

    fn spec(&self) -> TemperedDotSpec {
        TemperedDotSpec {
            temperature: self.temperature,
        }
    }

    fn from_record(spec: TemperedDotSpec, tables: Vec<Table>) -> Result<Self, RepresentationError> {
        let names: Vec<&str> = tables.iter().map(Table::name).collect();
        if names != ["user_embedding", "item_embedding"] || tables[0].cols() != tables[1].cols() {
            return Err(RepresentationError::Shape(format!(
                "a tempered-dot model has user_embedding and item_embedding of one width, not {names:?}"
            )));
        }
        if !(spec.temperature.is_finite() && spec.temperature > 0.0) {
            return Err(RepresentationError::InvalidParameter {
                name: "temperature",
                message: format!("{} must be finite and > 0", spec.temperature),
            });
        }
        Ok(TemperedDot {
            tables,
            temperature: spec.temperature,
        })
    }
}

/// The state after each item is that item's own embedding: a first-order model of what
/// follows what, in the two item tables every sequence representation shares.
#[derive(Clone, Debug, PartialEq)]
pub struct LastItem {
    tables: Vec<Table>,
}

impl LastItem {
    /// A fresh model over `items` items (ids shifted by one: row 0 is padding, kept at zero).
    pub fn new(items: usize, dim: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut embedding =
            Table::scaled_normal("item_embedding", IndexedBy::Item, items + 1, dim, &mut rng);
        embedding.row_mut(0).iter_mut().for_each(|v| *v = 0.0);
        LastItem {
            tables: vec![
                embedding,
                Table::zeros("item_bias", IndexedBy::Item, items + 1, 1),
            ],
        }
    }
}

impl SequenceRepresentation for LastItem {
    fn name(&self) -> String {
        "last-item".into()
    }

    fn tables(&self) -> &[Table] {
        &self.tables
    }

    fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    /// `(B, T, D)` in, the same out: position `t` reads input `t` only.
    fn encode<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        rows: SequenceRows<D, T>,
    ) -> Steps<D, T> {
        rows.inputs
    }
}

impl Record for LastItem {
    type Spec = ();

    fn spec(&self) {}

    fn from_record((): (), tables: Vec<Table>) -> Result<Self, RepresentationError> {
        let ok = tables.len() == 2
            && tables[0].name() == "item_embedding"
            && tables[1].name() == "item_bias";
        if !ok {
            return Err(RepresentationError::Shape(
                "a last-item model has item_embedding and item_bias only".into(),
            ));
        }
        Ok(LastItem { tables })
    }
}

/// What `run` found.
#[derive(Debug)]
pub struct Outcome {
    /// Test MRR of the factorization model after its resumed run.
    pub factorization_mrr: f64,
    /// Next-item MRR of the sequence model after its resumed run.
    pub sequence_mrr: f64,
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what} does not hold").into())
    }
}

/// Writes a checkpoint after the first epoch, then stops the run as a crash would.
fn stop_after_first(model: &dyn Checkpoint, epoch: usize, dir: &Path) -> Result<(), NetrexError> {
    if epoch == 1 {
        model.save_checkpoint(dir, &Catalog::default())?;
        return Err(NetrexError::Training("stopped after epoch 1".into()));
    }
    Ok(())
}

/// Trains each model twice, once straight through and once stopped after its first epoch
/// with a checkpoint under `dir` and resumed from it; both runs must end with the same
/// tables. The finished model is saved and loaded back, and must score the same.
pub fn run(dir: &Path) -> Result<Outcome, Box<dyn Error>> {
    let catalog = Catalog::default();

    // a factorization representation of our own
    let train = zipf(&ZipfConfig {
        num_users: 200,
        num_items: 100,
        num_interactions: 4000,
        exponent: 0.8,
        seed: 1,
    })?;
    let test = zipf(&ZipfConfig {
        num_users: 200,
        num_items: 100,
        num_interactions: 1000,
        exponent: 0.8,
        seed: 2,
    })?;
    let config = TrainingConfig::builder()
        .embedding_dim(16)
        .epochs(3)
        .batch_size(256)
        .learning_rate(0.01)
        .seed(0)
        .build()?;
    let build = || {
        let representation = TemperedDot::new(200, 100, 16, 0.5, 7);
        ImplicitFactorizationModel::new(config.clone(), representation, Bpr::default())
    };
    let mut whole = build()?;
    whole.fit(&train)?;
    let factorization_dir = dir.join("factorization");
    let stopped = build()?.fit_with(&train, &mut |m, end| {
        stop_after_first(m, end.epoch, &factorization_dir)
    });
    check(stopped.is_err(), "the first run stopping")?;
    let (mut resumed, _) = ImplicitFactorizationModel::<TemperedDot, _>::load_checkpoint(
        &factorization_dir,
        Bpr::default(),
    )?;
    resumed.resume_with(&train, &mut |_, _| Ok(()))?;
    check(
        resumed.representation() == whole.representation(),
        "resumed tables == uninterrupted tables",
    )?;
    let saved = dir.join("factorization-final");
    resumed.save(&saved, &catalog)?;
    let (loaded, _) = ImplicitFactorizationModel::<TemperedDot, _>::load(&saved, Bpr::default())?;
    check(
        loaded.predict(3, &[0, 5, 9])? == resumed.predict(3, &[0, 5, 9])?,
        "loaded scores == saved scores",
    )?;
    check(
        loaded.representation().temperature == 0.5,
        "the temperature is restored",
    )?;
    let factorization_mrr = loaded
        .evaluate(&test, Some(&train), &EvalConfig::default())?
        .mrr;

    // a sequence representation of our own
    let sequences: Interactions = markov(&MarkovConfig {
        num_users: 30,
        num_items: 20,
        num_interactions: 1500,
        concentration: 0.01,
        order: 1,
        seed: 3,
    })?;
    let config = SequenceConfig {
        training: TrainingConfig::builder()
            .embedding_dim(8)
            .epochs(3)
            .batch_size(8)
            .learning_rate(0.02)
            .seed(0)
            .config(),
        max_len: 10,
        negatives: netrex::NegativeSampling::PerPosition,
    };
    let build =
        || ImplicitSequenceModel::new(config.clone(), LastItem::new(20, 8, 5), Bpr::default());
    let mut whole = build()?;
    whole.fit(&sequences)?;
    let sequence_dir = dir.join("sequence");
    let stopped = build()?.fit_with(&sequences, &mut |m, end| {
        stop_after_first(m, end.epoch, &sequence_dir)
    });
    check(stopped.is_err(), "the first run stopping")?;
    let (mut resumed, _) =
        ImplicitSequenceModel::<LastItem, _>::load_checkpoint(&sequence_dir, Bpr::default())?;
    resumed.resume_with(&sequences, &mut |_, _| Ok(()))?;
    check(
        resumed.representation() == whole.representation(),
        "resumed tables == uninterrupted tables",
    )?;
    let saved = dir.join("sequence-final");
    resumed.save(&saved, &catalog)?;
    let (loaded, _) = ImplicitSequenceModel::<LastItem, _>::load(&saved, Bpr::default())?;
    check(
        loaded.predict(&[1, 2, 3])? == resumed.predict(&[1, 2, 3])?,
        "loaded scores == saved scores",
    )?;
    // a file of one representation does not load as another
    check(
        ImplicitFactorizationModel::<TemperedDot, _>::load(&saved, Bpr::default()).is_err(),
        "a sequence file refused as a factorization model",
    )?;
    let histories =
        netrex::data::sequence::windows(&sequences.histories(), 20, 10, 2, 10)?.target_histories();
    let sequence_mrr = netrex::evaluation::sequence_mrr_score(
        &loaded,
        &histories,
        &netrex::evaluation::SequenceEvalConfig {
            exclude_seen: false,
            max_context: Some(10),
        },
    )?
    .mean;
    Ok(Outcome {
        factorization_mrr,
        sequence_mrr,
    })
}

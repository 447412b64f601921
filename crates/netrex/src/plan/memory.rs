//! What a run will allocate, estimated from its plan and its data's size before anything is
//! allocated, so that a run too large for the machine is an error naming the term that is too
//! large, not an abort half-way ("memory allocation of 51200025600 bytes failed").

use std::fmt;

use super::{ModelName, OptimizerName, PlanError, RunPlan, SamplingName};

/// The environment variable that sets the memory a run may use, in bytes (default: the
/// machine's available memory, from `/proc/meminfo`). Tests set it to fake a small machine.
pub const MEMORY_LIMIT_VAR: &str = "NETREX_MEMORY_LIMIT";

/// One allocation of a run: what it holds, and its size as a product of named factors.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// What it holds ("the full-catalog scores").
    pub what: String,
    /// The factors whose product is its size in bytes, each with its name.
    pub factors: Vec<(u128, String)>,
    /// What to change to make it smaller.
    pub hint: String,
}

impl Term {
    /// Its size in bytes.
    pub fn bytes(&self) -> u128 {
        self.factors
            .iter()
            .fold(1u128, |p, &(f, _)| p.saturating_mul(f))
    }
}

/// The terms of a run that are large enough to matter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Each allocation.
    pub terms: Vec<Term>,
}

/// A run whose estimate is above the memory the machine has.
#[derive(Clone, Debug, PartialEq)]
pub struct TooLarge {
    /// The largest term.
    pub term: Term,
    /// All terms together, in bytes.
    pub total: u128,
    /// What the machine has, in bytes.
    pub available: u64,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.term;
        let factors: Vec<String> = t
            .factors
            .iter()
            .map(|(n, what)| format!("{} {what}", thousands(*n)))
            .collect();
        write!(
            f,
            "{} need {}: {} (the run needs {} in all; this machine has {} available, \
             {MEMORY_LIMIT_VAR} to set it); use {}",
            t.what,
            size(t.bytes()),
            factors.join(" x "),
            size(self.total),
            size(self.available as u128),
            t.hint
        )
    }
}

/// `bytes` in TB, GB, MB or KB, one decimal.
pub fn size(bytes: u128) -> String {
    let b = bytes as f64;
    match b {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b => format!("{:.1} KB", b / 1e3),
    }
}

fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Estimate {
    /// Adds a term of `factors` (each a count and its name) with the `hint` that shrinks it.
    pub fn add(&mut self, what: &str, factors: &[(usize, &str)], hint: &str) {
        self.terms.push(Term {
            what: what.into(),
            factors: factors
                .iter()
                .map(|&(n, s)| (n as u128, s.into()))
                .collect(),
            hint: hint.into(),
        });
    }

    /// All terms together, in bytes.
    pub fn total(&self) -> u128 {
        self.terms
            .iter()
            .fold(0u128, |s, t| s.saturating_add(t.bytes()))
    }

    /// An error naming the largest term if the whole is above `available` bytes (no check when
    /// the machine's memory is unknown).
    pub fn fits(&self, available: Option<u64>) -> Result<(), PlanError> {
        let (Some(available), total) = (available, self.total()) else {
            return Ok(());
        };
        if total <= available as u128 {
            return Ok(());
        }
        let largest = self.terms.iter().max_by_key(|t| t.bytes());
        match largest {
            Some(term) => Err(PlanError::TooLarge(Box::new(TooLarge {
                term: term.clone(),
                total,
                available,
            }))),
            None => Ok(()),
        }
    }
}

/// The memory a run may use: `$NETREX_MEMORY_LIMIT` bytes if set, else the machine's
/// available memory (Linux), else unknown.
pub fn available_memory() -> Option<u64> {
    if let Some(limit) = std::env::var(MEMORY_LIMIT_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(limit.max(0.0) as u64);
    }
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// The size of the data a run trains on, known once it is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataSize {
    /// Users (rows of the user table, histories of a sequence model).
    pub users: usize,
    /// Items in the catalog.
    pub items: usize,
    /// Training interactions.
    pub interactions: usize,
    /// Named features of users and items, besides their ids.
    pub features: usize,
}

impl RunPlan {
    /// What training and testing the plan's model on data of `size` allocates.
    pub fn training_estimate(&self, size: DataSize) -> Estimate {
        let mut e = Estimate::default();
        if !self.model.kind.is_trained() {
            return e;
        }
        if self.model.kind.is_linear() {
            self.linear_terms(&mut e, size);
            return e;
        }
        let config = self.training_config();
        let dim = config.embedding_dim;
        let state = match self.training.optimizer {
            OptimizerName::Sgd => 1,
            OptimizerName::Adagrad => 2,
            OptimizerName::Adam => 3,
        };
        let sequence = self.model.kind.is_sequence();
        let rows = match sequence {
            true => size.items + 1 + size.features,
            false => size.users + size.items + size.features,
        };
        e.add(
            "the embedding tables and their optimizer state",
            &[
                (rows, "rows"),
                (dim + 1, "columns"),
                (state, "copies"),
                (4, "bytes"),
            ],
            "a smaller --dim",
        );
        // the scores of one user against the whole catalog, one buffer a scoring thread
        e.add(
            "the evaluation scores",
            &[
                (size.items, "items"),
                (config.threads, "threads"),
                (8, "bytes"),
            ],
            "fewer --threads",
        );
        if sequence {
            self.sequence_terms(&mut e, size, dim, config.batch_size);
        }
        e
    }

    fn linear_terms(&self, e: &mut Estimate, size: DataSize) {
        if self.model.kind == ModelName::Ease {
            let width = match self.model.precision {
                super::PrecisionName::F32 => 4,
                super::PrecisionName::F64 => 8,
            };
            // the Gram matrix, its Cholesky factor and the inverse, then the f32 weights
            e.add(
                "EASE's dense item-item matrices",
                &[
                    (size.items, "items"),
                    (size.items, "items"),
                    (3 * width + 4, "bytes"),
                ],
                "--model local-ease or --model ials (memory linear in the catalog), or fewer \
                 items (--min-item-interactions)",
            );
        } else if self.model.kind == ModelName::LocalEase {
            e.add(
                "the scalable EASE's weights",
                &[
                    (size.items, "items"),
                    (self.model.neighbours, "neighbours"),
                    (16, "bytes"),
                ],
                "fewer --neighbours",
            );
        } else {
            e.add(
                "iALS's factor tables",
                &[
                    (size.users + size.items, "rows"),
                    (self.training_config().embedding_dim, "columns"),
                    (4, "bytes"),
                ],
                "a smaller --dim",
            );
        }
        e.add(
            "the evaluation scores",
            &[
                (size.items, "items"),
                (self.training.threads, "threads"),
                (8, "bytes"),
            ],
            "fewer --threads",
        );
    }

    fn sequence_terms(&self, e: &mut Estimate, size: DataSize, dim: usize, batch: usize) {
        let max_len = self.max_len();
        let chunks = size.users + size.interactions / max_len.max(1);
        e.add(
            "the padded training rows",
            &[(chunks, "rows"), (max_len, "positions"), (12, "bytes")],
            "a smaller --max-len",
        );
        let layers = match self.model.kind {
            ModelName::Sasrec | ModelName::Bsarec | ModelName::Fmlp => 8 * self.model.blocks.max(1),
            ModelName::Cnn => 4 * self.model.dilations.len().max(1),
            _ => 8,
        };
        e.add(
            "a batch's activations",
            &[
                (batch, "rows"),
                (max_len, "positions"),
                (dim, "columns"),
                (layers, "layers"),
                (4, "bytes"),
            ],
            "a smaller --batch-size or --max-len",
        );
        if matches!(self.model.kind, ModelName::Sasrec | ModelName::Bsarec) {
            e.add(
                "the attention weights",
                &[
                    (batch, "rows"),
                    (self.model.heads * self.model.blocks, "heads"),
                    (max_len, "positions"),
                    (max_len, "positions"),
                    (8, "bytes"),
                ],
                "a smaller --batch-size or --max-len",
            );
        }
        let negatives = self
            .loss()
            .map_or(1, |l| netrex_losses::Loss::num_negatives(&l));
        let (what, width, hint) = match self.negative_sampling() {
            SamplingName::FullCatalog => (
                "the full-catalog scores",
                size.items,
                "--negative-sampling per-row or a smaller --batch-size",
            ),
            _ => (
                "the negative scores",
                negatives,
                "fewer --negatives or a smaller --batch-size",
            ),
        };
        // scores and their gradients
        e.add(
            what,
            &[
                (width, "items"),
                (max_len, "positions"),
                (batch, "rows"),
                (8, "bytes"),
            ],
            hint,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_too_large_is_named_with_its_factors() {
        let mut e = Estimate::default();
        e.add("small", &[(10, "rows"), (4, "bytes")], "less");
        e.add(
            "the full-catalog scores",
            &[
                (2_000_000, "items"),
                (200, "positions"),
                (32, "rows"),
                (4, "bytes"),
            ],
            "--negative-sampling per-row",
        );
        assert!(e.fits(Some(u64::MAX)).is_ok());
        assert!(e.fits(None).is_ok());
        let err = e.fits(Some(1 << 30)).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "the full-catalog scores need 51.2 GB: 2,000,000 items x 200 positions x 32 rows \
                 x 4 bytes"
            ),
            "{err}"
        );
        assert!(err.contains("--negative-sampling per-row"), "{err}");
    }

    #[test]
    fn sizes_never_overflow() {
        let mut e = Estimate::default();
        e.add(
            "huge",
            &[(usize::MAX, "a"), (usize::MAX, "b"), (usize::MAX, "c")],
            "",
        );
        assert_eq!(e.total(), u128::MAX);
        assert!(e.fits(Some(u64::MAX)).is_err());
    }
}

//! `netrex index`: an HNSW graph over a saved factorization model's items, written beside the
//! model as `hnsw.bin` for `netrex serve --approximate`.

use std::path::Path;
use std::time::Instant;

use netrex::retrieval::{HnswConfig, HnswIndex};

use crate::args::IndexArgs;
use crate::saved::load_factorization;
use crate::Failure;

/// The graph's file in a model folder.
pub(crate) const HNSW_FILE: &str = "hnsw.bin";

/// Runs `netrex index`.
pub(crate) fn index(args: IndexArgs) -> Result<(), Failure> {
    crate::guard::model_fits(&args.model)?;
    if netrex::is_sequence_model(&args.model) || netrex::linear::is_linear_model(&args.model) {
        return Err(format!(
            "{}: an HNSW graph indexes a factorization model's item vectors",
            args.model.display()
        )
        .into());
    }
    let (model, _) = load_factorization(&args.model)?;
    let vectors = model.vectors()?;
    let (_, items) = vectors.folded();
    let config = HnswConfig {
        m: args.m,
        ef_construction: args.ef_construction,
        seed: args.seed,
    };
    let start = Instant::now();
    let graph = HnswIndex::build(&items, vectors.dim + 2, None, config)?;
    let path = args.model.join(HNSW_FILE);
    graph.save(&path)?;
    println!(
        "indexed {} items (m {}, ef_construction {}, seed {}) in {:.1} s: {}",
        graph.num_items(),
        config.m,
        config.ef_construction,
        config.seed,
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// The graph saved in `dir`, checked against the model's folded item rows `items` (`width`
/// values each): a graph built for another model, or before the model was retrained, is an
/// error, not a wrong answer.
pub(crate) fn load_graph(dir: &Path, items: &[f32], width: usize) -> Result<HnswIndex, Failure> {
    let path = dir.join(HNSW_FILE);
    if !path.exists() {
        return Err(format!(
            "{}: no {HNSW_FILE}; build it with `netrex index --model {}`",
            dir.display(),
            dir.display()
        )
        .into());
    }
    let graph = HnswIndex::load(&path)?;
    if !graph.matches(items, width, None) {
        return Err(format!(
            "{}: the graph was built from other item vectors (the model was saved again?); \
             rebuild it with `netrex index --model {}`",
            path.display(),
            dir.display()
        )
        .into());
    }
    Ok(graph)
}

//! Items like an item, from a factorization model's item vectors (feature rows summed on a
//! side made of features), through netrex-retrieval's exact search.

use netrex_losses::Loss;
use netrex_representations::FactorizationRepresentation;
use netrex_retrieval::{Filter, ItemIndex, Similarity};
use netrex_train::{ImplicitFactorizationModel, NetrexError};

/// The `k` items most similar to each of `items` (dense ids; each leaves itself out), best
/// first with their similarity, leaving out `deny`.
pub fn similar_items<R: FactorizationRepresentation, L: Loss>(
    model: &ImplicitFactorizationModel<R, L>,
    items: &[u32],
    k: usize,
    (similarity, deny): (Similarity, &[u32]),
) -> Result<Vec<Vec<(u32, f32)>>, NetrexError> {
    let vectors = model.vectors()?;
    let index = ItemIndex::new(vectors.items, vectors.dim, None)
        .map_err(|e| NetrexError::Training(e.to_string()))?;
    let filter = Filter {
        deny,
        ..Filter::default()
    };
    items
        .iter()
        .map(|&item| {
            let ranked = index
                .similar_items(item, k, similarity, &filter)
                .map_err(|e| NetrexError::Training(e.to_string()))?;
            Ok(ranked.iter().map(|r| (r.id, r.score)).collect())
        })
        .collect()
}

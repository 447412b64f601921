//! A factorization model as plain vectors: every user's and item's row and bias, summed from
//! features on a side made of them, so that `user · item + user bias + item bias` is the
//! model's score. What a retrieval index holds and what an export writes.

use serde::{Deserialize, Serialize};

use super::*;

/// Every user's and item's vector (`count x dim`, row-major) and bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vectors {
    /// The embedding dimension.
    pub dim: usize,
    /// User vectors, `users x dim`.
    pub users: Vec<f32>,
    /// User biases.
    pub user_biases: Vec<f32>,
    /// Item vectors, `items x dim`.
    pub items: Vec<f32>,
    /// Item biases.
    pub item_biases: Vec<f32>,
}

impl Vectors {
    /// Users as rows of `dim + 2` values `[p_u, 1, b_u]` and items as `[q_i, b_i, 1]`, so that
    /// one dot product is the model's score `p_u · q_i + b_i + b_u`: what a vector store
    /// that ranks by inner product needs.
    pub fn folded(&self) -> (Vec<f32>, Vec<f32>) {
        let fold = |rows: &[f32], biases: &[f32], user: bool| -> Vec<f32> {
            rows.chunks_exact(self.dim.max(1))
                .zip(biases)
                .flat_map(|(row, &b)| {
                    let tail = if user { [1.0, b] } else { [b, 1.0] };
                    row.iter().copied().chain(tail)
                })
                .collect()
        };
        (
            fold(&self.users, &self.user_biases, true),
            fold(&self.items, &self.item_biases, false),
        )
    }
}

impl<R: FactorizationRepresentation, L: Loss, D: ComputeDevice>
    ImplicitFactorizationModel<R, L, D>
{
    /// The model's vectors and biases (needs the bilinear kernel, as fold-in does: every
    /// built-in factorization representation has it).
    pub fn vectors(&self) -> Result<Vectors, NetrexError> {
        let kernel = self.kernel.as_ref().ok_or_else(|| {
            NetrexError::Training("the model's vectors need a bilinear kernel".into())
        })?;
        let tables = self.representation.tables();
        let (users, user_biases) = kernel.user_rows(tables, self.representation.num_users());
        let (items, item_biases) = kernel.item_rows(tables, self.representation.num_items());
        Ok(Vectors {
            dim: kernel.dim,
            users,
            user_biases,
            items,
            item_biases,
        })
    }
}

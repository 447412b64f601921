//! One name for the tapes a representation's forward pass records on.

use dfdx::prelude::*;

/// A dfdx tape that a forward pass can record on and merge with an empty one (a tensor read
/// twice is read once through a retaped copy). Every `Tape<f32, D> + Merge<NoneTape>` is one,
/// so a representation written with the long bound still implements the traits.
pub trait Taped<D: Device<f32>>: Tape<f32, D> + Merge<NoneTape> {}

impl<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>> Taped<D> for T {}

//! Reading saved models: the loss a model file names, the model itself, and the check that
//! data maps ids as the model was trained.

use netrex::data::Dataset;
use netrex::losses::BuiltinLoss;
use netrex::prelude::*;

use crate::Failure;

/// The built-in loss a saved model was trained with (the model files name it).
pub(crate) fn saved_loss(dir: &std::path::Path, sequence: bool) -> Result<BuiltinLoss, Failure> {
    let name = if sequence {
        netrex::saved_sequence_loss_name(dir)?
    } else {
        netrex::saved_loss_name(dir)?
    };
    BuiltinLoss::from_name(&name, None).ok_or_else(|| {
        format!(
            "{}: trained with loss {name:?}, which this netrex does not know",
            dir.display()
        )
        .into()
    })
}

/// Loads the saved factorization model in `dir`.
pub(crate) fn load_factorization(
    dir: &std::path::Path,
) -> Result<(ImplicitFactorizationModel<Hybrid, BuiltinLoss>, Catalog), Failure> {
    Ok(ImplicitFactorizationModel::load(
        dir,
        saved_loss(dir, false)?,
    )?)
}

/// Loads the saved sequence model in `dir`.
pub(crate) fn load_sequence(
    dir: &std::path::Path,
) -> Result<(ImplicitSequenceModel<AnySequence, BuiltinLoss>, Catalog), Failure> {
    Ok(ImplicitSequenceModel::load(dir, saved_loss(dir, true)?)?)
}

/// The data must map ids the way the model was trained, or its scores mean nothing.
pub(crate) fn check_same_ids(catalog: &Catalog, data: &Dataset) -> Result<(), Failure> {
    if let (Some(users), Some(items)) = (&catalog.users, &catalog.items) {
        let sizes = |u: usize, i: usize| format!("{u} users x {i} items");
        if users != &data.users || items != &data.items {
            return Err(format!(
                "the data's ids do not match the model's (the data has {}, the model {}): use \
                 the dataset and split it was trained on",
                sizes(data.users.len(), data.items.len()),
                sizes(users.len(), items.len())
            )
            .into());
        }
    }
    Ok(())
}

//! `netrex recommend`: the best items for a user (factorization) or after a history
//! (sequence models), raw ids in and out.

use serde_json::json;

use netrex::data::RawId;

use crate::args::RecommendArgs;
use crate::evaluate::{load_factorization, load_sequence};
use crate::report::print_recommendations;
use crate::Failure;

/// Runs `netrex recommend`.
pub(crate) fn recommend(args: RecommendArgs) -> Result<(), Failure> {
    if netrex::sequence_persist::is_sequence_model(&args.model) {
        return recommend_sequence(args);
    }
    let (model, catalog) = load_factorization(&args.model)?;
    let user = args
        .user
        .as_deref()
        .ok_or("a factorization model recommends for a user: give --user ID")?;
    let raw = RawId::parse(user);
    let user = catalog.user_index(&raw)?;
    let exclude: &[u32] = match (&catalog.seen, args.include_seen) {
        (Some(seen), false) => seen.get(user as usize),
        _ => &[],
    };
    let items = model.recommend(user, args.k, exclude)?;
    print_recommendations(
        &items,
        &catalog,
        json!({"user": raw.to_string()}),
        args.json,
    );
    Ok(())
}

fn recommend_sequence(args: RecommendArgs) -> Result<(), Failure> {
    let (model, catalog) = load_sequence(&args.model)?;
    let text = args
        .items
        .as_deref()
        .ok_or("a sequence model recommends from a history: give --items a,b,c")?;
    let items = catalog.items.as_ref().ok_or("the model has no item ids")?;
    let history: Vec<u32> = text
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| items.index_of(&RawId::parse(t.trim()), "item"))
        .collect::<Result<_, _>>()?;
    let recs = model.recommend(&history, args.k, !args.include_seen)?;
    print_recommendations(&recs, &catalog, json!({"history": text}), args.json);
    Ok(())
}

//! `netrex recommend`: the best items for a user (factorization) or after a history
//! (sequence models), raw ids in and out.

use serde_json::json;

use netrex::data::{IdMap, RawId};
use netrex::FoldIn;

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
    if let (None, Some(text)) = (&args.user, &args.items) {
        // a user the model has not seen: folded in from their items, no retraining
        let items = catalog.items.as_ref().ok_or("the model has no item ids")?;
        let chosen = item_indices(items, text)?;
        let folded = model.fold_in(&chosen, &FoldIn::default())?;
        let exclude: &[u32] = if args.include_seen { &[] } else { &chosen };
        let recs = model.recommend_folded(&folded, args.k, exclude)?;
        print_recommendations(&recs, &catalog, json!({"items": text}), args.json);
        return Ok(());
    }
    let user = args
        .user
        .as_deref()
        .ok_or("a factorization model recommends for a user (--user ID) or for a new user's items (--items a,b,c)")?;
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
    let history = item_indices(items, text)?;
    let recs = model.recommend(&history, args.k, !args.include_seen)?;
    print_recommendations(&recs, &catalog, json!({"history": text}), args.json);
    Ok(())
}

/// `a,b,c` (raw item ids) as dense ids; an unknown one is an error naming it.
fn item_indices(items: &IdMap<RawId>, text: &str) -> Result<Vec<u32>, Failure> {
    Ok(text
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| items.index_of(&RawId::parse(t.trim()), "item"))
        .collect::<Result<_, _>>()?)
}

//! `netrex recommend`: the best items for a user (factorization) or after a history
//! (sequence models), raw ids in and out.

use serde_json::json;

use std::path::Path;

use netrex::data::{read_feature_file, IdMap, RawId};
use netrex::losses::BuiltinLoss;
use netrex::prelude::*;
use netrex::retrieval::Similarity;
use netrex::similar::similar_items;
use netrex::{FeatureNames, FoldIn};

type Model = ImplicitFactorizationModel<Hybrid, BuiltinLoss>;

use crate::args::{RecommendArgs, SimilarityArg};
use crate::report::print_recommendations;
use crate::saved::{load_factorization, load_sequence};
use crate::Failure;

/// Runs `netrex recommend`.
pub(crate) fn recommend(args: RecommendArgs) -> Result<(), Failure> {
    crate::guard::model_fits(&args.model)?;
    let factorization =
        !netrex::is_sequence_model(&args.model) && !netrex::linear::is_linear_model(&args.model);
    if args.similar_to.is_some() && !factorization {
        return Err("--similar-to ranks items by a factorization model's item vectors".into());
    }
    if netrex::is_sequence_model(&args.model) {
        return recommend_sequence(args);
    }
    if netrex::linear::is_linear_model(&args.model) {
        return recommend_linear(args);
    }
    let (mut model, mut catalog) = load_factorization(&args.model)?;
    let known = model.representation().num_items() as u32;
    if let Some(file) = &args.item_features {
        (model, catalog) = add_new(model, catalog, file, "item")?;
    }
    if let Some(file) = &args.user_features {
        (model, catalog) = add_new(model, catalog, file, "user")?;
    }
    // --new-only: every item the model knew is left out
    let old: Vec<u32> = if args.new_only {
        (0..known).collect()
    } else {
        Vec::new()
    };
    let leave_out = |seen: &[u32]| -> Vec<u32> { seen.iter().chain(&old).copied().collect() };
    if let Some(raw) = &args.similar_to {
        let items = catalog.items.as_ref().ok_or("the model has no item ids")?;
        let [item] = item_indices(items, raw)?[..] else {
            return Err("--similar-to takes one item id".into());
        };
        let similarity = match args.similarity {
            SimilarityArg::Cosine => Similarity::Cosine,
            SimilarityArg::Dot => Similarity::Dot,
        };
        let ranked = similar_items(&model, &[item], args.k, (similarity, &old))?;
        print_recommendations(&ranked[0], &catalog, json!({"similar_to": raw}), args.json);
        return Ok(());
    }
    if let (None, Some(text)) = (&args.user, &args.items) {
        // a user the model has not seen: folded in from their items, no retraining
        let items = catalog.items.as_ref().ok_or("the model has no item ids")?;
        let chosen = item_indices(items, text)?;
        let folded = model.fold_in(&chosen, &FoldIn::default())?;
        let exclude = leave_out(if args.include_seen { &[] } else { &chosen });
        let recs = model.recommend_folded(&folded, args.k, &exclude)?;
        print_recommendations(&recs, &catalog, json!({"items": text}), args.json);
        return Ok(());
    }
    let user = args
        .user
        .as_deref()
        .ok_or("a factorization model recommends for a user (--user ID) or for a new user's items (--items a,b,c)")?;
    let raw = RawId::parse(user);
    let user = catalog.user_index(&raw)?;
    let exclude = leave_out(match (&catalog.seen, args.include_seen) {
        (Some(seen), false) => seen.get(user as usize),
        _ => &[],
    });
    let items = model.recommend(user, args.k, &exclude)?;
    print_recommendations(
        &items,
        &catalog,
        json!({"user": raw.to_string()}),
        args.json,
    );
    Ok(())
}

/// The feature rows of the ids in `file` that `ids` does not know yet (added to `ids`), built
/// through the feature names saved with the model.
fn new_rows(
    names: &FeatureNames,
    ids: &mut IdMap<RawId>,
    file: &Path,
    kind: &'static str,
) -> Result<Vec<Vec<(u32, f32)>>, Failure> {
    let known = ids.len();
    let features = read_feature_file(file, kind, ids)?;
    let rows = (known..ids.len())
        .map(|id| {
            let (f, w) = features.row(id as u32);
            let named = f.iter().zip(w).map(|(&f, &w)| {
                let name = features.names().raw(f).map_or("", String::as_str);
                (name, w)
            });
            names.row(named).map_err(|e| {
                let raw = ids
                    .raw(id as u32)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                format!("{}: {kind} {raw}: {e}", file.display())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        return Err(format!(
            "{}: every {kind} in it is known to the model",
            file.display()
        )
        .into());
    }
    Ok(rows)
}

/// The model and catalog with the users or items (`kind`) of `file` it never saw added, each
/// made of its features.
fn add_new(
    model: Model,
    mut catalog: Catalog,
    file: &Path,
    kind: &'static str,
) -> Result<(Model, Catalog), Failure> {
    let item = kind == "item";
    let (names, ids) = if item {
        (&catalog.item_features, &catalog.items)
    } else {
        (&catalog.user_features, &catalog.users)
    };
    let names = names.as_ref().ok_or_else(|| {
        format!(
            "--{kind}-features adds {kind}s to a hybrid model trained with --{kind}-features; \
             this model has no {kind} features"
        )
    })?;
    let mut ids = ids
        .clone()
        .ok_or_else(|| format!("the model has no {kind} ids"))?;
    let rows = new_rows(names, &mut ids, file, kind)?;
    if item {
        let model = model.with_new_items(&rows)?;
        if let Some(titles) = &mut catalog.titles {
            titles.resize(ids.len(), String::new());
        }
        catalog.items = Some(ids);
        Ok((model, catalog))
    } else {
        let model = model.with_new_users(&rows)?;
        catalog.users = Some(ids);
        Ok((model, catalog))
    }
}

fn recommend_sequence(args: RecommendArgs) -> Result<(), Failure> {
    if args.item_features.is_some() || args.user_features.is_some() {
        return Err(
            "--item-features and --user-features add new items and users to a hybrid \
             factorization model; a sequence model ranks the items it was trained with"
                .into(),
        );
    }
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

/// `recommend` from an EASE or iALS model: for a training user, or for a new user's items
/// (EASE scores them directly; iALS folds them in).
fn recommend_linear(args: RecommendArgs) -> Result<(), Failure> {
    use netrex::evaluation::rank::top_k;
    if args.item_features.is_some() || args.user_features.is_some() || args.new_only {
        return Err(
            "EASE and iALS know no features: they recommend among the items they \
                    were trained on"
                .into(),
        );
    }
    let (model, catalog) = crate::linear::load_linear(&args.model)?;
    let n = model.num_items();
    let mut scores = vec![0.0f32; n];
    let (header, exclude) = match (&args.user, &args.items) {
        (None, Some(text)) => {
            let items = catalog.items.as_ref().ok_or("the model has no item ids")?;
            let chosen = item_indices(items, text)?;
            model.score_new(&chosen, &mut scores)?;
            let exclude = if args.include_seen {
                Vec::new()
            } else {
                chosen
            };
            (json!({"items": text}), exclude)
        }
        (Some(user), _) => {
            let raw = RawId::parse(user);
            let u = catalog.user_index(&raw)?;
            model.score_items(u, &mut scores);
            let exclude = match args.include_seen {
                true => Vec::new(),
                false => model.train().get(u as usize).to_vec(),
            };
            (json!({"user": raw.to_string()}), exclude)
        }
        (None, None) => {
            return Err(
                "recommend for a user (--user ID) or for a new user's items (--items a,b,c)".into(),
            )
        }
    };
    let mut candidates: Vec<(f32, u32)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, i as u32))
        .filter(|(_, i)| !exclude.contains(i))
        .collect();
    let recs: Vec<(u32, f32)> = top_k(&mut candidates, args.k)
        .iter()
        .map(|&(s, i)| (i, s))
        .collect();
    print_recommendations(&recs, &catalog, header, args.json);
    Ok(())
}

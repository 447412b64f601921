//! Reading and splitting the data a command names.

use netrex::data::cold::{cold_split, random_cold_split, read_id_list, Side};
use netrex::data::ingest::locate;
use netrex::data::ingest::{
    load_csv, load_csv_pair, load_movielens, load_movielens_split, ColumnMapping, CsvFormat,
};
use netrex::data::split::{leave_last_k, random_split, temporal_split, user_split};
use netrex::data::synthetic::{markov, tiled, MarkovConfig};
use netrex::data::{
    movielens_item_features, movielens_user_features, read_feature_file, read_sequence_file,
    Dataset, Features, IdMap, RawId, TrainTest,
};
use netrex::plan::memory::{available_memory, DataSize};
use netrex::plan::{name_of, DatasetName, RunPlan, SplitName};
use netrex::prelude::EvalConfig;
use std::path::Path;

use crate::Failure;

/// A dataset and its split.
#[derive(Clone)]
pub(crate) struct Split {
    /// The data and its id maps.
    pub(crate) data: Dataset,
    /// Train and test.
    pub(crate) parts: TrainTest,
    /// A cold-start split's side and cold ids (dense).
    pub(crate) cold: Option<(Side, Vec<u32>)>,
    /// `--user-features`, over the dataset's user ids (ids only they mention are added).
    pub(crate) user_features: Option<Features>,
    /// `--item-features`, likewise.
    pub(crate) item_features: Option<Features>,
    /// What the test set held that training never saw, and was left out of it.
    pub(crate) unseen: Unseen,
}

/// Test users and items that training never saw. A user without training interactions has
/// an untrained row: their test interactions are left out of the metrics. An item without
/// training interactions is still trained, as a negative, so it stays a target (a miss the
/// model earned; leaving it out would flatter the model); it is counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Unseen {
    /// Test users with no training interaction (their test interactions are left out).
    pub(crate) users: usize,
    /// Test items with no training interaction (kept as targets).
    pub(crate) items: usize,
    /// Test interactions left out.
    pub(crate) interactions: usize,
}

impl Unseen {
    /// The report's JSON fields.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "unseen_test_users": self.users,
            "unseen_test_items": self.items,
            "excluded_test_interactions": self.interactions,
        })
    }

    /// What was left out or kept, on stderr.
    pub(crate) fn warn(&self) {
        if self.interactions > 0 {
            eprintln!(
                "warning: {} test interactions left out: their {} users never occur in \
                 training, so no model has a trained row for them",
                self.interactions, self.users
            );
        }
        if self.items > 0 {
            eprintln!(
                "note: {} test items never occur in training; they stay targets (every item \
                 row trains as a negative)",
                self.items
            );
        }
    }
}

impl Split {
    /// A split with no cold ids and no features (yet).
    fn warm(data: Dataset, parts: TrainTest) -> Split {
        Split {
            data,
            parts,
            cold: None,
            user_features: None,
            item_features: None,
            unseen: Unseen::default(),
        }
    }

    /// The items a test user ranks: the cold ones of a cold-items split, else all.
    pub(crate) fn candidates(&self) -> Option<Vec<u32>> {
        match &self.cold {
            Some((Side::Items, cold)) => Some(cold.clone()),
            _ => None,
        }
    }

    /// `config` ranking [`candidates`](Self::candidates) only.
    pub(crate) fn eval_config(&self, config: EvalConfig) -> EvalConfig {
        EvalConfig {
            candidates: self.candidates(),
            ..config
        }
    }
}

/// The data `plan` names, split as it says, with the side features it names.
pub(crate) fn load(plan: &RunPlan) -> Result<Split, Failure> {
    let mut split = load_split(plan)?;
    let data = &mut split.data;
    let f = &plan.features;
    split.item_features = read_features(plan, f.item.as_deref(), Side::Items, &mut data.items)?;
    split.user_features = read_features(plan, f.user.as_deref(), Side::Users, &mut data.users)?;
    // ids that only a features file names join the catalog with no interactions, scored from
    // their features
    let (users, items) = (data.users.len(), data.items.len());
    let parts = &mut split.parts;
    let added = (
        users.saturating_sub(parts.train.num_users()),
        items.saturating_sub(parts.train.num_items()),
    );
    if added != (0, 0) {
        if !plan.output.json {
            eprintln!(
                "features: {} users and {} items that have no interactions were added from the \
                 features files",
                added.0, added.1
            );
        }
        let grow = |x: &netrex::data::Interactions| x.clone().with_counts(users, items);
        (parts.train, parts.test) = (grow(&parts.train)?, grow(&parts.test)?);
    }
    Ok(split)
}

/// `split` with the test interactions of users that training never saw left out (unless
/// `users_scored`: the users have features, or a sequence model reads histories instead), and
/// the test items it never saw counted.
pub(crate) fn drop_unseen(mut split: Split, users_scored: bool) -> Split {
    let (train, test) = (&split.parts.train, &split.parts.test);
    let seen = |ids: &[u32], n: usize| {
        let mut seen = vec![false; n];
        ids.iter().for_each(|&i| seen[i as usize] = true);
        seen
    };
    let unseen = |ids: &[u32], seen: &[bool]| {
        let mut out: Vec<u32> = ids.iter().copied().filter(|&i| !seen[i as usize]).collect();
        out.sort_unstable();
        out.dedup();
        out.len()
    };
    let seen_users = seen(train.users(), test.num_users().max(train.num_users()));
    let seen_items = seen(train.items(), test.num_items().max(train.num_items()));
    split.unseen.items = unseen(test.items(), &seen_items);
    if users_scored {
        return split;
    }
    split.unseen.users = unseen(test.users(), &seen_users);
    if split.unseen.users > 0 {
        let kept = test.filter(|r| seen_users[test.users()[r] as usize]);
        split.unseen.interactions = test.len() - kept.len();
        split.parts.test = kept;
    }
    split
}

/// The features `source` names (a file, or `movielens` for the release's own), raw ids mapped
/// through `ids`.
fn read_features(
    plan: &RunPlan,
    source: Option<&str>,
    side: Side,
    ids: &mut IdMap<RawId>,
) -> Result<Option<Features>, Failure> {
    let Some(source) = source else {
        return Ok(None);
    };
    let kind = match side {
        Side::Items => "item",
        Side::Users => "user",
    };
    if source != "movielens" {
        return Ok(Some(read_feature_file(Path::new(source), kind, ids)?));
    }
    let data = &plan.data;
    let release = data.dataset.and_then(DatasetName::movielens).ok_or_else(|| {
        format!("--{kind}-features movielens reads a MovieLens release: give --dataset ml-100k or ml-1m, or a features file")
    })?;
    let dir = locate(release, data.data_dir.as_deref())?;
    Ok(Some(match side {
        Side::Items => movielens_item_features(release, &dir, ids)?,
        Side::Users => movielens_user_features(release, &dir, ids)?,
    }))
}

fn load_split(plan: &RunPlan) -> Result<Split, Failure> {
    let warm = |(data, parts)| Split::warm(data, parts);
    let (args, split) = (&plan.data, plan.split_method());
    if let Some(csv) = &args.csv {
        let format = csv_format(&args.separator)?;
        if let Some(test) = &args.test_csv {
            let columns = columns(plan);
            let pair = load_csv_pair(csv, test, &format, &columns, args.min_rating)?;
            return Ok(warm(pair));
        }
        let data = load_csv(csv, &format, &columns(plan), args.min_rating)?;
        return split_of(plan, data, split);
    }
    if let Some(data) = read_sequences(plan)? {
        return split_of(plan, data, split);
    }
    let name = args
        .dataset
        .ok_or("give --dataset NAME, --csv PATH or --sequences FILE")?;
    let Some(release) = name.movielens() else {
        let data = synthetic(plan, name)?;
        return split_of(plan, data, split);
    };
    if let Some(official) = split.official() {
        let dir = args.data_dir.as_deref();
        return Ok(warm(load_movielens_split(dir, official, args.min_rating)?));
    }
    let data = load_movielens(release, args.data_dir.as_deref(), args.min_rating)?;
    split_of(plan, data, split)
}

/// The sequence file or Amazon dataset `args` name, if they name one.
fn read_sequences(plan: &RunPlan) -> Result<Option<Dataset>, Failure> {
    let args = &plan.data;
    if let Some(file) = &args.sequences {
        return Ok(Some(read_sequence_file(file)?));
    }
    match args.dataset.and_then(DatasetName::amazon) {
        Some(amazon) => Ok(Some(amazon.load(args.data_dir.as_deref())?)),
        None => Ok(None),
    }
}

/// The whole dataset `args` name, unsplit, for the next-item protocol (which splits it
/// leave-one-out): a sequence file, an Amazon dataset, MovieLens (ML-1M keeping the movies
/// with at least 5 ratings unless `--min-item-interactions` says otherwise), a CSV file
/// (with a timestamp column) or synthetic data.
pub(crate) fn load_unsplit(plan: &RunPlan) -> Result<Dataset, Failure> {
    let args = &plan.data;
    let data = if let Some(data) = read_sequences(plan)? {
        data
    } else if let Some(csv) = &args.csv {
        let format = csv_format(&args.separator)?;
        load_csv(csv, &format, &columns(plan), args.min_rating)?
    } else {
        let name = args
            .dataset
            .ok_or("give --dataset NAME, --csv PATH or --sequences FILE")?;
        match name.movielens() {
            Some(release) => load_movielens(release, args.data_dir.as_deref(), args.min_rating)?,
            None => synthetic(plan, name)?,
        }
    };
    match plan.min_item_interactions() {
        Some(n) => Ok(data.keep_items_with_at_least(n)?),
        None => Ok(data),
    }
}

fn columns(plan: &RunPlan) -> ColumnMapping {
    let args = &plan.data;
    let mut m = ColumnMapping::new(&args.user_col, &args.item_col);
    m.timestamp = args.timestamp_col.clone();
    m.rating = args.rating_col.clone();
    m.weight = args.weight_col.clone();
    m
}

fn csv_format(separator: &str) -> Result<CsvFormat, Failure> {
    let separator = match separator {
        "tab" | "\\t" => b'\t',
        s if s.len() == 1 => s.as_bytes()[0],
        s => return Err(format!("--separator must be one character, got {s:?}").into()),
    };
    Ok(CsvFormat {
        separator,
        ..CsvFormat::default()
    })
}

fn split_of(plan: &RunPlan, data: Dataset, split: SplitName) -> Result<Split, Failure> {
    let (args, seed) = (&plan.split, plan.training.seed);
    let x = &data.interactions;
    let cold_side = match split {
        SplitName::ColdItems => Some((Side::Items, &args.cold_items, &data.items)),
        SplitName::ColdUsers => Some((Side::Users, &args.cold_users, &data.users)),
        _ => None,
    };
    if let Some((side, file, ids)) = cold_side {
        let (parts, cold) = match file {
            Some(path) => {
                let cold = read_id_list(path, side, ids)?;
                (cold_split(x, side, &cold)?, cold)
            }
            None => random_cold_split(x, side, args.test_fraction, seed)?,
        };
        return Ok(Split {
            cold: Some((side, cold)),
            ..Split::warm(data, parts)
        });
    }
    let parts = match split {
        SplitName::Random => random_split(x, args.test_fraction, seed)?,
        SplitName::User => user_split(x, args.test_fraction, seed)?,
        SplitName::LeaveLast => leave_last_k(x, args.leave_last)?,
        SplitName::Temporal => temporal_split(x, args.test_fraction)?,
        other => {
            // the plan's check rules these out before any data is read
            let name = name_of(&other);
            return Err(format!("the split {name} does not apply to this data").into());
        }
    };
    Ok(Split::warm(data, parts))
}

/// A synthetic dataset wrapped as a `Dataset` (ids are their own raw ids).
fn synthetic(plan: &RunPlan, name: DatasetName) -> Result<Dataset, Failure> {
    let (args, seed) = (&plan.data.synthetic, plan.training.seed);
    let interactions = match name {
        DatasetName::SyntheticTiled => tiled(args.rows, args.length)?,
        _ => markov(&MarkovConfig {
            num_users: args.users,
            num_items: args.items,
            num_interactions: args.interactions,
            concentration: args.concentration,
            order: args.order,
            seed,
        })?,
    };
    let ids = |n: usize| IdMap::from_raw((0..n as i64).map(RawId::Int).collect());
    Ok(Dataset {
        users: ids(interactions.num_users())?,
        items: ids(interactions.num_items())?,
        item_titles: None,
        report: Default::default(),
        interactions,
    })
}

/// The data of a plan, with what it says about itself checked: its size against the memory
/// training needs, and test interactions no model can score left out (and reported).
pub(crate) fn load_checked(plan: &RunPlan) -> Result<Split, Failure> {
    let split = load(plan)?;
    let features = |f: &Option<Features>| f.as_ref().map_or(0, |f| f.names().len());
    let size = DataSize {
        users: split.data.users.len(),
        items: split.data.items.len(),
        interactions: split.parts.train.len(),
        features: features(&split.item_features) + features(&split.user_features),
    };
    plan.training_estimate(size).fits(available_memory())?;
    // a sequence model reads histories, not user rows; users with features (the cold ones of a
    // cold-users split among them) are scored from their features
    let users = !plan.model.kind.is_trained()
        || plan.model.kind.is_sequence()
        || split.user_features.is_some();
    let split = drop_unseen(split, users);
    if split.parts.test.is_empty() && split.unseen.interactions > 0 {
        return Err(format!(
            "every test user is new to training ({} users), and a factorization model has no row              for a user it never saw: use a sequence model, popularity, user features or a split              that keeps users in training",
            split.unseen.users
        )
        .into());
    }
    if !plan.output.json {
        describe(&split.data, &split.parts);
        split.unseen.warn();
    }
    Ok(split)
}

/// A cold-items split's training items, which negatives are drawn from (unless
/// `sample_cold_items`): the cold items stay unseen in training, as new items are.
pub(crate) fn negative_items(plan: &RunPlan, split: &Split) -> Option<Vec<u32>> {
    if plan.split.sample_cold_items || !matches!(split.cold, Some((Side::Items, _))) {
        return None;
    }
    let mut seen = vec![false; split.data.items.len()];
    split
        .parts
        .train
        .items()
        .iter()
        .for_each(|&i| seen[i as usize] = true);
    Some(
        (0..seen.len() as u32)
            .filter(|&i| seen[i as usize])
            .collect(),
    )
}

/// One line on stderr: the data's size and split.
pub(crate) fn describe(data: &Dataset, parts: &TrainTest) {
    eprintln!(
        "data: {} users, {} items; train {} / test {} interactions",
        data.users.len(),
        data.items.len(),
        parts.train.len(),
        parts.test.len()
    );
}

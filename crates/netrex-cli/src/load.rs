//! Reading and splitting the data a command names.

use clap::ValueEnum;
use netrex::data::cold::{cold_split, random_cold_split, read_id_list, Side};
use netrex::data::ingest::locate;
use netrex::data::ingest::{
    load_csv, load_csv_pair, load_movielens, load_movielens_split, ColumnMapping, CsvFormat,
};
use netrex::data::split::{leave_last_k, random_split, temporal_split, user_split};
use netrex::data::synthetic::{markov, tiled, MarkovConfig};
use netrex::data::{
    movielens_item_features, movielens_user_features, read_feature_file, read_sequence_file,
    Dataset, Features, IdMap, MovieLens, RawId, TrainTest,
};
use netrex::prelude::EvalConfig;
use std::path::Path;

use crate::args::{DataArgs, DatasetName, SplitName};
use crate::Failure;

/// A dataset and its split.
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
}

impl Split {
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

/// The dataset `args` names, split by `--split` or, without it, by `default` (else the
/// dataset's usual split: ua for ML-100K, user for synthetic data, random otherwise), with the
/// side features it names.
pub(crate) fn load(
    args: &DataArgs,
    seed: u64,
    default: Option<SplitName>,
) -> Result<Split, Failure> {
    let mut split = load_split(args, seed, default)?;
    let data = &mut split.data;
    split.item_features = read_features(
        args,
        args.item_features.as_deref(),
        Side::Items,
        &mut data.items,
    )?;
    split.user_features = read_features(
        args,
        args.user_features.as_deref(),
        Side::Users,
        &mut data.users,
    )?;
    Ok(split)
}

/// The features `source` names (a file, or `movielens` for the release's own), raw ids mapped
/// through `ids`.
fn read_features(
    args: &DataArgs,
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
    let release = args.dataset.and_then(DatasetName::movielens).ok_or_else(|| {
        format!("--{kind}-features movielens reads a MovieLens release: give --dataset ml-100k or ml-1m, or a features file")
    })?;
    let dir = locate(release, args.data_dir.as_deref())?;
    Ok(Some(match side {
        Side::Items => movielens_item_features(release, &dir, ids)?,
        Side::Users => movielens_user_features(release, &dir, ids)?,
    }))
}

fn load_split(args: &DataArgs, seed: u64, default: Option<SplitName>) -> Result<Split, Failure> {
    let warm = |(data, parts)| Split {
        data,
        parts,
        cold: None,
        user_features: None,
        item_features: None,
    };
    let split = args.split.or(default);
    for (given, name, needs) in [
        (
            args.cold_items.is_some(),
            "--cold-items",
            SplitName::ColdItems,
        ),
        (
            args.cold_users.is_some(),
            "--cold-users",
            SplitName::ColdUsers,
        ),
    ] {
        if given && split != Some(needs) {
            let needs = needs
                .to_possible_value()
                .map(|p| p.get_name().to_owned())
                .unwrap_or_default();
            return Err(
                format!("{name} lists the cold ids of --split {needs}: give that split").into(),
            );
        }
    }
    if let Some(csv) = &args.csv {
        let format = csv_format(&args.separator)?;
        if let Some(test) = &args.test_csv {
            return Ok(warm(load_csv_pair(
                csv,
                test,
                &format,
                &columns(args),
                args.min_rating,
            )?));
        }
        let data = load_csv(csv, &format, &columns(args), args.min_rating)?;
        return split_of(args, data, split.unwrap_or(SplitName::Random), seed);
    }
    if let Some(data) = read_sequences(args)? {
        return split_of(args, data, split.unwrap_or(SplitName::User), seed);
    }
    let name = args
        .dataset
        .ok_or("give --dataset NAME, --csv PATH or --sequences FILE")?;
    let Some(release) = name.movielens() else {
        let data = synthetic(args, name, seed)?;
        return split_of(args, data, split.unwrap_or(SplitName::User), seed);
    };
    let official = if release == MovieLens::Ml100k {
        split.unwrap_or(SplitName::Ua).official()
    } else {
        None
    };
    if let Some(official) = official {
        return Ok(warm(load_movielens_split(
            args.data_dir.as_deref(),
            official,
            args.min_rating,
        )?));
    }
    let data = load_movielens(release, args.data_dir.as_deref(), args.min_rating)?;
    split_of(args, data, split.unwrap_or(SplitName::Random), seed)
}

/// The sequence file or Amazon dataset `args` name, if they name one.
fn read_sequences(args: &DataArgs) -> Result<Option<Dataset>, Failure> {
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
pub(crate) fn load_unsplit(args: &DataArgs, seed: u64) -> Result<Dataset, Failure> {
    if args.test_csv.is_some() {
        return Err("--test-csv brings its own split: leave-one-out splits one file".into());
    }
    let data = if let Some(data) = read_sequences(args)? {
        data
    } else if let Some(csv) = &args.csv {
        load_csv(
            csv,
            &csv_format(&args.separator)?,
            &columns(args),
            args.min_rating,
        )?
    } else {
        let name = args
            .dataset
            .ok_or("give --dataset NAME, --csv PATH or --sequences FILE")?;
        match name.movielens() {
            Some(release) => load_movielens(release, args.data_dir.as_deref(), args.min_rating)?,
            None => synthetic(args, name, seed)?,
        }
    };
    let ml1m = args.dataset == Some(DatasetName::Ml1m);
    match args.min_item_interactions.or(ml1m.then_some(5)) {
        Some(n) => Ok(data.keep_items_with_at_least(n)?),
        None => Ok(data),
    }
}

fn columns(args: &DataArgs) -> ColumnMapping {
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

fn split_of(args: &DataArgs, data: Dataset, split: SplitName, seed: u64) -> Result<Split, Failure> {
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
            data,
            parts,
            cold: Some((side, cold)),
            user_features: None,
            item_features: None,
        });
    }
    let parts = match split {
        SplitName::Random => random_split(x, args.test_fraction, seed)?,
        SplitName::User => user_split(x, args.test_fraction, seed)?,
        SplitName::LeaveLast => leave_last_k(x, args.leave_last)?,
        SplitName::Temporal => temporal_split(x, args.test_fraction)?,
        SplitName::ColdItems | SplitName::ColdUsers => unreachable!("split above"),
        SplitName::LeaveOneOut => {
            return Err(
                "leave-one-out is the next-item protocol: train a sequence model, cooc or \
                 popularity on it"
                    .into(),
            )
        }
        official => {
            let name = official
                .to_possible_value()
                .map(|p| p.get_name().to_owned())
                .unwrap_or_default();
            return Err(format!(
                "the split {name} is one of ML-100K's official files: use random, user, \
                 leave-last, temporal, cold-items or cold-users for this data"
            )
            .into());
        }
    };
    Ok(Split {
        data,
        parts,
        cold: None,
        user_features: None,
        item_features: None,
    })
}

/// A synthetic dataset wrapped as a `Dataset` (ids are their own raw ids).
fn synthetic(args: &DataArgs, name: DatasetName, seed: u64) -> Result<Dataset, Failure> {
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

/// The data must map ids the way the model was trained, or its scores mean nothing.
pub(crate) fn check_same_ids(catalog: &netrex::Catalog, data: &Dataset) -> Result<(), Failure> {
    if let (Some(users), Some(items)) = (&catalog.users, &catalog.items) {
        if users != &data.users || items != &data.items {
            return Err("the data's ids do not match the model's: use the dataset and split it was trained on".into());
        }
    }
    Ok(())
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

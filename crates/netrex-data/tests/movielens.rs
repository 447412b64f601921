//! MovieLens 100K: the counts and layout the rest of netrex relies on.

mod common;

use netrex_data::ingest::{load_movielens, load_movielens_split};
use netrex_data::{MovieLens, OfficialSplit, RawId};

#[test]
fn ml100k_counts() {
    let data = load_movielens(MovieLens::Ml100k, Some(&common::data_dir()), None).unwrap();
    let x = &data.interactions;
    assert_eq!(x.len(), 100_000);
    assert_eq!(x.num_users(), 943);
    assert_eq!(x.num_items(), 1682);
    assert_eq!(data.report.rows_read, 100_000);
    assert_eq!(data.report.below_min_rating, 0);
    // raw ids 1..=n map to dense 0..n
    assert_eq!(data.users.raw(0), Some(&RawId::Int(1)));
    assert_eq!(data.items.get(&RawId::Int(1682)), Some(1681));
    assert_eq!(data.title(0), Some("Toy Story (1995)"));
    // u.item is Latin-1: decoded, not lost
    let miserables = (0..1682u32)
        .filter_map(|i| data.title(i))
        .find(|t| t.starts_with("Misérables"));
    assert!(miserables.is_some());
    // many (user, second) ties, yet every row is in the per-user view exactly once
    let ts = x.timestamps().unwrap();
    let mut pairs: Vec<(u32, i64)> = x.users().iter().zip(ts).map(|(&u, &t)| (u, t)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    assert_eq!(pairs.len(), 49_439);
    let rows = x.user_rows();
    let mut all: Vec<usize> = rows.values().to_vec();
    all.sort_unstable();
    assert!(all.iter().enumerate().all(|(i, &r)| i == r));
    for (_, r) in rows.iter() {
        assert!(r.windows(2).all(|w| (ts[w[0]], w[0]) < (ts[w[1]], w[1])));
    }
}

#[test]
fn ml100k_official_splits() {
    let (data, split) =
        load_movielens_split(Some(&common::data_dir()), OfficialSplit::Ua, None).unwrap();
    assert_eq!(split.train.len(), 90_570);
    assert_eq!(split.test.len(), 9_430);
    assert_eq!(split.train.num_items(), 1682);
    assert_eq!(split.test.num_users(), 943);
    assert_eq!(data.interactions.len(), 100_000);
    let per_user = split.test.histories();
    assert!(per_user.iter().all(|(_, h)| h.len() == 10));
    let (_, ub) = load_movielens_split(Some(&common::data_dir()), OfficialSplit::Ub, None).unwrap();
    assert_eq!(ub.test.len(), 9_430);
}

#[test]
fn min_rating_filter_is_counted() {
    let data = load_movielens(MovieLens::Ml100k, Some(&common::data_dir()), Some(4.0)).unwrap();
    assert_eq!(
        data.report.rows_kept + data.report.below_min_rating,
        100_000
    );
    assert_eq!(data.interactions.len(), data.report.rows_kept);
    assert!(data
        .interactions
        .ratings()
        .unwrap()
        .iter()
        .all(|&r| r >= 4.0));
    assert!(data.report.below_min_rating > 40_000);
}

#[test]
fn env_var_location() {
    // NETREX_DATA_DIR is how tests and CI find the data; the folder must be found through it
    std::env::set_var("NETREX_DATA_DIR", common::data_dir());
    let dir = netrex_data::movielens::find_folder(MovieLens::Ml100k, None).unwrap();
    assert!(dir.join("u.data").is_file());
}

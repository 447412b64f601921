//! Side features: MovieLens's built-in ones on the real ML-100K files, and the ML-1M formats on
//! small generated files.

mod common;

use netrex_data::{movielens_item_features, movielens_user_features, IdMap, MovieLens, RawId};

fn names_of(f: &netrex_data::Features, row: u32) -> Vec<String> {
    let mut names: Vec<String> = f
        .row(row)
        .0
        .iter()
        .map(|&c| f.names().raw(c).unwrap().clone())
        .collect();
    names.sort();
    names
}

/// How many feature names start with `prefix`.
fn prefixed(f: &netrex_data::Features, prefix: &str) -> usize {
    f.names()
        .raw_ids()
        .iter()
        .filter(|n| n.starts_with(prefix))
        .count()
}

#[test]
fn ml100k_items_have_genres_and_a_decade() {
    let dir = common::data_dir().join("ml-100k");
    let mut items = IdMap::new();
    let f = movielens_item_features(MovieLens::Ml100k, &dir, &mut items).unwrap();
    assert_eq!((items.len(), f.num_rows()), (1682, 1682));
    let toy_story = items.get(&RawId::Int(1)).unwrap();
    assert_eq!(
        names_of(&f, toy_story),
        [
            "decade:1990s",
            "genre:Animation",
            "genre:Children's",
            "genre:Comedy"
        ]
    );
    assert_eq!(prefixed(&f, "genre:"), 19);
    // every movie has a decade; ML-100K's one movie without a release date gets "unknown"
    for row in 0..1682 {
        let names = names_of(&f, row);
        assert_eq!(names.iter().filter(|n| n.starts_with("decade:")).count(), 1);
    }
    assert!(f.names().get(&"decade:unknown".to_owned()).is_some());
    let normalised = f.normalised();
    for row in 0..1682 {
        let sum: f32 = normalised.row(row).1.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
    }
}

#[test]
fn ml100k_users_have_gender_age_and_occupation() {
    let dir = common::data_dir().join("ml-100k");
    let mut users = IdMap::new();
    let f = movielens_user_features(MovieLens::Ml100k, &dir, &mut users).unwrap();
    assert_eq!(f.num_rows(), 943);
    // 1|24|M|technician|85711
    let first = users.get(&RawId::Int(1)).unwrap();
    assert_eq!(
        names_of(&f, first),
        ["age:18-24", "gender:M", "occupation:technician"]
    );
    assert_eq!(prefixed(&f, "occupation:"), 21);
}

#[test]
fn ml1m_files_and_their_errors() {
    let dir = common::temp_dir("ml1m-features");
    std::fs::write(
        dir.join("movies.dat"),
        "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("users.dat"),
        "1::F::1::10::48067\n2::M::56::16::70072\n",
    )
    .unwrap();
    // item 2 was rated, item 1 was not: it gets the next dense id, with its features
    let mut items = IdMap::from_raw(vec![RawId::Int(2)]).unwrap();
    let f = movielens_item_features(MovieLens::Ml1m, &dir, &mut items).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(names_of(&f, 0), ["decade:1990s", "genre:Adventure"]);
    assert_eq!(names_of(&f, 1).len(), 4);
    let mut users = IdMap::new();
    let f = movielens_user_features(MovieLens::Ml1m, &dir, &mut users).unwrap();
    assert_eq!(
        names_of(&f, 0),
        ["age:under 18", "gender:F", "occupation:K-12 student"]
    );
    assert_eq!(
        names_of(&f, 1),
        ["age:56+", "gender:M", "occupation:self-employed"]
    );
    std::fs::write(
        dir.join("users.dat"),
        "1::F::1::10::48067\n2::X::56::16::1\n",
    )
    .unwrap();
    let err = movielens_user_features(MovieLens::Ml1m, &dir, &mut IdMap::new()).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    std::fs::write(dir.join("movies.dat"), "1::Toy Story (1995)\n").unwrap();
    let err = movielens_item_features(MovieLens::Ml1m, &dir, &mut IdMap::new()).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = movielens_user_features(MovieLens::Ml20m, &dir, &mut IdMap::new()).unwrap_err();
    assert!(err.to_string().contains("no user file"), "{err}");
}

#[test]
fn cs1_cold_items_hold_out_every_rating_of_336_movies() {
    use netrex_data::cold::{cold_split, read_id_list, Side};
    use netrex_data::ingest::load_movielens_from;
    let dir = common::data_dir().join("ml-100k");
    let data = load_movielens_from(MovieLens::Ml100k, &dir, None).unwrap();
    let list = common::data_dir().join("../protocols/cs1-cold-items.txt");
    let cold = read_id_list(&list, Side::Items, &data.items).unwrap();
    assert_eq!(cold.len(), 336);
    let split = cold_split(&data.interactions, Side::Items, &cold).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (80_420, 19_580));
    let mut users: Vec<u32> = split.test.users().to_vec();
    users.sort_unstable();
    users.dedup();
    assert_eq!(users.len(), 940);
}

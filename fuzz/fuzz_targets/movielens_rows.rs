//! MovieLens files: the bytes become ML-100K's `u.data` (tab-separated), ML-1M's
//! `ratings.dat` (`::`-separated, Latin-1) or ML-20M's `ratings.csv`, and their item files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netrex_data::ingest::load_movielens_from;
use netrex_data::MovieLens;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let dataset = [MovieLens::Ml100k, MovieLens::Ml1m, MovieLens::Ml20m][usize::from(which % 3)];
    let dir = common::scratch("movielens");
    // the same bytes serve as ratings and as titles
    for name in ["u.data", "ratings.dat", "ratings.csv", "u.item", "movies.dat", "movies.csv"] {
        std::fs::write(dir.join(name), body).expect("scratch file");
    }
    let min_rating = (which & 4 != 0).then_some(4.0);
    let _ = load_movielens_from(dataset, &dir, min_rating);
});

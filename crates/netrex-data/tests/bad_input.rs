//! Bad files give typed errors naming the file, the line and the problem.

mod common;

use std::path::Path;

use netrex_data::ingest::{load_csv, load_csv_pair, load_movielens_from, ColumnMapping, CsvFormat};
use netrex_data::{DataError, MovieLens};

fn write(dir: &Path, name: &str, body: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn mapping() -> ColumnMapping {
    ColumnMapping::new("user", "item")
        .timestamp("ts")
        .rating("rating")
}

/// The error of loading `body` as a CSV with the default columns, from a fresh folder.
fn csv_error(folder: &str, body: &[u8]) -> DataError {
    let p = write(&common::temp_dir(folder), "x.csv", body);
    load_csv(&p, &CsvFormat::default(), &mapping(), None).unwrap_err()
}

fn expect_parse(err: DataError, line: usize, needle: &str) {
    match &err {
        DataError::Parse {
            line: l,
            message,
            path,
        } => {
            assert_eq!(*l, line, "{err}");
            assert!(message.contains(needle), "{err}");
            assert!(path.file_name().is_some());
        }
        other => panic!("expected a parse error at line {line}, got {other:?}"),
    }
}

#[test]
fn generic_csv_loads_string_and_int_ids() {
    let dir = common::temp_dir("good");
    let p = write(
        &dir,
        "x.csv",
        b"user,item,ts,rating,extra\nalice,10,5,4.5,zz\n007,11,6,3,\nalice,11,7,1,q\n",
    );
    let data = load_csv(&p, &CsvFormat::default(), &mapping(), Some(2.0)).unwrap();
    assert_eq!(data.interactions.len(), 2);
    assert_eq!(data.report.below_min_rating, 1);
    assert_eq!(data.users.raw_ids().len(), 2);
    assert!(data.users.get(&"007".into()).is_some());
    assert!(data.users.get(&"7".into()).is_none());
}

#[test]
fn malformed_rows_name_their_line() {
    // (folder, file, line, what the message names)
    let cases: [(&str, &[u8], usize, &str); 4] = [
        (
            "number",
            b"user,item,ts,rating\n1,2,3,4\n1,3,4,five\n",
            3,
            "rating",
        ),
        (
            "ragged",
            b"user,item,ts,rating\n1,2,3,4\n1,3,4,5\n2,9\n",
            4,
            "fields",
        ),
        (
            "emptyid",
            b"user,item,ts,rating\n1,2,3,4\n,3,4,5\n",
            3,
            "user",
        ),
        // found by the csv_rows fuzz target: polars' reader panicked on a lone quote at the end
        (
            "quote",
            b"user,item,ts,rating\nu.1,i1,\"",
            2,
            "never closed",
        ),
    ];
    for (folder, body, line, needle) in cases {
        expect_parse(csv_error(folder, body), line, needle);
    }
}

#[test]
fn nan_rating_and_negative_weight_are_rejected() {
    expect_parse(
        csv_error("nan", b"user,item,ts,rating\n1,2,3,NaN\n"),
        2,
        "finite",
    );
    let dir = common::temp_dir("nan");
    let p = write(&dir, "w.csv", b"u,i,w\n1,2,1.0\n1,3,-2\n");
    let err = load_csv(
        &p,
        &CsvFormat::default(),
        &ColumnMapping::new("u", "i").weight("w"),
        None,
    )
    .unwrap_err();
    expect_parse(err, 3, "negative");
}

#[test]
fn missing_column_lists_the_columns() {
    let err = csv_error("col", b"uid,iid\n1,2\n");
    assert!(matches!(err, DataError::MissingColumn { .. }), "{err}");
    assert!(err.to_string().contains("uid, iid"), "{err}");
}

#[test]
fn empty_files_are_errors() {
    let dir = common::temp_dir("empty");
    let p = write(&dir, "x.csv", b"");
    let err = load_csv(&p, &CsvFormat::default(), &mapping(), None).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    let p = write(&dir, "h.csv", b"user,item,ts,rating\n");
    let err = load_csv(&p, &CsvFormat::default(), &mapping(), None).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("h.csv"), "{err}");
}

#[test]
fn unreadable_file_is_an_io_error() {
    let err = load_csv(
        "/nonexistent/x.csv",
        &CsvFormat::default(),
        &mapping(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
}

#[test]
fn movielens_malformed_row() {
    let dir = common::temp_dir("ml");
    write(&dir, "u.data", b"1\t2\t3\t881250949\n1\t3\t4\n");
    let err = load_movielens_from(MovieLens::Ml100k, &dir, None).unwrap_err();
    expect_parse(err, 2, "fields");
    write(&dir, "u.data", b"1\t2\t3\t881250949\nx\t3\t4\t881250949\n");
    let err = load_movielens_from(MovieLens::Ml100k, &dir, None).unwrap_err();
    expect_parse(err, 2, "integer");
}

#[test]
fn double_colon_and_csv_releases() {
    let dir = common::temp_dir("ml1m");
    write(
        &dir,
        "ratings.dat",
        b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300000\n",
    );
    write(&dir, "movies.dat", b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation|Children's|Musical\n");
    let d = load_movielens_from(MovieLens::Ml1m, &dir, None).unwrap();
    assert_eq!(d.interactions.len(), 3);
    assert_eq!(d.interactions.num_items(), 2);
    let i = d.items.get(&1193.into()).unwrap();
    assert_eq!(d.title(i), Some("One Flew Over the Cuckoo's Nest (1975)"));

    let dir = common::temp_dir("ml20m");
    write(
        &dir,
        "ratings.csv",
        b"userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,3.5,1112484676\n",
    );
    write(&dir, "movies.csv", b"movieId,title,genres\n2,\"Jumanji, The (1995)\",Adventure\n29,\"City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)\",Drama\n");
    let d = load_movielens_from(MovieLens::Ml20m, &dir, None).unwrap();
    assert_eq!(d.interactions.ratings().unwrap(), &[3.5, 3.5]);
    assert_eq!(
        d.title(d.items.get(&2.into()).unwrap()),
        Some("Jumanji, The (1995)")
    );
    assert!(d.title(1).unwrap().contains("Cité"));
}

#[test]
fn pair_shares_id_space() {
    let dir = common::temp_dir("pair");
    let a = write(
        &dir,
        "train.csv",
        b"user,item,ts,rating\n1,10,1,5\n2,11,2,5\n",
    );
    let b = write(&dir, "test.csv", b"user,item,ts,rating\n1,12,3,5\n");
    let (d, tt) = load_csv_pair(&a, &b, &CsvFormat::default(), &mapping(), None).unwrap();
    assert_eq!(tt.train.num_items(), 3);
    assert_eq!(tt.test.items(), &[d.items.get(&12.into()).unwrap()]);
}

#[test]
fn parquet_files_load_like_csv() {
    use polars::prelude::*;
    let dir = common::temp_dir("parquet");
    let path = dir.join("x.parquet");
    let mut df = df!(
        "user" => ["a", "b", "a"],
        "item" => [10i64, 11, 12],
        "ts" => [3i64, 2, 1],
        "rating" => [5.0f64, 2.0, 4.0],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let data = netrex_data::ingest::load_parquet(&path, &mapping(), Some(3.0)).unwrap();
    assert_eq!(data.interactions.len(), 2);
    assert_eq!(data.report.below_min_rating, 1);
    assert_eq!(data.interactions.histories().get(0).len(), 2);
    let err = netrex_data::ingest::load_parquet(&path, &ColumnMapping::new("uid", "item"), None)
        .unwrap_err();
    assert!(matches!(err, DataError::MissingColumn { .. }), "{err}");
    std::fs::write(&path, b"PAR1 this is not parquet").unwrap();
    let err = netrex_data::ingest::load_parquet(&path, &mapping(), None).unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err}");
}

#[test]
fn one_column_mapped_to_two_fields_is_an_error() {
    // found by the column_mapping fuzz target: polars panicked on the duplicate projection
    let dir = common::temp_dir("twice");
    let p = write(&dir, "t.csv", b"user,item,ts,rating\na,b,1,2.5\n");
    let twice = ColumnMapping::new("user", "item").timestamp("item");
    let err = load_csv(&p, &CsvFormat::default(), &twice, None).unwrap_err();
    assert!(
        matches!(&err, DataError::InvalidParameter { message, .. } if message.contains("\"item\"")),
        "{err}"
    );
    // a header naming a column twice still loads, by the first of the two
    let p = write(&dir, "h.csv", b"user,item,item,ts\na,b,c,1\n");
    let data = load_csv(&p, &CsvFormat::default(), &mapping_without_rating(), None).unwrap();
    assert_eq!(data.interactions.len(), 1);
    assert_eq!(data.items.raw_ids(), &[netrex_data::RawId::parse("b")]);
}

fn mapping_without_rating() -> ColumnMapping {
    ColumnMapping::new("user", "item").timestamp("ts")
}

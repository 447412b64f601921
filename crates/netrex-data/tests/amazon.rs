//! The S3Rec Amazon files: the counts the literature reports, and the leave-one-out split.

mod common;

use netrex_data::split::leave_one_out;
use netrex_data::AmazonS3Rec;

#[test]
fn beauty_and_sports_counts() {
    for (which, users, items, interactions) in [
        (AmazonS3Rec::Beauty, 22_363, 12_101, 198_502),
        (AmazonS3Rec::Sports, 35_598, 18_357, 296_337),
    ] {
        let data = which.load(Some(&common::data_dir())).unwrap();
        let x = &data.interactions;
        assert_eq!(
            (x.num_users(), x.num_items(), x.len()),
            (users, items, interactions)
        );
        // 5-core: every user has a validation and a test target
        let split = leave_one_out(x).unwrap();
        assert_eq!(split.validation.len(), users);
        assert_eq!(split.test.len(), users);
    }
}

#[test]
fn a_missing_file_names_where_it_was_looked_for() {
    let dir = common::temp_dir("amazon-missing");
    let err = AmazonS3Rec::Beauty
        .load(Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Beauty.txt") && err.contains("amazon-beauty"),
        "{err}"
    );
}

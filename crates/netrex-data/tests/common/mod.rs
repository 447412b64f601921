//! Helpers shared by the data tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The folder holding `ml-100k/`, from `$NETREX_DATA_DIR` or the workspace's `../shared/data`.
pub fn data_dir() -> PathBuf {
    netrex_data::testing_data_dir(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netrex-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

//! A scratch folder per fuzzing process: the loaders read files, so each input is written
//! there first.

use std::path::PathBuf;

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netrex-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a writable temporary folder");
    dir
}

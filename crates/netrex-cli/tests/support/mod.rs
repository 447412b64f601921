//! What the command-line tests share: running the `netrex` binary on a line of words, and
//! temporary folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary printed, and whether it succeeded.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The run's stdout as JSON, after checking that it succeeded.
    pub fn json(&self) -> serde_json::Value {
        assert!(self.ok, "{}", self.stderr);
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// Checks that the run failed with `needle` in its error.
    pub fn fails_with(&self, needle: &str) {
        assert!(
            !self.ok && self.stderr.contains(needle),
            "expected an error with {needle:?}: {}",
            self.stderr
        );
    }
}

/// The folder the datasets are read from in tests.
pub fn data_dir() -> PathBuf {
    netrex::data::testing_data_dir(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `netrex` with `line` split at whitespace (paths in it come from [`temp`], which has
/// none), reading datasets from `data`.
pub fn netrex_in(data: &Path, line: &str) -> Run {
    netrex_with(data, &[], line)
}

/// [`netrex_in`] with the environment variables `env` set (a faked memory limit, say).
pub fn netrex_with(data: &Path, env: &[(&str, &str)], line: &str) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_netrex"))
        .args(line.split_whitespace())
        .env("NETREX_DATA_DIR", data)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `netrex` with no dataset folder, for tests on synthetic data only.
pub fn synthetic(line: &str) -> Run {
    netrex_in(Path::new("/nonexistent-netrex-data"), line)
}

/// `fit {fit} --json --save DIR`, then `evaluate --model DIR --json` on the folder alone,
/// both on synthetic data: the evaluation reports the fit's `keys` unchanged.
pub fn evaluates_as_fitted(dir: &Path, fit: &str, keys: &[&str]) {
    let dir = dir.display();
    let fitted = synthetic(&format!("fit {fit} --json --save {dir}")).json();
    let evaluated = synthetic(&format!("evaluate --model {dir} --json")).json();
    for key in keys {
        assert_eq!(evaluated[key], fitted[key], "{key}: {evaluated}");
    }
}

/// Runs `netrex` with `line` split at whitespace, reading datasets from [`data_dir`].
pub fn netrex(line: &str) -> Run {
    netrex_in(&data_dir(), line)
}

/// A fresh, empty folder for the test `name` of the test file `file`.
pub fn temp(file: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netrex-{file}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        !dir.to_string_lossy().contains(char::is_whitespace),
        "the tests split command lines at whitespace: {}",
        dir.display()
    );
    dir
}

/// A sequence file `dir/ring.txt` of `users` histories of `len` items walking a ring of
/// `items` (user `u` starts at item `u + 1`); returns its path.
pub fn ring_file(dir: &Path, users: usize, len: usize, items: usize) -> PathBuf {
    let mut text = String::new();
    for u in 0..users {
        let row: Vec<String> = (0..len)
            .map(|j| format!("{}", 1 + (u + j) % items))
            .collect();
        text.push_str(&format!("{} {}\n", u + 1, row.join(" ")));
    }
    let path = dir.join("ring.txt");
    std::fs::write(&path, text).unwrap();
    path
}

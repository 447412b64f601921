//! Train/test splits. Each keeps the id space of its input, so a model sized on the train
//! set can score test ids; each seeded split is a pure function of its seed.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::{DataError, Result};
use crate::interactions::Interactions;

/// A train set and a test set over one id space.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainTest {
    /// Interactions to fit on.
    pub train: Interactions,
    /// Held-out interactions to evaluate on.
    pub test: Interactions,
}

fn check_fraction(test_fraction: f64) -> Result<()> {
    if test_fraction > 0.0 && test_fraction < 1.0 {
        Ok(())
    } else {
        Err(DataError::param(
            "test_fraction",
            format!("{test_fraction} is not strictly between 0 and 1"),
        ))
    }
}

fn partition(data: &Interactions, is_test: &[bool]) -> TrainTest {
    TrainTest {
        train: data.filter(|r| !is_test[r]),
        test: data.filter(|r| is_test[r]),
    }
}

/// Sends a random `test_fraction` of the interactions to the test set.
pub fn random_split(data: &Interactions, test_fraction: f64, seed: u64) -> Result<TrainTest> {
    check_fraction(test_fraction)?;
    let mut rows: Vec<usize> = (0..data.len()).collect();
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_test = (data.len() as f64 * test_fraction).round() as usize;
    let mut is_test = vec![false; data.len()];
    for &r in &rows[..n_test] {
        is_test[r] = true;
    }
    Ok(partition(data, &is_test))
}

/// Sends all interactions of a random `test_fraction` of the users (among those that have
/// any) to the test set: the protocol for sequence models, which predict for unseen users.
pub fn user_split(data: &Interactions, test_fraction: f64, seed: u64) -> Result<TrainTest> {
    check_fraction(test_fraction)?;
    let mut present = vec![false; data.num_users()];
    for &u in data.users() {
        present[u as usize] = true;
    }
    let mut users: Vec<usize> = (0..data.num_users()).filter(|&u| present[u]).collect();
    users.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_test = (users.len() as f64 * test_fraction).round() as usize;
    let mut test_user = vec![false; data.num_users()];
    for &u in &users[..n_test] {
        test_user[u] = true;
    }
    let is_test: Vec<bool> = data
        .users()
        .iter()
        .map(|&u| test_user[u as usize])
        .collect();
    Ok(partition(data, &is_test))
}

/// Sends each user's last `k` interactions, by (timestamp, row), to the test set.
///
/// Users with `k` or fewer interactions stay wholly in train, so every test user has history.
pub fn leave_last_k(data: &Interactions, k: usize) -> Result<TrainTest> {
    if k == 0 {
        return Err(DataError::param("k", "must be at least 1"));
    }
    if data.timestamps().is_none() {
        return Err(DataError::MissingTimestamps {
            operation: "leave-last-k split",
        });
    }
    let mut is_test = vec![false; data.len()];
    let by_user = data.user_rows();
    for (_, rows) in by_user.iter() {
        if rows.len() > k {
            for &r in &rows[rows.len() - k..] {
                is_test[r] = true;
            }
        }
    }
    Ok(partition(data, &is_test))
}

/// Sends every interaction at or after `cut` to the test set.
pub fn temporal_split_at(data: &Interactions, cut: i64) -> Result<TrainTest> {
    let ts = data.timestamps().ok_or(DataError::MissingTimestamps {
        operation: "temporal split",
    })?;
    let is_test: Vec<bool> = ts.iter().map(|&t| t >= cut).collect();
    Ok(partition(data, &is_test))
}

/// Temporal split at the timestamp below which `1 - test_fraction` of interactions fall.
///
/// Interactions sharing the cut timestamp all go to test, so the test set can be slightly
/// larger than asked; no interaction is both before and after the cut.
pub fn temporal_split(data: &Interactions, test_fraction: f64) -> Result<TrainTest> {
    check_fraction(test_fraction)?;
    let ts = data.timestamps().ok_or(DataError::MissingTimestamps {
        operation: "temporal split",
    })?;
    data.ensure_not_empty("the data to split")?;
    let mut sorted = ts.to_vec();
    sorted.sort_unstable();
    let idx = ((sorted.len() as f64) * (1.0 - test_fraction)).floor() as usize;
    let cut = sorted[idx.min(sorted.len() - 1)];
    temporal_split_at(data, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Interactions {
        let n = 200;
        Interactions::new(
            (0..n).map(|i| (i % 10) as u32).collect(),
            (0..n).map(|i| (i % 7) as u32).collect(),
            10,
            7,
        )
        .unwrap()
        .with_timestamps((0..n as i64).rev().collect())
        .unwrap()
    }

    #[test]
    fn splits_partition_the_rows() {
        let d = data();
        for s in [
            random_split(&d, 0.2, 1).unwrap(),
            user_split(&d, 0.3, 1).unwrap(),
            leave_last_k(&d, 2).unwrap(),
            temporal_split(&d, 0.25).unwrap(),
        ] {
            assert_eq!(s.train.len() + s.test.len(), d.len());
            assert!(!s.test.is_empty() && !s.train.is_empty());
            assert_eq!(s.train.num_items(), 7);
        }
    }

    #[test]
    fn user_split_keeps_users_whole() {
        let s = user_split(&data(), 0.3, 7).unwrap();
        for u in s.test.users() {
            assert!(!s.train.users().contains(u));
        }
    }

    #[test]
    fn leave_last_takes_latest() {
        let d = data();
        let s = leave_last_k(&d, 1).unwrap();
        // timestamps decrease with row, so each user's first row is the latest
        assert_eq!(s.test.len(), 10);
        assert!(s.test.timestamps().unwrap().iter().all(|&t| t >= 190));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let d = data();
        assert!(random_split(&d, 1.0, 0).is_err());
        assert!(leave_last_k(&d, 0).is_err());
        let no_ts = Interactions::new(vec![0], vec![0], 1, 1).unwrap();
        assert!(matches!(
            temporal_split(&no_ts, 0.5),
            Err(DataError::MissingTimestamps { .. })
        ));
    }
}

/// The leave-one-out protocol of sequential recommendation: per user, by (timestamp, row),
/// the last interaction is the test target, the one before it the validation target, the rest
/// is training.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaveOneOut {
    /// All but each user's last two interactions.
    pub train: Interactions,
    /// Each user's second-to-last interaction (users with three or more).
    pub validation: Interactions,
    /// Each user's last interaction (users with two or more).
    pub test: Interactions,
}

impl LeaveOneOut {
    /// Train and test as a [`TrainTest`], the validation targets back in train: what a model
    /// is fitted on once its hyperparameters are chosen.
    pub fn train_test(&self) -> Result<TrainTest> {
        Ok(TrainTest {
            train: self.train.concat(&self.validation)?,
            test: self.test.clone(),
        })
    }
}

/// Splits `data` by [`LeaveOneOut`]. A user with two interactions has a test target and no
/// validation one; a user with one stays in train. Needs timestamps (a sequence file's are the
/// positions).
pub fn leave_one_out(data: &Interactions) -> Result<LeaveOneOut> {
    if data.timestamps().is_none() {
        return Err(DataError::MissingTimestamps {
            operation: "leave-one-out split",
        });
    }
    data.ensure_not_empty("the data to split")?;
    // 0 train, 1 validation, 2 test
    let mut part = vec![0u8; data.len()];
    for (_, rows) in data.user_rows().iter() {
        if let [.., last] = rows {
            if rows.len() >= 2 {
                part[*last] = 2;
            }
        }
        if rows.len() >= 3 {
            part[rows[rows.len() - 2]] = 1;
        }
    }
    Ok(LeaveOneOut {
        train: data.filter(|r| part[r] == 0),
        validation: data.filter(|r| part[r] == 1),
        test: data.filter(|r| part[r] == 2),
    })
}

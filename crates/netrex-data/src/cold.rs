//! Cold-start splits: every interaction of the cold items (or users) is held out, so that a
//! model meets them in the test set only and must score them from their features. Each split
//! keeps the id space of its input, like the others in [`split`](crate::split).

use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::{DataError, Result};
use crate::ids::{IdMap, RawId};
use crate::interactions::Interactions;
use crate::split::TrainTest;

/// Which side of the interactions is cold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Cold users: their interactions are the test set.
    Users,
    /// Cold items: the interactions on them are the test set.
    Items,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Users => "user",
            Side::Items => "item",
        }
    }

    fn count(self, data: &Interactions) -> usize {
        match self {
            Side::Users => data.num_users(),
            Side::Items => data.num_items(),
        }
    }

    fn ids(self, data: &Interactions) -> &[u32] {
        match self {
            Side::Users => data.users(),
            Side::Items => data.items(),
        }
    }
}

/// Sends every interaction of the `cold` ids (dense, on `side`) to the test set and the rest to
/// train. An id out of range is an error, and so is a split that leaves either set empty.
pub fn cold_split(data: &Interactions, side: Side, cold: &[u32]) -> Result<TrainTest> {
    let count = side.count(data);
    let mut is_cold = vec![false; count];
    for &id in cold {
        *is_cold
            .get_mut(id as usize)
            .ok_or(DataError::IdOutOfRange {
                kind: side.name(),
                id: u64::from(id),
                count,
            })? = true;
    }
    let ids = side.ids(data);
    let split = TrainTest {
        train: data.filter(|r| !is_cold[ids[r] as usize]),
        test: data.filter(|r| is_cold[ids[r] as usize]),
    };
    split
        .test
        .ensure_not_empty(&format!("the cold {}s", side.name()))?;
    split
        .train
        .ensure_not_empty(&format!("the warm {}s", side.name()))?;
    Ok(split)
}

/// A seeded `fraction` of all ids on `side` (with interactions or not) made cold, as
/// [`cold_split`]; returns the split and the cold ids, sorted.
pub fn random_cold_split(
    data: &Interactions,
    side: Side,
    fraction: f64,
    seed: u64,
) -> Result<(TrainTest, Vec<u32>)> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(DataError::param(
            "test_fraction",
            format!("{fraction} is not strictly between 0 and 1"),
        ));
    }
    let mut ids: Vec<u32> = (0..side.count(data) as u32).collect();
    ids.shuffle(&mut StdRng::seed_from_u64(seed));
    let n = (ids.len() as f64 * fraction).round() as usize;
    let mut cold = ids[..n].to_vec();
    cold.sort_unstable();
    Ok((cold_split(data, side, &cold)?, cold))
}

/// Reads a list of raw ids, one a line (`#` starts a comment, blank lines are skipped), and
/// maps them through `ids`. An id the map does not know is an error naming its line; an id
/// listed twice counts once.
pub fn read_id_list(path: &Path, side: Side, ids: &IdMap<RawId>) -> Result<Vec<u32>> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let raw = line.split('#').next().unwrap_or("").trim();
        if raw.is_empty() {
            continue;
        }
        let id = ids
            .get(&RawId::parse(raw))
            .ok_or_else(|| DataError::Parse {
                path: path.to_owned(),
                line: index + 1,
                message: format!("unknown {} id {raw:?}", side.name()),
            })?;
        out.push(id);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(DataError::Empty {
            what: format!("{} (no {} id)", path.display(), side.name()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Interactions {
        // 3 users x 4 items
        let users = vec![0, 0, 1, 1, 2, 2, 2];
        let items = vec![0, 1, 1, 2, 0, 2, 3];
        Interactions::new(users, items, 3, 4).unwrap()
    }

    #[test]
    fn cold_items_take_all_their_interactions_to_test() {
        let split = cold_split(&data(), Side::Items, &[1, 3]).unwrap();
        assert_eq!(split.test.items(), &[1, 1, 3]);
        assert!(split.train.items().iter().all(|&i| i != 1 && i != 3));
        assert_eq!(split.train.num_items(), 4, "the id space is kept");
        let split = cold_split(&data(), Side::Users, &[2]).unwrap();
        assert_eq!(split.test.len(), 3);
        assert!(cold_split(&data(), Side::Items, &[4]).is_err());
        // every interaction cold: no train set
        assert!(cold_split(&data(), Side::Users, &[0, 1, 2]).is_err());
    }

    #[test]
    fn random_cold_items_are_a_seeded_share() {
        let (a, cold) = random_cold_split(&data(), Side::Items, 0.5, 3).unwrap();
        let (b, again) = random_cold_split(&data(), Side::Items, 0.5, 3).unwrap();
        assert_eq!((a, cold.len()), (b, 2));
        assert_eq!(cold, again);
        assert!(random_cold_split(&data(), Side::Items, 1.0, 3).is_err());
    }

    #[test]
    fn id_lists_map_raw_ids_and_name_unknown_ones() {
        let dir = std::env::temp_dir().join(format!("netrex-cold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cold.txt");
        let ids = IdMap::from_raw(vec![RawId::Int(13), RawId::Int(21), RawId::Int(39)]).unwrap();
        std::fs::write(&path, "# cold items\n39\n13 # a comment\n\n39\n").unwrap();
        assert_eq!(read_id_list(&path, Side::Items, &ids).unwrap(), vec![0, 2]);
        std::fs::write(&path, "13\n40\n").unwrap();
        let err = read_id_list(&path, Side::Items, &ids)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("unknown item id"),
            "{err}"
        );
        std::fs::write(&path, "# none\n").unwrap();
        assert!(read_id_list(&path, Side::Items, &ids).is_err());
    }
}

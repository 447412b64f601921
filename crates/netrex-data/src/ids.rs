//! Raw ids (integers or strings) and their dense indices.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// An id as it appears in the source data: an integer, or any other string.
///
/// A string is an integer id only in canonical form (`"42"`, not `"042"` or `"+42"`), so that
/// `"007"` and `"7"` stay different ids, whichever way they reach the map.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawId {
    /// An integer id.
    Int(i64),
    /// Any other id.
    Str(String),
}

impl RawId {
    /// Reads an id typed by a person or found in a text file.
    pub fn parse(text: &str) -> RawId {
        match text.parse::<i64>() {
            Ok(value) if value.to_string() == text => RawId::Int(value),
            _ => RawId::Str(text.to_owned()),
        }
    }
}

impl fmt::Display for RawId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawId::Int(v) => write!(f, "{v}"),
            RawId::Str(s) => f.write_str(s),
        }
    }
}

impl From<i64> for RawId {
    fn from(v: i64) -> Self {
        RawId::Int(v)
    }
}

impl From<&str> for RawId {
    fn from(s: &str) -> Self {
        RawId::parse(s)
    }
}

/// A two-way map between raw ids and dense indices `0..len`.
///
/// Serialises as the list of raw ids in index order; deserialising rejects duplicates, so a
/// corrupt file cannot produce a map that answers two indices for one id.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    try_from = "Vec<K>",
    into = "Vec<K>",
    bound(
        serialize = "K: Clone + Serialize",
        deserialize = "K: Deserialize<'de> + Eq + Hash + Clone + fmt::Debug"
    )
)]
pub struct IdMap<K: Eq + Hash + Clone> {
    raw: Vec<K>,
    index: HashMap<K, u32>,
}

impl<K: Eq + Hash + Clone> Default for IdMap<K> {
    fn default() -> Self {
        IdMap {
            raw: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> PartialEq for IdMap<K> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<K: Eq + Hash + Clone + fmt::Debug> IdMap<K> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// A map whose index `i` is `raws[i]`; fails on a duplicate.
    pub fn from_raw(raws: Vec<K>) -> Result<Self> {
        let mut index = HashMap::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            if index.insert(raw.clone(), i as u32).is_some() {
                return Err(DataError::DuplicateId(format!("{raw:?}")));
            }
        }
        Ok(IdMap { raw: raws, index })
    }

    /// The index of `raw`, adding it at the end if new.
    pub fn get_or_insert(&mut self, raw: K) -> u32 {
        if let Some(&i) = self.index.get(&raw) {
            return i;
        }
        let i = self.raw.len() as u32;
        self.raw.push(raw.clone());
        self.index.insert(raw, i);
        i
    }

    /// The index of `raw`, if known.
    pub fn get(&self, raw: &K) -> Option<u32> {
        self.index.get(raw).copied()
    }

    /// The raw id at `index`, if in range.
    pub fn raw(&self, index: u32) -> Option<&K> {
        self.raw.get(index as usize)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Raw ids in index order.
    pub fn raw_ids(&self) -> &[K] {
        &self.raw
    }
}

impl IdMap<RawId> {
    /// The index of `raw`, or a typed error naming `kind` ("user" or "item").
    pub fn index_of(&self, raw: &RawId, kind: &'static str) -> Result<u32> {
        self.get(raw).ok_or_else(|| DataError::UnknownId {
            kind,
            id: raw.to_string(),
        })
    }
}

impl<K: Eq + Hash + Clone + fmt::Debug> TryFrom<Vec<K>> for IdMap<K> {
    type Error = DataError;
    fn try_from(raws: Vec<K>) -> Result<Self> {
        IdMap::from_raw(raws)
    }
}

impl<K: Eq + Hash + Clone> From<IdMap<K>> for Vec<K> {
    fn from(map: IdMap<K>) -> Vec<K> {
        map.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_id_parse_keeps_non_canonical_strings() {
        assert_eq!(RawId::parse("42"), RawId::Int(42));
        assert_eq!(RawId::parse("-3"), RawId::Int(-3));
        assert_eq!(RawId::parse("007"), RawId::Str("007".into()));
        assert_eq!(RawId::parse("+4"), RawId::Str("+4".into()));
        assert_eq!(RawId::parse("tt01"), RawId::Str("tt01".into()));
    }

    #[test]
    fn duplicate_raw_ids_are_rejected_on_load() {
        let err = serde_json::from_str::<IdMap<RawId>>("[1, \"a\", 1]").unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn unknown_id_is_a_typed_error() {
        let map = IdMap::from_raw(vec![RawId::Int(5)]).unwrap();
        let err = map.index_of(&RawId::Int(6), "user").unwrap_err();
        assert!(matches!(err, DataError::UnknownId { kind: "user", .. }));
    }
}

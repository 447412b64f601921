//! The memory a saved model needs before it is read: a model file whose sizes were edited
//! (`max_len` set to 1e12) must be an error, not an abort in the middle of scoring.

use std::path::Path;

use netrex::plan::memory::{available_memory, Estimate};
use serde_json::Value;

use crate::Failure;

/// Checks that scoring with the model in `dir` fits in memory, from its `model.json` alone.
pub(crate) fn model_fits(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("model.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(()); // the loader says what is missing
    };
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        return Ok(()); // the loader says where it is corrupt
    };
    estimate(&json).fits(available_memory())?;
    Ok(())
}

/// What scoring one user or history allocates, from a model file's fields.
fn estimate(json: &Value) -> Estimate {
    let count = |v: &Value| {
        v.as_u64()
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let config = &json["config"];
    let sequence = config.get("max_len").is_some();
    let training = if sequence {
        &config["training"]
    } else {
        config
    };
    let dim = count(&training["embedding_dim"]);
    let mut items = json["catalog"]["items"].as_array().map_or(0, Vec::len);
    let mut e = Estimate::default();
    if json["format"] == netrex::linear::file::FORMAT {
        // the file's own sizes decide what loading allocates, so they are checked first
        items = count(&json["num_items"]);
        let (users, factors) = (count(&json["num_users"]), count(&json["factors"]));
        match json["kind"].as_str() {
            Some("local-ease") => e.add(
                "the scalable EASE's weights",
                &[
                    (items, "items"),
                    (count(&json["neighbours"]), "neighbours"),
                    (16, "bytes"),
                ],
                "a model file with its own sizes (it was edited or is corrupt)",
            ),
            Some("ease") => e.add(
                "EASE's item-item weights",
                &[(items, "items"), (items, "items"), (4, "bytes")],
                "a model file with its own num_items (it was edited or is corrupt)",
            ),
            _ => e.add(
                "iALS's factor tables",
                &[
                    (users.saturating_add(items), "rows"),
                    (factors, "columns"),
                    (4, "bytes"),
                ],
                "a model file with its own sizes (it was edited or is corrupt)",
            ),
        }
    }
    let threads = count(&training["threads"]).max(1);
    e.add(
        "the scores of a query",
        &[(items, "items"), (threads, "threads"), (8, "bytes")],
        "a model with fewer items",
    );
    if sequence {
        let max_len = count(&config["max_len"]);
        e.add(
            "the encoder's buffers for one history",
            &[
                (max_len, "positions"),
                (dim, "columns"),
                (16, "layers"),
                (4, "bytes"),
            ],
            "a model file with its own max_len (it was edited or is corrupt)",
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_max_len_is_too_large() {
        let json: Value = serde_json::from_str(
            r#"{"config": {"max_len": 1000000000000, "training": {"embedding_dim": 32}},
                "catalog": {"items": [1, 2, 3]}}"#,
        )
        .unwrap();
        let err = estimate(&json)
            .fits(Some(24 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the encoder's buffers for one history need"),
            "{err}"
        );
        let sane: Value = serde_json::from_str(
            r#"{"config": {"max_len": 200, "training": {"embedding_dim": 32}}}"#,
        )
        .unwrap();
        assert!(estimate(&sane).fits(Some(24 << 30)).is_ok());
    }
}

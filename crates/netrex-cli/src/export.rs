//! `netrex export`: a saved factorization model's user and item vectors, biases folded in, so
//! that one inner product is the model's score; for vector stores that serve at scale.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use netrex::data::{IdMap, RawId};

use crate::args::{ExportArgs, ExportFormat};
use crate::saved::load_factorization;
use crate::Failure;

/// Runs `netrex export`.
pub(crate) fn export(args: ExportArgs) -> Result<(), Failure> {
    crate::guard::model_fits(&args.model)?;
    if netrex::is_sequence_model(&args.model) || netrex::linear::is_linear_model(&args.model) {
        return Err(format!(
            "{}: export writes factorization models; a sequence model's user vector is its \
             encoded history, and EASE and iALS folders hold no factorization tables",
            args.model.display()
        )
        .into());
    }
    let (model, catalog) = load_factorization(&args.model)?;
    let vectors = model.vectors()?;
    let (users, items) = vectors.folded();
    let width = vectors.dim + 2;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let num_users = vectors.user_biases.len();
    let num_items = vectors.item_biases.len();
    let user_ids = raw_ids(catalog.users.as_ref(), num_users);
    let item_ids = raw_ids(catalog.items.as_ref(), num_items);
    let format = match args.format {
        ExportFormat::Npy => {
            write_npy(&args.out.join("users.npy"), &users, width)?;
            write_npy(&args.out.join("items.npy"), &items, width)?;
            write_ids(&args.out.join("user_ids.txt"), &user_ids)?;
            write_ids(&args.out.join("item_ids.txt"), &item_ids)?;
            "npy"
        }
        ExportFormat::Parquet => {
            let write = netrex::data::ingest::write_vectors_parquet;
            write(&args.out.join("users.parquet"), &user_ids, &users, width)?;
            write(&args.out.join("items.parquet"), &item_ids, &items, width)?;
            "parquet"
        }
    };
    let about = json!({
        "model": args.model,
        "format": format,
        "users": num_users,
        "items": num_items,
        "width": width,
        "score": "a user row . an item row (the model's score: p_u . q_i + b_i + b_u)",
        "ids": "npy: user_ids.txt and item_ids.txt, one raw id a row; parquet: column id",
    });
    std::fs::write(args.out.join("export.json"), about.to_string())
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "exported {num_users} users and {num_items} items ({width} values a row) to {}",
        args.out.display()
    );
    Ok(())
}

/// `values` (`rows x width`, row-major) as a NumPy `.npy` file of little-endian float32.
fn write_npy(path: &Path, values: &[f32], width: usize) -> Result<(), Failure> {
    let rows = values.len() / width.max(1);
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {width}), }}");
    // magic (6) + version (2) + length (2) + header, padded to a multiple of 64 with a newline
    let unpadded = 10 + dict.len() + 1;
    let header = format!(
        "{dict}{}\n",
        " ".repeat(unpadded.next_multiple_of(64) - unpadded)
    );
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * values.len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    values
        .iter()
        .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// The raw id of each of `count` rows (the dense id where the model has none).
fn raw_ids(ids: Option<&IdMap<RawId>>, count: usize) -> Vec<String> {
    (0..count as u32)
        .map(|row| match ids.and_then(|m| m.raw(row)) {
            Some(raw) => raw.to_string(),
            None => row.to_string(),
        })
        .collect()
}

/// One id a line.
fn write_ids(path: &Path, ids: &[String]) -> Result<(), Failure> {
    let file =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for id in ids {
        writeln!(out, "{id}")?;
    }
    out.flush()?;
    Ok(())
}

//! Writing rows of vectors with their raw ids to Parquet, for vector stores that read it.

use std::path::Path;

use polars::prelude::*;

use crate::error::{DataError, Result};

/// Writes `vectors` (`ids.len()` rows of `width`, row-major) to `path` as two columns: `id`
/// (string) and `vector` (a list of `width` float32 per row).
pub fn write_vectors_parquet(
    path: &Path,
    ids: &[String],
    vectors: &[f32],
    width: usize,
) -> Result<()> {
    let format_err = |message: String| DataError::Format {
        path: path.to_owned(),
        message,
    };
    if width == 0 || vectors.len() != ids.len() * width {
        return Err(format_err(format!(
            "{} values are not {} rows of {width}",
            vectors.len(),
            ids.len()
        )));
    }
    let mut rows = ListPrimitiveChunkedBuilder::<Float32Type>::new(
        "vector".into(),
        ids.len(),
        vectors.len(),
        DataType::Float32,
    );
    vectors
        .chunks_exact(width)
        .for_each(|row| rows.append_slice(row));
    let columns = vec![
        Column::new("id".into(), ids),
        rows.finish().into_series().into(),
    ];
    let mut frame = DataFrame::new(ids.len(), columns).map_err(|e| format_err(e.to_string()))?;
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    ParquetWriter::new(file)
        .finish(&mut frame)
        .map_err(|e| format_err(e.to_string()))?;
    Ok(())
}

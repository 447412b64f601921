//! Byte-level preparation of text files before polars sees them, and the line-level checker
//! that turns a parse failure into "file, line, problem".

use std::borrow::Cow;
use std::path::Path;

use crate::error::DataError;

/// Decodes bytes as UTF-8, falling back to Latin-1 (as MovieLens' `u.item` and `movies.dat`
/// are encoded), where every byte is one character and nothing can fail.
pub(crate) fn to_utf8(bytes: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(bytes) {
        Ok(s) => s.into_bytes(),
        Err(e) => e
            .into_bytes()
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .into_bytes(),
    }
}

/// The byte that stands in for MovieLens' two-byte `::` separator (polars splits on one
/// byte); ASCII unit separator never occurs in the text.
pub(crate) const UNIT_SEPARATOR: u8 = 0x1f;

/// Replaces every `::` with [`UNIT_SEPARATOR`].
pub(crate) fn replace_double_colon(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' && bytes.get(i + 1) == Some(&b':') {
            out.push(UNIT_SEPARATOR);
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Splits one line into fields, honouring a quote character (doubled quotes escape it).
pub(crate) fn split_fields(line: &str, separator: u8, quote: Option<u8>) -> Vec<Cow<'_, str>> {
    let sep = separator as char;
    let Some(q) = quote.map(|q| q as char) else {
        return line.split(sep).map(Cow::Borrowed).collect();
    };
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == q {
                if chars.peek() == Some(&q) {
                    current.push(q);
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                current.push(c);
            }
        } else if c == q {
            in_quotes = true;
        } else if c == sep {
            fields.push(Cow::Owned(std::mem::take(&mut current)));
        } else {
            current.push(c);
        }
    }
    fields.push(Cow::Owned(current));
    fields
}

/// What a checked column must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// Any non-empty text (an id).
    Id,
    /// An integer id (MovieLens ids).
    IntId,
    /// An integer (timestamp).
    Integer,
    /// A finite number (rating).
    Number,
    /// A finite, non-negative number (weight).
    Weight,
}

fn check_field(text: &str, kind: FieldKind) -> Result<(), String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty".into());
    }
    match kind {
        FieldKind::Id => Ok(()),
        FieldKind::IntId | FieldKind::Integer => t
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| format!("{t:?} is not an integer")),
        FieldKind::Number | FieldKind::Weight => {
            let v: f64 = t.parse().map_err(|_| format!("{t:?} is not a number"))?;
            if !v.is_finite() {
                Err(format!("{t:?} is not finite"))
            } else if kind == FieldKind::Weight && v < 0.0 {
                Err(format!("{t:?} is negative"))
            } else {
                Ok(())
            }
        }
    }
}

/// The layout the checker validates against.
pub(crate) struct LineCheck<'a> {
    pub separator: u8,
    pub quote: Option<u8>,
    pub has_header: bool,
    /// Number of fields every line must have.
    pub num_fields: usize,
    /// (field index, column name, kind) for each column read.
    pub columns: &'a [(usize, &'a str, FieldKind)],
}

/// Finds the first line that breaks the layout and returns it as a [`DataError::Parse`].
///
/// Blank lines are skipped, as polars skips them.
pub(crate) fn find_bad_line(path: &Path, text: &[u8], check: &LineCheck<'_>) -> Option<DataError> {
    let text = String::from_utf8_lossy(text);
    let skip = usize::from(check.has_header);
    for (i, line) in text.lines().enumerate().skip(skip) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line, check.separator, check.quote);
        let problem = if fields.len() != check.num_fields {
            Some(format!(
                "expected {} fields, found {}",
                check.num_fields,
                fields.len()
            ))
        } else {
            check.columns.iter().find_map(|&(idx, name, kind)| {
                check_field(&fields[idx], kind)
                    .err()
                    .map(|why| format!("{name} {why}"))
            })
        };
        if let Some(message) = problem {
            return Some(DataError::Parse {
                path: path.to_owned(),
                line: i + 1,
                message,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_fallback() {
        assert_eq!(to_utf8(b"Mis\xe9rables".to_vec()), "Misérables".as_bytes());
        assert_eq!(to_utf8("é".as_bytes().to_vec()), "é".as_bytes());
    }

    #[test]
    fn double_colon() {
        assert_eq!(replace_double_colon(b"1::2::a:b"), b"1\x1f2\x1fa:b");
    }

    #[test]
    fn quoted_fields() {
        let f = split_fields(r#"1,"Toy Story, The (1995)","a""b""#, b',', Some(b'"'));
        assert_eq!(f, vec!["1", "Toy Story, The (1995)", "a\"b"]);
    }

    #[test]
    fn finds_the_line() {
        let check = LineCheck {
            separator: b',',
            quote: None,
            has_header: true,
            num_fields: 3,
            columns: &[(0, "user", FieldKind::Id), (2, "rating", FieldKind::Number)],
        };
        let e = find_bad_line(Path::new("f.csv"), b"u,i,r\n1,2,3\n\n1,2,x\n", &check).unwrap();
        assert_eq!(e.to_string(), "f.csv, line 4: rating \"x\" is not a number");
    }
}

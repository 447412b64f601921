//! The graph's file: a magic tag, the sizes, then every table, little-endian; read back with
//! every size and link checked, so that a cut or foreign file is an error, never a panic.

use std::path::Path;

use super::HnswIndex;
use crate::error::RetrievalError;

impl HnswIndex {
    /// The index as bytes: a magic tag, the sizes, then every table, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 4 * (self.points.len() + self.links0.len()));
        out.extend_from_slice(MAGIC);
        let head = [
            self.dim,
            self.num_items(),
            self.m,
            self.entry as usize,
            self.top,
        ];
        head.iter()
            .for_each(|&v| out.extend_from_slice(&(v as u64).to_le_bytes()));
        self.points
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        self.count0
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        self.links0
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        for levels in &self.upper {
            out.extend_from_slice(&(levels.len() as u32).to_le_bytes());
            for links in levels {
                out.extend_from_slice(&(links.len() as u32).to_le_bytes());
                links
                    .iter()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
        }
        out
    }

    /// Reads what [`to_bytes`](Self::to_bytes) wrote; anything else (cut short, wrong tag,
    /// links out of range) is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RetrievalError> {
        let bad = |why: &str| RetrievalError::Corrupt(why.to_owned());
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len()).ok_or_else(|| bad("too short"))? != MAGIC {
            return Err(bad("not a netrex HNSW index"));
        }
        let mut head = [0usize; 5];
        for h in &mut head {
            *h = r.u64().ok_or_else(|| bad("header cut short"))? as usize;
        }
        let [dim, n, m, entry, top] = head;
        let (width, slots) = (dim.checked_add(2), n.checked_mul(2 * m.min(1 << 16)));
        let (Some(width), Some(slots)) = (width, slots) else {
            return Err(bad("sizes overflow"));
        };
        if dim == 0 || n == 0 || m < 2 || entry >= n || top > 30 || m > 1 << 16 {
            return Err(bad("sizes out of range"));
        }
        let points = r.words(
            n.checked_mul(width).ok_or_else(|| bad("sizes overflow"))?,
            f32::from_le_bytes,
        );
        let points = points.ok_or_else(|| bad("points cut short"))?;
        let count0 = r
            .words(n, u32::from_le_bytes)
            .ok_or_else(|| bad("link counts cut short"))?;
        let links0 = r
            .words(slots, u32::from_le_bytes)
            .ok_or_else(|| bad("links cut short"))?;
        let mut upper = Vec::with_capacity(n);
        for _ in 0..n {
            let levels = r.u32().ok_or_else(|| bad("levels cut short"))? as usize;
            if levels > top {
                return Err(bad("an item above the top level"));
            }
            let mut mine = Vec::with_capacity(levels);
            for _ in 0..levels {
                let count = r.u32().ok_or_else(|| bad("links cut short"))? as usize;
                if count > m {
                    return Err(bad("too many links"));
                }
                mine.push(
                    r.words(count, u32::from_le_bytes)
                        .ok_or_else(|| bad("links cut short"))?,
                );
            }
            upper.push(mine);
        }
        if r.at != bytes.len() {
            return Err(bad("bytes after the index"));
        }
        let in_range = |l: &u32| (*l as usize) < n;
        let counts_fit = count0.iter().all(|&c| c as usize <= 2 * m);
        let links_fit = links0.iter().all(in_range)
            && upper.iter().flatten().flatten().all(in_range)
            && upper[entry].len() == top;
        if !counts_fit || !links_fit {
            return Err(bad("links out of range"));
        }
        Ok(HnswIndex {
            dim,
            points,
            m,
            links0,
            count0,
            upper,
            entry: entry as u32,
            top,
        })
    }

    /// Writes the index to `path`.
    pub fn save(&self, path: &Path) -> Result<(), RetrievalError> {
        std::fs::write(path, self.to_bytes())
            .map_err(|e| RetrievalError::Corrupt(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads an index [`save`](Self::save) wrote.
    pub fn load(path: &Path) -> Result<Self, RetrievalError> {
        let bytes = std::fs::read(path)
            .map_err(|e| RetrievalError::Corrupt(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
            .map_err(|e| RetrievalError::Corrupt(format!("{}: {e}", path.display())))
    }
}

const MAGIC: &[u8] = b"NETREX-HNSW-1\n";

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// `n` four-byte little-endian words, each read by `word`.
    fn words<T>(&mut self, n: usize, word: fn([u8; 4]) -> T) -> Option<Vec<T>> {
        let raw = self.take(n.checked_mul(4)?)?;
        Some(
            raw.chunks_exact(4)
                .map(|b| word([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
    }
}

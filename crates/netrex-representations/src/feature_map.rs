//! Which feature rows make up each user's (item's) representation, and with what weights: the
//! sparse matrix a hybrid model multiplies its feature tables by.

use std::sync::Arc;

use crate::error::RepresentationError;

/// A sparse `(ids, features)` matrix in compressed rows: row `id` lists the feature rows whose
/// weighted sum is that id's vector (LightFM's feature matrices; the id itself is one of them
/// when a model keeps per-id embeddings).
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMap {
    offsets: Vec<usize>,
    features: Vec<u32>,
    weights: Vec<f32>,
    num_features: usize,
}

impl FeatureMap {
    /// A map from one list of `(feature, weight)` per id, over `num_features` feature rows.
    ///
    /// Errors: a feature out of range, a non-finite weight, or a feature listed twice for one
    /// id (its weights would be summed silently otherwise).
    pub fn from_rows(
        rows: &[Vec<(u32, f32)>],
        num_features: usize,
    ) -> Result<Self, RepresentationError> {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut features = Vec::new();
        let mut weights = Vec::new();
        offsets.push(0);
        for (id, row) in rows.iter().enumerate() {
            for (k, &(feature, weight)) in row.iter().enumerate() {
                let bad = |message: String| RepresentationError::InvalidParameter {
                    name: "feature map",
                    message: format!("id {id}: {message}"),
                };
                if feature as usize >= num_features {
                    return Err(bad(format!(
                        "feature {feature} is out of range ({num_features} features)"
                    )));
                }
                if !weight.is_finite() {
                    return Err(bad(format!("feature {feature} has weight {weight}")));
                }
                if row[..k].iter().any(|&(f, _)| f == feature) {
                    return Err(bad(format!("feature {feature} is listed twice")));
                }
                features.push(feature);
                weights.push(weight);
            }
            offsets.push(features.len());
        }
        Ok(FeatureMap {
            offsets,
            features,
            weights,
            num_features,
        })
    }

    /// The identity map of `ids` ids: each id its own feature, weight 1 (a plain id model).
    pub fn identity(ids: usize) -> Self {
        FeatureMap {
            offsets: (0..=ids).collect(),
            features: (0..ids as u32).collect(),
            weights: vec![1.0; ids],
            num_features: ids,
        }
    }

    /// Number of ids (rows).
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of feature rows the map points into.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Feature rows and weights of `id`.
    ///
    /// # Panics
    /// If `id` is out of range.
    #[inline]
    pub fn row(&self, id: u32) -> (&[u32], &[f32]) {
        let (start, end) = (self.offsets[id as usize], self.offsets[id as usize + 1]);
        (&self.features[start..end], &self.weights[start..end])
    }

    /// The longest row's length.
    pub fn max_row_len(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.features.len()
    }

    /// The rows of `ids` padded to one length `K` (at least 1): feature indices and weights,
    /// `ids.len() * K` each, row-major; padding points at feature 0 with weight 0. The form a
    /// tensor `gather` takes.
    pub fn padded(&self, ids: &[u32]) -> (Vec<usize>, Vec<f32>, usize) {
        let k = ids
            .iter()
            .map(|&id| self.row(id).0.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut indices = vec![0usize; ids.len() * k];
        let mut weights = vec![0.0f32; ids.len() * k];
        for (r, &id) in ids.iter().enumerate() {
            let (f, w) = self.row(id);
            for (j, (&f, &w)) in f.iter().zip(w).enumerate() {
                indices[r * k + j] = f as usize;
                weights[r * k + j] = w;
            }
        }
        (indices, weights, k)
    }

    /// The parts (`offsets`, `features`, `weights`), as saved.
    pub fn parts(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.offsets, &self.features, &self.weights)
    }

    /// A map from saved parts, checked as [`from_rows`](Self::from_rows) checks rows.
    pub fn from_parts(
        offsets: Vec<usize>,
        features: Vec<u32>,
        weights: Vec<f32>,
        num_features: usize,
    ) -> Result<Self, RepresentationError> {
        let ok = offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last() == Some(&features.len())
            && features.len() == weights.len();
        if !ok {
            return Err(RepresentationError::Shape(format!(
                "feature map: {} offsets do not delimit {} features and {} weights",
                offsets.len(),
                features.len(),
                weights.len()
            )));
        }
        let rows: Vec<Vec<(u32, f32)>> = offsets
            .windows(2)
            .map(|w| {
                (w[0]..w[1])
                    .map(|k| (features[k], weights[k]))
                    .collect::<Vec<_>>()
            })
            .collect();
        Self::from_rows(&rows, num_features)
    }

    /// Row `id` of a side into `out`: `read(id, out)` when the side is made of ids (`map` is
    /// `None`), else the weighted sum of its features' rows through `map` (`tmp`: scratch at
    /// least as long as `out`).
    #[inline(always)]
    pub fn compose_side(
        map: Option<&FeatureMap>,
        id: u32,
        out: &mut [f32],
        tmp: &mut [f32],
        mut read: impl FnMut(usize, &mut [f32]),
    ) {
        match map {
            None => read(id as usize, out),
            Some(map) => map.compose(id, out, &mut tmp[..out.len()], read),
        }
    }

    /// `out = sum_f w_f row_f` over `id`'s features, with rows read by `read(feature, into)`
    /// (`tmp` is scratch of the same length as `out`).
    #[inline]
    pub fn compose(
        &self,
        id: u32,
        out: &mut [f32],
        tmp: &mut [f32],
        mut read: impl FnMut(usize, &mut [f32]),
    ) {
        out.iter_mut().for_each(|o| *o = 0.0);
        let (features, weights) = self.row(id);
        for (&f, &w) in features.iter().zip(weights) {
            read(f as usize, tmp);
            for (o, t) in out.iter_mut().zip(tmp.iter()) {
                *o += w * t;
            }
        }
    }
}

/// The feature maps of a hybrid representation's two sides; `None` is a side indexed by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureMaps {
    /// Users' features, if users are made of features.
    pub user: Option<Arc<FeatureMap>>,
    /// Items' features, if items are made of features.
    pub item: Option<Arc<FeatureMap>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_pad_and_compose() {
        let map =
            FeatureMap::from_rows(&[vec![(0, 0.5), (2, 0.5)], vec![], vec![(1, 2.0)]], 3).unwrap();
        assert_eq!((map.rows(), map.num_features(), map.nnz()), (3, 3, 3));
        assert_eq!(map.max_row_len(), 2);
        let (indices, weights, k) = map.padded(&[2, 0, 1]);
        assert_eq!(k, 2);
        assert_eq!(indices, vec![1, 0, 0, 2, 0, 0]);
        assert_eq!(weights, vec![2.0, 0.0, 0.5, 0.5, 0.0, 0.0]);
        let table = [[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let (mut out, mut tmp) = ([9.0f32; 2], [0.0f32; 2]);
        map.compose(0, &mut out, &mut tmp, |f, into| {
            into.copy_from_slice(&table[f])
        });
        assert_eq!(out, [3.0, 4.0]);
        map.compose(1, &mut out, &mut tmp, |f, into| {
            into.copy_from_slice(&table[f])
        });
        assert_eq!(out, [0.0, 0.0]);
        let (o, f, w) = map.parts();
        let back = FeatureMap::from_parts(o.to_vec(), f.to_vec(), w.to_vec(), 3).unwrap();
        assert_eq!(back, map);
        assert_eq!(FeatureMap::identity(2).row(1), (&[1u32][..], &[1.0f32][..]));
    }

    #[test]
    fn bad_rows_are_errors() {
        for (rows, says) in [
            (vec![vec![(3u32, 1.0f32)]], "out of range"),
            (vec![vec![(0, f32::NAN)]], "weight"),
            (vec![vec![(1, 1.0), (1, 2.0)]], "twice"),
        ] {
            let err = FeatureMap::from_rows(&rows, 3).unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
        assert!(FeatureMap::from_parts(vec![0, 2], vec![0], vec![1.0], 1).is_err());
    }
}

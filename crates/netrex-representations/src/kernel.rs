//! The bilinear CPU kernel a factorization representation can provide: where its user and
//! item tables are, checked once, and its scores on host memory.

use crate::error::RepresentationError;
use crate::feature_map::{FeatureMap, FeatureMaps};
use crate::table::{IndexedBy, Table};

/// Where a bilinear representation keeps `user_embedding (users, D)`, `user_bias (users, 1)`,
/// `item_embedding (items, D)` and `item_bias (items, 1)` among its tables, for a score
/// `<p_u, q_i> + b_u + b_i`. Returned by
/// [`FactorizationRepresentation::bilinear_kernel`](crate::FactorizationRepresentation::bilinear_kernel);
/// training checks it with [`check`](Self::check) when a model is built, then reads rows by
/// these positions only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BilinearKernel {
    /// Position of `user_embedding (users, D)`, user-indexed.
    pub user: usize,
    /// Position of `user_bias (users, 1)`, user-indexed.
    pub user_bias: usize,
    /// Position of `item_embedding (items, D)`, item-indexed.
    pub item: usize,
    /// Position of `item_bias (items, 1)`, item-indexed.
    pub item_bias: usize,
}

impl BilinearKernel {
    /// The four tables first, in the order above (the layout of [`Bilinear`](crate::Bilinear)).
    pub const IN_ORDER: BilinearKernel = BilinearKernel {
        user: 0,
        user_bias: 1,
        item: 2,
        item_bias: 3,
    };

    /// Checks that `tables` hold the four tables at these positions, with the indexing and
    /// shapes above; returns the embedding dimension `D`.
    pub fn check(&self, tables: &[Table]) -> Result<usize, RepresentationError> {
        self.check_with_maps(tables, &FeatureMaps::default())
    }

    /// [`check`](Self::check) for a side made of features: its two tables are
    /// [`IndexedBy::Whole`] with one row per feature of its map.
    pub fn check_with_maps(
        &self,
        tables: &[Table],
        maps: &FeatureMaps,
    ) -> Result<usize, RepresentationError> {
        let fail = |message: String| RepresentationError::Layout {
            representation: "bilinear kernel",
            message,
        };
        let at = |k: usize| {
            tables.get(k).ok_or_else(|| {
                fail(format!(
                    "it names table {k}, but the representation has {} tables",
                    tables.len()
                ))
            })
        };
        let (user, item) = (at(self.user)?, at(self.item)?);
        let positions = [self.user, self.user_bias, self.item, self.item_bias];
        if (1..4).any(|k| positions[..k].contains(&positions[k])) {
            return Err(fail(format!("it names a table twice: {positions:?}")));
        }
        let side = |map: &Option<std::sync::Arc<FeatureMap>>, ids: IndexedBy, rows: usize| {
            map.as_ref()
                .map_or((ids, rows), |m| (IndexedBy::Whole, m.num_features()))
        };
        let (user_by, user_rows) = side(&maps.user, IndexedBy::User, user.rows());
        let (item_by, item_rows) = side(&maps.item, IndexedBy::Item, item.rows());
        let expected = [
            (self.user, user_by, user_rows, item.cols()),
            (self.user_bias, user_by, user_rows, 1),
            (self.item, item_by, item_rows, item.cols()),
            (self.item_bias, item_by, item_rows, 1),
        ];
        for (k, by, rows, cols) in expected {
            let table = at(k)?;
            if table.indexed_by() != by || table.rows() != rows || table.cols() != cols {
                return Err(fail(format!(
                    "table {k} ({}) is {:?}-indexed, {} x {}; expected {by:?}-indexed, {rows} x {cols}",
                    table.name(),
                    table.indexed_by(),
                    table.rows(),
                    table.cols()
                )));
            }
        }
        Ok(item.cols())
    }

    /// Scores of every item for `user`, `<p_u, q_i> + b_u + b_i`, written into `scores` (one
    /// per item). The tables must have passed [`check`](Self::check).
    pub fn scores(&self, tables: &[Table], user: u32, scores: &mut [f32]) {
        let p = tables[self.user].row(user as usize);
        let bias = tables[self.user_bias].row(user as usize)[0];
        let items = tables[self.item].data().chunks_exact(p.len().max(1));
        let biases = tables[self.item_bias].data();
        for ((s, q), b) in scores.iter_mut().zip(items).zip(biases) {
            *s = dot(p, q) + bias + b;
        }
    }
}

/// Row `id` of table `t` into `out`: the row itself, or the weighted sum of the rows of its
/// features when the side has a `map` (`tmp`: scratch as long as `out`).
#[inline(always)]
pub fn read_side(
    tables: &[Table],
    t: usize,
    map: Option<&FeatureMap>,
    id: u32,
    out: &mut [f32],
    tmp: &mut [f32],
) {
    FeatureMap::compose_side(map, id, out, tmp, |r, into| {
        into.copy_from_slice(tables[t].row(r))
    });
}

impl BilinearKernel {
    /// [`scores`](Self::scores) for a representation with feature maps: every item's vector
    /// and bias summed from its features (users likewise). `scores` holds one per item.
    pub fn scores_with_maps(
        &self,
        tables: &[Table],
        maps: &FeatureMaps,
        user: u32,
        scores: &mut [f32],
    ) {
        if maps.user.is_none() && maps.item.is_none() {
            return self.scores(tables, user, scores);
        }
        let d = tables[self.item].cols();
        let (mut p, mut q, mut tmp) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        let (mut b, mut c, mut tmp1) = ([0.0f32], [0.0f32], [0.0f32]);
        let (um, im) = (maps.user.as_deref(), maps.item.as_deref());
        read_side(tables, self.user, um, user, &mut p, &mut tmp);
        read_side(tables, self.user_bias, um, user, &mut b, &mut tmp1);
        for (i, s) in scores.iter_mut().enumerate() {
            read_side(tables, self.item, im, i as u32, &mut q, &mut tmp);
            read_side(tables, self.item_bias, im, i as u32, &mut c, &mut tmp1);
            *s = dot(&p, &q) + b[0] + c[0];
        }
    }
}

/// `<a, b>` in eight lanes, which the compiler keeps in vector registers (the kernels' inner
/// product: scoring and training use the same one, so their scores agree to the bit).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let split = a.len() / 8 * 8;
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let tail: f32 = a[split..].iter().zip(&b[split..]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// `out += factor * x` (the kernels' row update).
#[inline(always)]
pub fn add_scaled(out: &mut [f32], factor: f32, x: &[f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += factor * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bilinear_tables(users: usize, items: usize, dim: usize) -> Vec<Table> {
        vec![
            Table::zeros("user_embedding", IndexedBy::User, users, dim),
            Table::zeros("user_bias", IndexedBy::User, users, 1),
            Table::zeros("item_embedding", IndexedBy::Item, items, dim),
            Table::zeros("item_bias", IndexedBy::Item, items, 1),
        ]
    }

    #[test]
    fn check_accepts_the_layout_and_names_what_breaks_it() {
        let tables = bilinear_tables(3, 5, 4);
        assert_eq!(BilinearKernel::IN_ORDER.check(&tables).unwrap(), 4);
        // the same tables in another order, with a kernel that says so
        let mut shuffled = tables.clone();
        shuffled.swap(0, 3);
        let kernel = BilinearKernel {
            user: 3,
            user_bias: 1,
            item: 2,
            item_bias: 0,
        };
        assert_eq!(kernel.check(&shuffled).unwrap(), 4);
        for (tables, kernel, says) in [
            (shuffled.clone(), BilinearKernel::IN_ORDER, "table 0"),
            (tables[..3].to_vec(), BilinearKernel::IN_ORDER, "table 3"),
            (
                tables.clone(),
                BilinearKernel {
                    item_bias: 1,
                    ..BilinearKernel::IN_ORDER
                },
                "twice",
            ),
        ] {
            let err = kernel.check(&tables).unwrap_err();
            assert!(matches!(err, RepresentationError::Layout { .. }), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
        let mut wide_bias = tables;
        wide_bias[1] = Table::zeros("user_bias", IndexedBy::User, 3, 2);
        assert!(BilinearKernel::IN_ORDER.check(&wide_bias).is_err());
    }

    #[test]
    fn dot_matches_the_plain_sum_for_every_length() {
        for len in 0..20 {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {len}");
        }
    }
}

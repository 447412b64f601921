//! Approximate top-k: a hierarchical navigable small-world graph (Malkov & Yashunin 2018).
//!
//! A model's score is an inner product plus a bias, which is no distance, and a graph built
//! on it greedily can strand a query among popular items. So each item is made a point of one
//! sphere (Bachrach et al. 2014): `x_i = [v_i, b_i, sqrt(M² - |v_i|² - b_i²)]` with `M` the
//! largest `|[v_i, b_i]|`, and a query is `q' = [q, 1, 0]`. Then `q' · x_i = q · v_i + b_i`,
//! the model's score, and since every `|x_i| = M`, `|q' - x_i|² = |q'|² + M² - 2 q' · x_i`: the
//! nearest point is the best scored item, and between items a larger inner product is a
//! smaller Euclidean distance. The graph is built and searched by inner product on these
//! points, which is then a true nearest-neighbour search.
//!
//! Construction inserts items one at a time in id order with levels drawn from a seeded
//! generator, so one seed gives one graph. Neighbours are chosen by the paper's heuristic
//! (keep a candidate only if it is nearer the new item than to every neighbour kept), which
//! keeps links pointing in different directions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rayon::prelude::*;

mod file;

use crate::error::RetrievalError;
use crate::index::Filter;
use crate::select::{Ranked, TopK, Worst};

/// How the graph is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswConfig {
    /// Links per item above level 0 (twice as many at level 0).
    pub m: usize,
    /// Candidates kept while an item's links are searched: higher builds slower and finds more.
    pub ef_construction: usize,
    /// Seeds the level each item is given.
    pub seed: u64,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            m: 16,
            ef_construction: 200,
            seed: 0,
        }
    }
}

/// An approximate index of item vectors and biases, scored as [`crate::ItemIndex`] scores
/// them (`q · v_i + b_i`).
#[derive(Clone, Debug, PartialEq)]
pub struct HnswIndex {
    dim: usize,
    /// `dim + 2` values a point.
    points: Vec<f32>,
    m: usize,
    /// Level-0 links, `2m` slots an item, the first `count0[i]` used.
    links0: Vec<u32>,
    count0: Vec<u32>,
    /// Links above level 0: `upper[i][l - 1]` for the levels `1..=level(i)`.
    upper: Vec<Vec<Vec<u32>>>,
    entry: u32,
    top: usize,
}

/// A candidate: inner product with the query, then id; greater is nearer (the reverse of
/// the selection heap's order: higher score, then lower id).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Near(Reverse<Worst>);

impl Near {
    fn new(score: f32, id: u32) -> Self {
        Near(Reverse(Worst(Ranked { id, score })))
    }

    fn score(&self) -> f32 {
        (self.0).0 .0.score
    }

    fn id(&self) -> u32 {
        (self.0).0 .0.id
    }
}

/// Items visited by one search, cleared by moving to the next stamp (one byte an item, so
/// that the table of a large catalog stays in cache; zeroed every 255 searches).
struct Visited {
    stamp: Vec<u8>,
    now: u8,
}

impl Visited {
    fn new(n: usize) -> Self {
        Visited {
            stamp: vec![0; n],
            now: 0,
        }
    }

    fn clear(&mut self) {
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
    }

    /// Whether `i` is new to this search (it is marked now).
    #[inline]
    fn first(&mut self, i: u32) -> bool {
        let s = &mut self.stamp[i as usize];
        let new = *s != self.now;
        *s = self.now;
        new
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // eight partial sums: the loop becomes vector code even at the baseline x86-64 width
    let mut acc = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let done = a.len() / 8 * 8;
    let tail: f32 = a[done..].iter().zip(&b[done..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// splitmix64: the levels' generator (a dependency-free, seeded stream).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl HnswIndex {
    /// Builds the graph over the rows of `vectors` (`items x dim`, row-major) and `biases`
    /// (one per item; none is all zero).
    pub fn build(
        vectors: &[f32],
        dim: usize,
        biases: Option<&[f32]>,
        config: HnswConfig,
    ) -> Result<Self, RetrievalError> {
        if dim == 0 || vectors.is_empty() {
            let items = vectors.len().checked_div(dim).unwrap_or(0);
            return Err(RetrievalError::Empty { items, dim });
        }
        if !vectors.len().is_multiple_of(dim) {
            return Err(RetrievalError::Ragged {
                values: vectors.len(),
                dim,
            });
        }
        let n = vectors.len() / dim;
        if let Some(b) = biases.filter(|b| b.len() != n) {
            return Err(RetrievalError::Biases {
                biases: b.len(),
                items: n,
            });
        }
        if config.m < 2 || config.ef_construction == 0 {
            return Err(RetrievalError::Config(format!(
                "HNSW needs m >= 2 and ef_construction >= 1 (got {} and {})",
                config.m, config.ef_construction
            )));
        }
        let width = dim + 2;
        let bias = |i: usize| biases.map_or(0.0, |b| b[i]);
        let sq = |i: usize| {
            dot(
                &vectors[i * dim..(i + 1) * dim],
                &vectors[i * dim..(i + 1) * dim],
            )
        };
        let radius = (0..n)
            .map(|i| sq(i) + bias(i) * bias(i))
            .fold(0.0f32, f32::max);
        let mut points = Vec::with_capacity(n * width);
        for i in 0..n {
            points.extend_from_slice(&vectors[i * dim..(i + 1) * dim]);
            points.push(bias(i));
            points.push((radius - sq(i) - bias(i) * bias(i)).max(0.0).sqrt());
        }
        let mut index = HnswIndex {
            dim,
            points,
            m: config.m,
            links0: vec![0; n * 2 * config.m],
            count0: vec![0; n],
            upper: vec![Vec::new(); n],
            entry: 0,
            top: 0,
        };
        let scale = 1.0 / (config.m as f64).ln();
        let mut state = config.seed;
        let mut visited = Visited::new(n);
        for i in 0..n {
            let u = (next(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            let level = ((-(1.0 - u).ln() * scale) as usize).min(30);
            let ef = config.ef_construction;
            index.insert(i as u32, level, ef, &mut visited);
        }
        Ok(index)
    }

    /// Whether the index was built from exactly these item vectors and biases (a saved index
    /// read beside a model that has since been retrained does not match).
    pub fn matches(&self, vectors: &[f32], dim: usize, biases: Option<&[f32]>) -> bool {
        if dim != self.dim || vectors.len() != self.num_items() * dim {
            return false;
        }
        if biases.is_some_and(|b| b.len() != self.num_items()) {
            return false;
        }
        self.points
            .chunks_exact(dim + 2)
            .zip(vectors.chunks_exact(dim))
            .enumerate()
            .all(|(i, (p, v))| p[..dim] == *v && p[dim] == biases.map_or(0.0, |b| b[i]))
    }

    /// Items in the index.
    pub fn num_items(&self) -> usize {
        self.count0.len()
    }

    /// The dimension of queries.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn point(&self, i: u32) -> &[f32] {
        let w = self.dim + 2;
        &self.points[i as usize * w..(i as usize + 1) * w]
    }

    /// Hints the CPU to load point `i`'s row into cache.
    #[inline]
    fn prefetch(&self, i: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let row = self.point(i);
            for line in (0..row.len()).step_by(16) {
                // SAFETY: a prefetch reads nothing and faults on no address; `line` is inside
                // the row
                unsafe { _mm_prefetch::<_MM_HINT_T0>(row[line..].as_ptr().cast()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    fn links(&self, i: u32, level: usize) -> &[u32] {
        if level == 0 {
            let s = i as usize * 2 * self.m;
            &self.links0[s..s + self.count0[i as usize] as usize]
        } else {
            &self.upper[i as usize][level - 1]
        }
    }

    fn set_links(&mut self, i: u32, level: usize, to: &[u32]) {
        if level == 0 {
            let s = i as usize * 2 * self.m;
            self.links0[s..s + to.len()].copy_from_slice(to);
            self.count0[i as usize] = to.len() as u32;
        } else {
            self.upper[i as usize][level - 1] = to.to_vec();
        }
    }

    /// The `ef` points nearest `q` (a point) found from `entries` at `level`, nearest first.
    fn search_layer(
        &self,
        q: &[f32],
        entries: &[Near],
        ef: usize,
        level: usize,
        visited: &mut Visited,
    ) -> Vec<Near> {
        visited.clear();
        let mut frontier: BinaryHeap<Near> = BinaryHeap::with_capacity(2 * ef + 1);
        let mut found: BinaryHeap<Reverse<Near>> = BinaryHeap::with_capacity(ef + 1);
        for &e in entries {
            if visited.first(e.id()) {
                frontier.push(e);
                found.push(Reverse(e));
            }
        }
        while found.len() > ef {
            found.pop();
        }
        while let Some(c) = frontier.pop() {
            let worst = found.peek().map(|w| w.0);
            if found.len() >= ef && worst.is_some_and(|w| c < w) {
                break;
            }
            let links = self.links(c.id(), level);
            // the neighbours' rows lie anywhere in memory: ask for all of them before the
            // first is read, so that their misses overlap
            links.iter().for_each(|&nb| self.prefetch(nb));
            for &nb in links {
                if !visited.first(nb) {
                    continue;
                }
                let near = Near::new(dot(q, self.point(nb)), nb);
                let worst = found.peek().map(|w| w.0);
                if found.len() < ef || worst.is_some_and(|w| near > w) {
                    frontier.push(near);
                    found.push(Reverse(near));
                    if found.len() > ef {
                        found.pop();
                    }
                }
            }
        }
        let mut out: Vec<Near> = found.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    /// Greedy descent at one upper level (the paper's search with `ef` 1): move to the best
    /// neighbour while one is better.
    fn greedy(&self, q: &[f32], mut at: Near, level: usize) -> Near {
        loop {
            let mut moved = false;
            for &nb in self.links(at.id(), level) {
                let near = Near::new(dot(q, self.point(nb)), nb);
                if near > at {
                    at = near;
                    moved = true;
                }
            }
            if !moved {
                return at;
            }
        }
    }

    /// The paper's heuristic: of `candidates` (nearest first), those nearer `of` than to
    /// every one kept before them, at most `most`.
    fn choose(&self, candidates: &[Near], most: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(most);
        for c in candidates {
            if kept.len() == most {
                break;
            }
            let p = self.point(c.id());
            if kept.iter().all(|&r| dot(p, self.point(r)) < c.score()) {
                kept.push(c.id());
            }
        }
        kept
    }

    fn insert(&mut self, i: u32, level: usize, ef: usize, visited: &mut Visited) {
        self.upper[i as usize] = vec![Vec::new(); level];
        if i == 0 {
            self.entry = 0;
            self.top = level;
            return;
        }
        let q = self.point(i).to_vec();
        let mut at = Near::new(dot(&q, self.point(self.entry)), self.entry);
        for l in (level + 1..=self.top).rev() {
            at = self.greedy(&q, at, l);
        }
        let mut entries = vec![at];
        for l in (0..=level.min(self.top)).rev() {
            let found = self.search_layer(&q, &entries, ef, l, visited);
            let chosen = self.choose(&found, self.m);
            self.set_links(i, l, &chosen);
            let most = if l == 0 { 2 * self.m } else { self.m };
            for &nb in &chosen {
                let mut theirs = self.links(nb, l).to_vec();
                theirs.push(i);
                if theirs.len() > most {
                    let p = self.point(nb);
                    let mut by: Vec<Near> = theirs
                        .iter()
                        .map(|&t| Near::new(dot(p, self.point(t)), t))
                        .collect();
                    by.sort_by(|a, b| b.cmp(a));
                    theirs = self.choose(&by, most);
                }
                self.set_links(nb, l, &theirs);
            }
            entries = found;
        }
        if level > self.top {
            self.entry = i;
            self.top = level;
        }
    }

    /// The best `k` items (approximately) for each of `queries` (`queries x dim`), best first:
    /// the `max(ef, k + excluded)` nearest found at level 0, less those `filter` leaves out.
    /// An allow-list is searched exactly (its items scored one by one).
    pub fn top_k(
        &self,
        queries: &[f32],
        k: usize,
        ef: usize,
        filter: &Filter<'_>,
    ) -> Result<Vec<Vec<Ranked>>, RetrievalError> {
        if !queries.len().is_multiple_of(self.dim) {
            return Err(RetrievalError::Query {
                values: queries.len(),
                dim: self.dim,
            });
        }
        let n = queries.len() / self.dim;
        if !filter.seen.is_empty() && filter.seen.len() != n {
            return Err(RetrievalError::Seen {
                lists: filter.seen.len(),
                queries: n,
            });
        }
        let items = self.num_items();
        let ids = filter.seen.iter().flat_map(|s| s.iter());
        for &i in ids.chain(filter.deny).chain(filter.allow.unwrap_or(&[])) {
            if i as usize >= items {
                return Err(RetrievalError::UnknownItem { id: i, items });
            }
        }
        // a block of queries a task, so that one visited table serves many
        let block = n.div_ceil(4 * rayon::current_num_threads()).clamp(1, 256);
        Ok(queries
            .par_chunks(self.dim * block)
            .enumerate()
            .flat_map_iter(|(b, chunk)| {
                let mut visited = Visited::new(items);
                chunk
                    .chunks_exact(self.dim)
                    .enumerate()
                    .map(|(j, q)| {
                        let seen = filter.seen.get(b * block + j).copied().unwrap_or(&[]);
                        self.search_one(q, k, ef, seen, filter, &mut visited)
                    })
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    fn search_one(
        &self,
        q: &[f32],
        k: usize,
        ef: usize,
        seen: &[u32],
        filter: &Filter<'_>,
        visited: &mut Visited,
    ) -> Vec<Ranked> {
        let mut point = q.to_vec();
        point.extend([1.0, 0.0]);
        let out = |i: u32| seen.contains(&i) || filter.deny.contains(&i);
        let mut top = TopK::new(k);
        if let Some(allow) = filter.allow {
            for &i in allow.iter().filter(|&&i| !out(i)) {
                top.offer(Ranked {
                    id: i,
                    score: dot(&point, self.point(i)),
                });
            }
            return top.into_sorted();
        }
        let mut at = Near::new(dot(&point, self.point(self.entry)), self.entry);
        for l in (1..=self.top).rev() {
            at = self.greedy(&point, at, l);
        }
        let wide = ef.max(k + seen.len() + filter.deny.len());
        for near in self.search_layer(&point, &[at], wide, 0, visited) {
            if !out(near.id()) {
                top.offer(Ranked {
                    id: near.id(),
                    score: near.score(),
                });
            }
        }
        top.into_sorted()
    }
}

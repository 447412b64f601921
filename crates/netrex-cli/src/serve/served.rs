//! The model a server holds, and how it answers one query: factorization users (trained or
//! folded in from their items) and sequence models' encoded histories through the exact
//! top-k index (or a saved graph), EASE and iALS from their scores; raw ids in and out.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

use netrex::data::RawId;
use netrex::linear::LinearModel;
use netrex::losses::BuiltinLoss;
use netrex::prelude::*;
use netrex::retrieval::{top_k_naive, Filter, HnswIndex, ItemIndex, Ranked, Similarity};
use netrex::FoldIn;

use super::ApiError;

type Factorization = ImplicitFactorizationModel<Hybrid, BuiltinLoss>;
type Sequence = ImplicitSequenceModel<AnySequence, BuiltinLoss>;

/// What each kind of model keeps to answer.
enum Kind {
    Factorization {
        model: Box<Factorization>,
        /// Items as `[q_i, b_i, 1]`: a user's `[p_u, 1, b_u]` scores them in one product.
        folded: ItemIndex,
        /// Users as `[p_u, 1, b_u]`, one row each.
        users: Vec<f32>,
        /// The raw item vectors `q_i`, for item-to-item similarity.
        raw: ItemIndex,
        /// With `--approximate EF`: the saved HNSW graph over `folded`'s rows, and EF.
        graph: Option<Box<(HnswIndex, usize)>>,
    },
    Sequence {
        model: Box<Sequence>,
        /// The items' output vectors and biases: an encoded history scores them in one product.
        index: ItemIndex,
    },
    Linear(Box<LinearModel>),
}

/// A loaded model folder.
pub(crate) struct Served {
    kind: Kind,
    catalog: Catalog,
    /// The folder it was read from.
    pub(crate) dir: PathBuf,
}

/// One recommendation request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Query {
    user: Option<Value>,
    items: Option<Vec<Value>>,
    #[serde(default = "ten")]
    k: usize,
    #[serde(default = "yes")]
    exclude_seen: bool,
    allow: Option<Vec<Value>>,
    #[serde(default)]
    deny: Vec<Value>,
}

/// One similar-items request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimilarQuery {
    item: Value,
    #[serde(default = "ten")]
    k: usize,
    #[serde(default)]
    similarity: Option<String>,
    allow: Option<Vec<Value>>,
    #[serde(default)]
    deny: Vec<Value>,
}

fn ten() -> usize {
    10
}

fn yes() -> bool {
    true
}

/// A query for the exact index with no allow- or deny-list: the batcher answers it with
/// the others waiting.
pub(crate) struct Exact {
    /// `[p_u, 1, b_u]` (a folded-in user: `[p, 1, 0]`; a sequence model: the encoded history).
    pub(crate) query: Vec<f32>,
    pub(crate) k: usize,
    /// The items to leave out.
    pub(crate) seen: Vec<u32>,
}

/// How a query is answered: here and now, or by the shared exact search.
pub(crate) enum Plan {
    Done(Value),
    Exact(Exact),
}

/// The bounds every request is held to.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) k: usize,
    pub(crate) items: usize,
}

fn raw_of(v: &Value) -> Result<RawId, ApiError> {
    match v {
        Value::String(s) => Ok(RawId::parse(s)),
        Value::Number(n) => Ok(RawId::parse(&n.to_string())),
        other => Err(ApiError::bad(format!(
            "an id is a string or a number, not {other}"
        ))),
    }
}

impl Served {
    /// Reads the model in `dir` (any kind `netrex fit --save` writes); with `approximate`
    /// (a search width), a factorization model's users are answered from its saved graph.
    pub(crate) fn load(dir: &Path, approximate: Option<usize>) -> Result<Served, crate::Failure> {
        crate::guard::model_fits(dir)?;
        let (kind, catalog) = if netrex::is_sequence_model(dir) {
            let (model, catalog) = crate::saved::load_sequence(dir)?;
            let (vectors, biases) = model.item_vectors();
            let dim = vectors.len() / biases.len().max(1);
            let index = ItemIndex::new(vectors, dim, Some(biases))?;
            let kind = Kind::Sequence {
                model: Box::new(model),
                index,
            };
            (kind, catalog)
        } else if netrex::linear::is_linear_model(dir) {
            let (model, catalog) = crate::linear::load_linear(dir)?;
            (Kind::Linear(Box::new(model)), catalog)
        } else {
            let (model, catalog) = crate::saved::load_factorization(dir)?;
            let vectors = model.vectors()?;
            let (users, items) = vectors.folded();
            let graph = match approximate {
                Some(ef) => Some(Box::new((
                    crate::index::load_graph(dir, &items, vectors.dim + 2)?,
                    ef,
                ))),
                None => None,
            };
            let folded = ItemIndex::new(items, vectors.dim + 2, None)?;
            let raw = ItemIndex::new(vectors.items.clone(), vectors.dim, None)?;
            let kind = Kind::Factorization {
                model: Box::new(model),
                folded,
                users,
                raw,
                graph,
            };
            (kind, catalog)
        };
        if approximate.is_some() && !matches!(kind, Kind::Factorization { .. }) {
            return Err(format!(
                "{}: --approximate searches a factorization model's items; this model is not one",
                dir.display()
            )
            .into());
        }
        if catalog.items.is_none() {
            return Err(format!("{}: the model has no item ids", dir.display()).into());
        }
        Ok(Served {
            kind,
            catalog,
            dir: dir.to_path_buf(),
        })
    }

    /// How users are searched, for `/health`.
    pub(crate) fn search(&self) -> Value {
        match &self.kind {
            Kind::Factorization {
                graph: Some(graph), ..
            } => json!({"method": "hnsw", "ef": graph.1}),
            Kind::Factorization { .. } => json!({"method": "exact"}),
            _ => json!({"method": "scores"}),
        }
    }

    /// The model's kind, for `/health`.
    pub(crate) fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Factorization { .. } => "factorization",
            Kind::Sequence { .. } => "sequence",
            Kind::Linear(_) => "linear",
        }
    }

    fn item(&self, v: &Value) -> Result<u32, ApiError> {
        let raw = raw_of(v)?;
        let items = self.catalog.items.as_ref().expect("checked at load");
        items
            .get(&raw)
            .ok_or_else(|| ApiError::not_found(format!("unknown item {raw}")))
    }

    fn items(&self, list: &[Value]) -> Result<Vec<u32>, ApiError> {
        list.iter().map(|v| self.item(v)).collect()
    }

    /// The exact index a query vector searches: a factorization model's items as `[q_i, b_i,
    /// 1]`, a sequence model's output vectors and biases.
    pub(crate) fn exact_index(&self) -> Option<&ItemIndex> {
        match &self.kind {
            Kind::Factorization { folded, .. } => Some(folded),
            Kind::Sequence { index, .. } => Some(index),
            Kind::Linear(_) => None,
        }
    }

    /// Ranked items as the answer's JSON, with raw ids (and titles where the model has them).
    pub(crate) fn answer(&self, ranked: Vec<Ranked>) -> Value {
        let list: Vec<Value> = ranked
            .into_iter()
            .map(|r| {
                let mut item =
                    json!({"id": self.catalog.item_raw(r.id).to_string(), "score": r.score});
                if let Some(title) = self.catalog.title(r.id) {
                    item["title"] = json!(title);
                }
                item
            })
            .collect();
        json!({ "items": list })
    }

    /// The best `k` items for a trained user, a new user's items (folded in) or a history;
    /// a factorization query without allow- or deny-list is left to the exact search.
    pub(crate) fn recommend(&self, q: &Query, limits: Limits) -> Result<Plan, ApiError> {
        if q.k == 0 || q.k > limits.k {
            return Err(ApiError::bad(format!("k must be in 1..={}", limits.k)));
        }
        let given = q.items.as_deref().unwrap_or(&[]);
        if given.len() > limits.items {
            return Err(ApiError::bad(format!("at most {} items", limits.items)));
        }
        let chosen = self.items(given)?;
        let deny = self.items(&q.deny)?;
        let allow = q.allow.as_deref().map(|a| self.items(a)).transpose()?;
        let user = match &q.user {
            Some(v) => {
                let raw = raw_of(v)?;
                let u = self
                    .catalog
                    .user_index(&raw)
                    .map_err(|_| ApiError::not_found(format!("unknown user {raw}")))?;
                Some(u)
            }
            None => None,
        };
        if user.is_none() && chosen.is_empty() {
            return Err(ApiError::bad(
                "give a user (\"user\": ID) or a list of items (\"items\": [...])",
            ));
        }
        let seen: Vec<u32> = match (q.exclude_seen, user, &self.catalog.seen) {
            (false, _, _) => Vec::new(),
            (true, Some(u), Some(seen)) => seen.get(u as usize).to_vec(),
            (true, Some(_), None) => Vec::new(),
            (true, None, _) => chosen.clone(),
        };
        let filter = Filter {
            seen: &[],
            allow: allow.as_deref(),
            deny: &deny,
        };
        let ranked = match &self.kind {
            Kind::Factorization {
                model,
                folded,
                users,
                graph,
                ..
            } => {
                let d = folded.dim();
                let query: Vec<f32> = match user {
                    Some(u) => users[u as usize * d..(u as usize + 1) * d].to_vec(),
                    None => {
                        let user = model
                            .fold_in(&chosen, &FoldIn::default())
                            .map_err(|e| ApiError::bad(e.to_string()))?;
                        let mut v = user.embedding;
                        v.extend([1.0, 0.0]);
                        v
                    }
                };
                if let Some(graph) = graph {
                    let (graph, ef) = &**graph;
                    // ~10-20 µs a query: answered here, no batch to wait for
                    let lists = [seen.as_slice()];
                    let filter = Filter {
                        seen: &lists,
                        ..filter
                    };
                    let mut best = graph
                        .top_k(&query, q.k, *ef, &filter)
                        .map_err(|e| ApiError::bad(e.to_string()))?;
                    return Ok(Plan::Done(self.answer(best.pop().unwrap_or_default())));
                }
                return self.exact(folded, query, q.k, seen, &filter);
            }
            Kind::Sequence { model, index } => {
                if user.is_some() {
                    return Err(ApiError::bad(
                        "a sequence model recommends from a history: give \"items\"",
                    ));
                }
                // the history encoded once, then retrieved like a user
                let query = model
                    .encode(&chosen)
                    .map_err(|e| ApiError::bad(e.to_string()))?;
                return self.exact(index, query, q.k, seen, &filter);
            }
            Kind::Linear(model) => {
                let mut scores = vec![0.0f32; model.num_items()];
                match user {
                    Some(u) => model.score_items(u, &mut scores),
                    None => model
                        .score_new(&chosen, &mut scores)
                        .map_err(|e| ApiError::bad(e.to_string()))?,
                }
                self.select(&scores, q.k, &seen, &filter)
            }
        };
        Ok(Plan::Done(self.answer(ranked)))
    }

    /// Exact search of `query` in `index`: left to the shared search when nothing but the
    /// seen items is filtered, else run here (an allow- or deny-list is the request's own).
    fn exact(
        &self,
        index: &ItemIndex,
        query: Vec<f32>,
        k: usize,
        seen: Vec<u32>,
        filter: &Filter<'_>,
    ) -> Result<Plan, ApiError> {
        if filter.allow.is_none() && filter.deny.is_empty() {
            return Ok(Plan::Exact(Exact { query, k, seen }));
        }
        let lists = [seen.as_slice()];
        let filter = Filter {
            seen: &lists,
            ..*filter
        };
        let mut best = index
            .top_k(&query, None, k, &filter)
            .map_err(|e| ApiError::bad(e.to_string()))?;
        Ok(Plan::Done(self.answer(best.pop().unwrap_or_default())))
    }

    fn select(&self, scores: &[f32], k: usize, seen: &[u32], filter: &Filter<'_>) -> Vec<Ranked> {
        let n = scores.len();
        let mut skip = vec![false; n];
        for &i in seen.iter().chain(filter.deny) {
            skip[i as usize] = true;
        }
        if let Some(allow) = filter.allow {
            let mut allowed = vec![false; n];
            allow.iter().for_each(|&i| allowed[i as usize] = true);
            skip.iter_mut().zip(&allowed).for_each(|(s, a)| *s |= !a);
        }
        top_k_naive(scores, k, |i| skip[i as usize])
    }

    /// The `k` items most like one item (factorization models).
    pub(crate) fn similar(&self, q: &SimilarQuery, limits: Limits) -> Result<Value, ApiError> {
        if q.k == 0 || q.k > limits.k {
            return Err(ApiError::bad(format!("k must be in 1..={}", limits.k)));
        }
        let Kind::Factorization { raw, .. } = &self.kind else {
            return Err(ApiError::bad(
                "similar items come from a factorization model's item vectors",
            ));
        };
        let similarity = match q.similarity.as_deref() {
            None | Some("cosine") => Similarity::Cosine,
            Some("dot") => Similarity::Dot,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "similarity is cosine or dot, not {other:?}"
                )))
            }
        };
        let item = self.item(&q.item)?;
        let deny = self.items(&q.deny)?;
        let allow = q.allow.as_deref().map(|a| self.items(a)).transpose()?;
        let filter = Filter {
            seen: &[],
            allow: allow.as_deref(),
            deny: &deny,
        };
        let ranked = raw
            .similar_items(item, q.k, similarity, &filter)
            .map_err(|e| ApiError::bad(e.to_string()))?;
        Ok(self.answer(ranked))
    }
}

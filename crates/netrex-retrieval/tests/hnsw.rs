//! The approximate index against exact search: recall on a fixed synthetic set, filters,
//! one seed one graph, and saved bytes that read back (and corrupt ones that do not).

use netrex_retrieval::{Filter, HnswConfig, HnswIndex, ItemIndex, RetrievalError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 16;

fn random(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// 5,000 items with biases and 200 queries, seeded.
fn data() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(7);
    let items = random(&mut rng, 5_000 * DIM);
    let biases = random(&mut rng, 5_000).iter().map(|b| b * 0.5).collect();
    (items, biases, random(&mut rng, 200 * DIM))
}

fn recall(found: &[Vec<netrex_retrieval::Ranked>], truth: &[Vec<netrex_retrieval::Ranked>]) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| f.iter().filter(|r| t.iter().any(|x| x.id == r.id)).count())
        .sum();
    hits as f64 / truth.iter().map(Vec::len).sum::<usize>() as f64
}

#[test]
fn recall_at_10_against_exact_search_is_above_the_floor() {
    let (items, biases, queries) = data();
    let exact = ItemIndex::new(items.clone(), DIM, Some(biases.clone())).unwrap();
    let truth = exact.top_k(&queries, None, 10, &Filter::default()).unwrap();
    let graph = HnswIndex::build(&items, DIM, Some(&biases), HnswConfig::default()).unwrap();
    let found = graph.top_k(&queries, 10, 64, &Filter::default()).unwrap();
    let r = recall(&found, &truth);
    assert!(r >= 0.95, "recall@10 {r}");
    // the scores returned are the model's scores
    let first = &found[0];
    let scores = exact.scores(&queries[..DIM], 0.0).unwrap();
    for x in first {
        assert!((x.score - scores[x.id as usize]).abs() < 1e-4);
    }
    // a wider search finds at least as much
    let wide = graph.top_k(&queries, 10, 256, &Filter::default()).unwrap();
    assert!(recall(&wide, &truth) >= r);
}

#[test]
fn filters_leave_items_out_and_an_allow_list_is_exact() {
    let (items, biases, queries) = data();
    let graph = HnswIndex::build(&items, DIM, Some(&biases), HnswConfig::default()).unwrap();
    let q = &queries[..DIM];
    let plain = graph
        .top_k(q, 10, 64, &Filter::default())
        .unwrap()
        .remove(0);
    let seen: Vec<u32> = plain.iter().take(3).map(|r| r.id).collect();
    let deny = [plain[3].id];
    let filtered = graph
        .top_k(
            q,
            10,
            64,
            &Filter {
                seen: &[&seen],
                allow: None,
                deny: &deny,
            },
        )
        .unwrap()
        .remove(0);
    assert_eq!(filtered.len(), 10);
    assert!(filtered
        .iter()
        .all(|r| !seen.contains(&r.id) && r.id != deny[0]));
    let allow = [5u32, 17, 2_000, 4_999];
    let exact = ItemIndex::new(items, DIM, Some(biases)).unwrap();
    let only = Filter {
        seen: &[],
        allow: Some(&allow),
        deny: &[],
    };
    let (a, b) = (
        graph.top_k(q, 3, 64, &only).unwrap().remove(0),
        exact.top_k(q, None, 3, &only).unwrap().remove(0),
    );
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.id, y.id);
        assert!((x.score - y.score).abs() < 1e-5);
    }
    assert!(matches!(
        graph.top_k(
            q,
            3,
            64,
            &Filter {
                seen: &[],
                allow: None,
                deny: &[5_000]
            }
        ),
        Err(RetrievalError::UnknownItem { .. })
    ));
}

#[test]
fn one_seed_builds_one_graph_and_saved_bytes_read_back() {
    let (items, biases, _) = data();
    let small = &items[..800 * DIM];
    let config = HnswConfig {
        m: 8,
        ef_construction: 50,
        seed: 3,
    };
    let a = HnswIndex::build(small, DIM, Some(&biases[..800]), config).unwrap();
    let b = HnswIndex::build(small, DIM, Some(&biases[..800]), config).unwrap();
    assert_eq!(a, b);
    let bytes = a.to_bytes();
    assert_eq!(HnswIndex::from_bytes(&bytes).unwrap(), a);
    for cut in [0, 10, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            HnswIndex::from_bytes(&bytes[..cut]),
            Err(RetrievalError::Corrupt(_))
        ));
    }
    // a link pointing past the catalog
    let mut broken = bytes.clone();
    let at = 14 + 5 * 8 + 4 * 800 * (DIM + 2) + 4 * 800;
    broken[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        HnswIndex::from_bytes(&broken),
        Err(RetrievalError::Corrupt(_))
    ));
    assert!(matches!(
        HnswIndex::build(small, DIM, None, HnswConfig { m: 1, ..config }),
        Err(RetrievalError::Config(_))
    ));
}

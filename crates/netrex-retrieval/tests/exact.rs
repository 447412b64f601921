//! Exact search equals scoring every item and sorting (ties broken by id), whatever the block
//! boundaries; filters leave out what they name; bad input is a typed error.

use netrex_retrieval::{top_k_naive, Filter, ItemIndex, Ranked, RetrievalError, Similarity};
use proptest::prelude::*;

/// Small integers, so that every summation order gives the same float and ties are exact.
fn ints(n: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec((-3i32..=3).prop_map(|x| x as f32), n)
}

/// The scores of `query` against every row, summed in order (exact on small integers).
fn brute(vectors: &[f32], biases: &[f32], dim: usize, query: &[f32], bias: f32) -> Vec<f32> {
    vectors
        .chunks_exact(dim)
        .zip(biases)
        .map(|(v, b)| v.iter().zip(query).map(|(x, y)| x * y).sum::<f32>() + b + bias)
        .collect()
}

/// `(dim, k, vectors, biases, queries, query biases)`: items and queries cross the 2048-item
/// and 64-query blocks.
type Case = (usize, usize, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

fn case() -> impl Strategy<Value = Case> {
    let items = prop_oneof![1usize..40, 2040usize..2060];
    (1usize..5, items, 1usize..70, 0usize..12).prop_flat_map(|(dim, items, queries, k)| {
        let (vectors, biases) = (ints(items * dim), ints(items));
        (
            Just(dim),
            Just(k),
            vectors,
            biases,
            ints(queries * dim),
            ints(queries),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn exact_top_k_equals_a_naive_sort((dim, k, vectors, biases, qs, qb) in case()) {
        let (items, queries) = (biases.len(), qb.len());
        let seen: Vec<Vec<u32>> = (0..queries)
            .map(|q| (0..items as u32).filter(|i| (i + q as u32).is_multiple_of(5)).collect())
            .collect();
        let seen_refs: Vec<&[u32]> = seen.iter().map(Vec::as_slice).collect();
        let deny: Vec<u32> = (0..items as u32).filter(|i| i % 7 == 3).collect();
        let allow: Vec<u32> = (0..items as u32).filter(|i| i % 3 != 1).collect();
        let index = ItemIndex::new(vectors.clone(), dim, Some(biases.clone())).unwrap();
        for filtered in [false, true] {
            let filter = if filtered {
                Filter { seen: &seen_refs, allow: Some(&allow), deny: &deny }
            } else {
                Filter::default()
            };
            let got = index.top_k(&qs, Some(&qb), k, &filter).unwrap();
            prop_assert_eq!(got.len(), queries);
            for (q, ranked) in got.iter().enumerate() {
                let scores = brute(&vectors, &biases, dim, &qs[q * dim..(q + 1) * dim], qb[q]);
                let skip = |i: u32| {
                    filtered
                        && (seen[q].contains(&i) || deny.contains(&i) || !allow.contains(&i))
                };
                prop_assert_eq!(ranked, &top_k_naive(&scores, k, skip));
            }
        }
    }
}

#[test]
fn ties_go_to_the_lower_id_and_nan_scores_are_never_returned() {
    // items 0..4 score 1, 1, 2, NaN, 2 for the query [1]
    let index = ItemIndex::new(vec![1.0, 1.0, 2.0, f32::NAN, 2.0], 1, None).unwrap();
    let got = index.top_k(&[1.0], None, 10, &Filter::default()).unwrap();
    let ids: Vec<u32> = got[0].iter().map(|r| r.id).collect();
    assert_eq!(ids, [2, 4, 0, 1]);
}

#[test]
fn filters_leave_out_seen_denied_and_unlisted_items() {
    let index = ItemIndex::new((0..10).map(|i| i as f32).collect(), 1, None).unwrap();
    let seen: [&[u32]; 1] = [&[9, 8]];
    let filter = Filter {
        seen: &seen,
        allow: Some(&[1, 3, 5, 7, 8, 9]),
        deny: &[7],
    };
    let got = index.top_k(&[1.0], None, 3, &filter).unwrap();
    let ids: Vec<u32> = got[0].iter().map(|r| r.id).collect();
    assert_eq!(ids, [5, 3, 1]);
    let biased = index.top_k(&[1.0], Some(&[10.0]), 1, &filter).unwrap();
    assert_eq!(biased[0], [Ranked { id: 5, score: 15.0 }]);
}

#[test]
fn similar_items_by_cosine_and_dot() {
    // item 0 points along x; 1 is twice as long on x; 2 is diagonal; 3 is along y; 4 is zero
    let index = ItemIndex::new(
        vec![1.0, 0.0, 2.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        2,
        Some(vec![5.0; 5]),
    )
    .unwrap();
    let cosine = index
        .similar_items(0, 10, Similarity::Cosine, &Filter::default())
        .unwrap();
    let ids: Vec<u32> = cosine.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        [1, 2, 3],
        "item 0 itself and the zero item 4 are left out"
    );
    assert!((cosine[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    let dot = index
        .similar_items(
            0,
            2,
            Similarity::Dot,
            &Filter {
                deny: &[1],
                ..Filter::default()
            },
        )
        .unwrap();
    assert_eq!(
        dot,
        [Ranked { id: 2, score: 1.0 }, Ranked { id: 3, score: 0.0 }]
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    assert_eq!(
        ItemIndex::new(vec![1.0; 5], 2, None),
        Err(RetrievalError::Ragged { values: 5, dim: 2 })
    );
    assert!(matches!(
        ItemIndex::new(vec![], 2, None),
        Err(RetrievalError::Empty { .. })
    ));
    assert!(matches!(
        ItemIndex::new(vec![1.0], 0, None),
        Err(RetrievalError::Empty { .. })
    ));
    assert_eq!(
        ItemIndex::new(vec![1.0; 4], 2, Some(vec![0.0])),
        Err(RetrievalError::Biases {
            biases: 1,
            items: 2
        })
    );
    let index = ItemIndex::new(vec![1.0; 4], 2, None).unwrap();
    let none = Filter::default();
    assert_eq!(
        index.top_k(&[1.0; 3], None, 1, &none),
        Err(RetrievalError::Query { values: 3, dim: 2 })
    );
    let unknown = Filter {
        deny: &[2],
        ..Filter::default()
    };
    assert_eq!(
        index.top_k(&[1.0; 2], None, 1, &unknown),
        Err(RetrievalError::UnknownItem { id: 2, items: 2 })
    );
    let seen: [&[u32]; 2] = [&[], &[]];
    let two = Filter {
        seen: &seen,
        ..Filter::default()
    };
    assert_eq!(
        index.top_k(&[1.0; 2], None, 1, &two),
        Err(RetrievalError::Seen {
            lists: 2,
            queries: 1
        })
    );
    assert!(index.similar_items(7, 1, Similarity::Dot, &none).is_err());
    let message = RetrievalError::UnknownItem { id: 7, items: 2 }.to_string();
    assert_eq!(message, "item 7 is not in the index (2 items)");
}

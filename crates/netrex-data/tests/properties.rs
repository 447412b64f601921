//! Property tests of the data transforms.

use netrex_data::sequence::{chunked, windows};
use netrex_data::split::{leave_last_k, leave_one_out, random_split, temporal_split, user_split};
use netrex_data::{IdMap, Interactions, PerUser, RawId, PADDING};
use proptest::prelude::*;

fn interactions() -> impl Strategy<Value = Interactions> {
    (1usize..8, 1usize..12, 1usize..80).prop_flat_map(|(nu, ni, n)| {
        (
            proptest::collection::vec(0..nu as u32, n),
            proptest::collection::vec(0..ni as u32, n),
            proptest::collection::vec(0i64..5, n),
        )
            .prop_map(move |(u, i, t)| {
                Interactions::new(u, i, nu, ni)
                    .unwrap()
                    .with_timestamps(t)
                    .unwrap()
            })
    })
}

fn histories() -> impl Strategy<Value = PerUser<u32>> {
    proptest::collection::vec(proptest::collection::vec(0u32..50, 0..30), 1..6)
        .prop_map(PerUser::from_lists)
}

/// A row's non-padding targets, checking that padding is only on the left.
fn unpadded(row: &[u32]) -> Vec<u32> {
    let first = row.iter().position(|&x| x != PADDING).unwrap_or(row.len());
    assert!(
        row[first..].iter().all(|&x| x != PADDING),
        "padding inside {row:?}"
    );
    row[first..].to_vec()
}

proptest! {
    #[test]
    fn chunks_keep_every_item_in_order(h in histories(), max_len in 1usize..10) {
        let s = chunked(&h, 50, max_len).unwrap();
        for (user, history) in h.iter() {
            let mut joined = Vec::new();
            let mut previous = PADDING;
            for row in (0..s.len()).filter(|&r| s.users()[r] == user as u32) {
                let t = unpadded(s.target(row));
                let input = unpadded(s.input(row));
                // the input is the target shifted right by one, starting from the item before
                let mut expected = vec![previous];
                expected.extend_from_slice(&t[..t.len() - 1]);
                let expected: Vec<u32> = expected.into_iter().filter(|&x| x != PADDING).collect();
                prop_assert_eq!(input, expected);
                previous = *t.last().unwrap();
                joined.extend(t);
            }
            let shifted: Vec<u32> = history.iter().map(|&i| i + 1).collect();
            prop_assert_eq!(joined, shifted);
        }
    }

    #[test]
    fn windows_are_contiguous_suffixes(h in histories(), max_len in 1usize..10, min_len in 0usize..4, step in 1usize..5) {
        let s = windows(&h, 50, max_len, min_len, step).unwrap();
        for row in 0..s.len() {
            let t = unpadded(s.target(row));
            let history: Vec<u32> = h.get(s.users()[row] as usize).iter().map(|&i| i + 1).collect();
            prop_assert!(t.len() >= min_len.max(1) && t.len() <= max_len);
            prop_assert!(history.windows(t.len()).any(|w| w == t.as_slice()));
            let input = s.input(row);
            prop_assert_eq!(&input[input.len() - t.len() + 1..], &t[..t.len() - 1]);
        }
        // the first window of each user ends at the history's end
        for (user, history) in h.iter() {
            if let Some(row) = (0..s.len()).find(|&r| s.users()[r] == user as u32) {
                prop_assert_eq!(*s.target(row).last().unwrap(), history.last().unwrap() + 1);
            }
        }
    }

    #[test]
    fn splits_partition_and_are_seeded(x in interactions(), frac in 0.05f64..0.95, seed in 0u64..1000) {
        for s in [random_split(&x, frac, seed).unwrap(), user_split(&x, frac, seed).unwrap(), leave_last_k(&x, 1).unwrap(), temporal_split(&x, frac).unwrap()] {
            let mut all: Vec<(u32, u32, i64)> = s.train.users().iter().zip(s.train.items()).zip(s.train.timestamps().unwrap())
                .chain(s.test.users().iter().zip(s.test.items()).zip(s.test.timestamps().unwrap()))
                .map(|((&u, &i), &t)| (u, i, t)).collect();
            let mut orig: Vec<(u32, u32, i64)> = x.users().iter().zip(x.items()).zip(x.timestamps().unwrap()).map(|((&u, &i), &t)| (u, i, t)).collect();
            all.sort_unstable();
            orig.sort_unstable();
            prop_assert_eq!(all, orig);
        }
        prop_assert_eq!(random_split(&x, frac, seed).unwrap(), random_split(&x, frac, seed).unwrap());
        prop_assert_eq!(user_split(&x, frac, seed).unwrap(), user_split(&x, frac, seed).unwrap());
    }

    #[test]
    fn leave_one_out_holds_out_each_users_last_two_in_time(x in interactions()) {
        let s = leave_one_out(&x).unwrap();
        let h = x.histories();
        let (train, val, test) = (s.train.histories(), s.validation.histories(), s.test.histories());
        for (u, history) in h.iter() {
            let n = history.len();
            let expected_test: &[u32] = if n >= 2 { &history[n - 1..] } else { &[] };
            let expected_val: &[u32] = if n >= 3 { &history[n - 2..n - 1] } else { &[] };
            prop_assert_eq!(test.get(u), expected_test);
            prop_assert_eq!(val.get(u), expected_val);
            let train_len = n - expected_test.len() - expected_val.len();
            prop_assert_eq!(train.get(u), &history[..train_len]);
        }
        prop_assert_eq!(s.train.len() + s.validation.len() + s.test.len(), x.len());
        let refit = s.train_test().unwrap();
        prop_assert_eq!(refit.train.len() + refit.test.len(), x.len());
    }

    #[test]
    fn temporal_split_respects_time(x in interactions(), frac in 0.05f64..0.95) {
        let s = temporal_split(&x, frac).unwrap();
        let max_train = s.train.timestamps().unwrap().iter().max().copied();
        let min_test = s.test.timestamps().unwrap().iter().min().copied();
        if let (Some(a), Some(b)) = (max_train, min_test) {
            prop_assert!(a < b);
        }
    }

    #[test]
    fn histories_are_a_stable_time_order(x in interactions()) {
        let h = x.histories();
        prop_assert_eq!(h.values().len(), x.len());
        let rows = x.user_rows();
        let ts = x.timestamps().unwrap();
        for (u, r) in rows.iter() {
            prop_assert!(r.iter().all(|&row| x.users()[row] as usize == u));
            prop_assert!(r.windows(2).all(|w| (ts[w[0]], w[0]) < (ts[w[1]], w[1])));
        }
    }

    #[test]
    fn id_map_round_trips(ids in proptest::collection::hash_set(prop_oneof![any::<i64>().prop_map(RawId::Int), "[a-z0-9]{1,6}".prop_map(|s| RawId::parse(&s))], 0..40)) {
        let map = IdMap::from_raw(ids.into_iter().collect()).unwrap();
        let json = serde_json::to_string(&map).unwrap();
        let back: IdMap<RawId> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &map);
        for (i, raw) in map.raw_ids().iter().enumerate() {
            prop_assert_eq!(back.get(raw), Some(i as u32));
            prop_assert_eq!(RawId::parse(&raw.to_string()), raw.clone());
        }
    }
}

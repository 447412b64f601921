//! The id-map deserialiser (saved catalogs) and raw-id parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netrex_data::{IdMap, RawId};

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = serde_json::from_slice::<IdMap<RawId>>(data) {
        // a map that loads must answer consistently
        for (dense, raw) in map.raw_ids().iter().enumerate() {
            assert_eq!(map.get(raw), Some(dense as u32));
        }
    }
    let _ = serde_json::from_slice::<netrex::Catalog>(data);
    let _ = RawId::parse(&String::from_utf8_lossy(data));
});

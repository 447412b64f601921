//! Saved models and checkpoints: the input is cut at a `\n--8<--\n` line into `model.json`,
//! `model.safetensors` and `optimizer.safetensors`, then loaded as a factorization model, a
//! sequence model and a checkpoint of each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netrex::prelude::*;

#[path = "common.rs"]
mod common;

const CUT: &[u8] = b"\n--8<--\n";

fn parts(data: &[u8]) -> [&[u8]; 3] {
    let mut out: [&[u8]; 3] = [&[], &[], &[]];
    let mut rest = data;
    for slot in out.iter_mut() {
        match rest.windows(CUT.len()).position(|w| w == CUT) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + CUT.len()..];
            }
            None => {
                *slot = rest;
                rest = &[];
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [json, tensors, optimizer] = parts(data);
    let dir = common::scratch("model");
    let checkpoint = dir.join("checkpoint");
    std::fs::create_dir_all(&checkpoint).expect("scratch folder");
    for folder in [&dir, &checkpoint] {
        std::fs::write(folder.join("model.json"), json).expect("scratch file");
        std::fs::write(folder.join("model.safetensors"), tensors).expect("scratch file");
        std::fs::write(folder.join("optimizer.safetensors"), optimizer).expect("scratch file");
    }
    let loss = || BuiltinLoss::from_name("bpr", None).expect("built-in");
    let _ = ImplicitFactorizationModel::<Bilinear, BuiltinLoss>::load(&dir, loss());
    let _ = ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load(&dir, loss());
    let _ = ImplicitFactorizationModel::<Bilinear, BuiltinLoss>::load_checkpoint(&dir, loss());
    let _ = ImplicitSequenceModel::<AnySequence, BuiltinLoss>::load_checkpoint(&dir, loss());
});

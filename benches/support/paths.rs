//! One training step timed both ways, shared by the step benchmarks.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use netrex::prelude::*;

/// One batch of a step benchmark: its rows and the flat ids of its inputs, targets and
/// negatives.
pub struct StepBatch<'a> {
    pub rows: usize,
    pub inputs: &'a [u32],
    pub targets: &'a [u32],
    pub negatives: &'a [u32],
}

/// Times one step of `model` on `batch` by the hand-written kernel (`id("kernel")`) and
/// through dfdx (`id("dfdx")`).
pub fn bench_paths<R: SequenceRepresentation, L: Loss>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: impl Fn(&str) -> BenchmarkId,
    model: &ImplicitSequenceModel<R, L>,
    batch: &StepBatch<'_>,
) {
    let StepBatch {
        rows,
        inputs,
        targets,
        negatives,
    } = *batch;
    group.bench_function(id("kernel"), |b| {
        b.iter(|| {
            model
                .fused_batch_gradients(rows, inputs, targets, negatives)
                .expect("a host encoder")
        })
    });
    group.bench_function(id("dfdx"), |b| {
        b.iter(|| {
            model
                .batch_gradients(rows, inputs, targets, negatives)
                .expect("step")
        })
    });
}

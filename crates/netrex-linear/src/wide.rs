//! Loops compiled for the widest vectors the CPU has, chosen at run time: a [`Wide`] job runs
//! through [`widest`], which calls it from a function compiled for AVX-512 or AVX2 where the
//! CPU has them. The jobs use no fused multiply-add and sum in a fixed order, so every width
//! gives the same bits.

/// A loop to compile for several vector widths: `run` must be `#[inline(always)]`, and so
/// must everything it calls in its hot loop.
pub(crate) trait Wide {
    /// Does the work.
    fn run(&mut self);
}

/// Runs `job` compiled for the widest vectors the CPU has.
#[inline(always)]
pub(crate) fn widest<W: Wide>(job: &mut W) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above)
            return unsafe { run_avx512(job) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe { run_avx2(job) };
        }
    }
    job.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512<W: Wide>(job: &mut W) {
    job.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<W: Wide>(job: &mut W) {
    job.run()
}

/// `a · b` in sixteen partial sums, so the loop vectorises and its order is fixed.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let (chunks_a, chunks_b) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for (lane, (x, y)) in lanes.iter_mut().zip(ca.iter().zip(cb)) {
            *lane += x * y;
        }
    }
    // a fixed tree: halves, then quarters, then pairs
    let mut half = [0.0f32; 8];
    for l in 0..8 {
        half[l] = lanes[l] + lanes[l + 8];
    }
    let mut quarter = [0.0f32; 4];
    for l in 0..4 {
        quarter[l] = half[l] + half[l + 4];
    }
    (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]) + tail
}

/// `out += a x`.
#[inline(always)]
pub(crate) fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    out.iter_mut().zip(x).for_each(|(o, x)| *o += a * x);
}

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

/// `a · b` in sixteen partial sums summed in a fixed tree, so its value does not depend on
/// the vector width. On AVX-512 the sixteen sums are one register (the portable loop below
/// does not reliably become one).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above)
        return unsafe { dot_avx512(a, b) };
    }
    dot_portable(a, b)
}

/// [`dot`] in portable code.
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
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
    reduce(lanes) + tail
}

/// The sixteen partial sums in a fixed tree: halves, then quarters, then pairs.
#[inline(always)]
fn reduce(lanes: [f32; 16]) -> f32 {
    let mut half = [0.0f32; 8];
    for l in 0..8 {
        half[l] = lanes[l] + lanes[l + 8];
    }
    let mut quarter = [0.0f32; 4];
    for l in 0..4 {
        quarter[l] = half[l] + half[l + 4];
    }
    (quarter[0] + quarter[2]) + (quarter[1] + quarter[3])
}

/// [`dot`] with its sixteen sums in one AVX-512 register: the same products and sums in the
/// same order (multiply, then add; no fused multiply-add), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_loadu_ps, _mm512_mul_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    };
    let n = a.len().min(b.len());
    let full = n / 16 * 16;
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    while i < full {
        // SAFETY: i + 16 <= full <= the length of both slices
        let (x, y) = unsafe {
            (
                _mm512_loadu_ps(a.as_ptr().add(i)),
                _mm512_loadu_ps(b.as_ptr().add(i)),
            )
        };
        acc = _mm512_add_ps(acc, _mm512_mul_ps(x, y));
        i += 16;
    }
    let mut lanes = [0.0f32; 16];
    // SAFETY: lanes holds sixteen floats
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), acc) };
    let tail: f32 = a[full..n].iter().zip(&b[full..n]).map(|(x, y)| x * y).sum();
    reduce(lanes) + tail
}

/// `out += a x`.
#[inline(always)]
pub(crate) fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    out.iter_mut().zip(x).for_each(|(o, x)| *o += a * x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_gives_the_same_dot_to_the_bit() {
        let mut state = 12345u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for n in [0, 1, 15, 16, 17, 31, 64, 100, 128, 129] {
            let a: Vec<f32> = (0..n).map(|_| next()).collect();
            let b: Vec<f32> = (0..n).map(|_| next()).collect();
            let portable = dot_portable(&a, &b);
            assert_eq!(dot(&a, &b).to_bits(), portable.to_bits(), "n = {n}");
            let mut job = Dot {
                a: &a,
                b: &b,
                out: 0.0,
            };
            widest(&mut job);
            assert_eq!(job.out.to_bits(), portable.to_bits(), "n = {n}");
        }
    }

    struct Dot<'a> {
        a: &'a [f32],
        b: &'a [f32],
        out: f32,
    }

    impl Wide for Dot<'_> {
        #[inline(always)]
        fn run(&mut self) {
            self.out = dot(self.a, self.b);
        }
    }
}

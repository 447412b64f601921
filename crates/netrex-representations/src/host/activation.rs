//! Sigmoid and tanh without library calls, for the encoders' element-wise loops.
//!
//! The C library's `tanhf` goes through `expm1f`: in a profile of the LSTM's ML-100K epoch
//! (1 thread) those two took 40% of the samples, and a call per element keeps a loop scalar.
//! These are branch-free (selects, not jumps), so a loop over them vectorises, and they agree
//! with the library to a few units in the last place (tests below).

/// `e^x` for `x <= 0` (below -87 it is clamped there: `~1.6e-38`), within `~2e-7` relative:
/// the Cephes `expf` range reduction (`x = k ln 2 + r`) and polynomial. NaN stays NaN.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that k * LN2_HI is exact
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let shifted = x * LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let poly = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = r * r * poly + r + 1.0;
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    e_r * f32::from_bits(((k_int + 127) as u32) << 23)
}

/// `1 / (1 + e^-x)`, from `e^-|x|` so that nothing overflows.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 {
        s
    } else {
        e * s
    }
}

/// `tanh(x)`: an odd polynomial below `|x| = 0.625` (where `1 - e^-2|x|` would lose digits to
/// cancellation), `(1 - e^-2|x|) / (1 + e^-2|x|)` with `x`'s sign above (Cephes' `tanhf`
/// split).
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328e-1)
            * z
            * x
            + x;
    let e = exp_nonpositive(-2.0 * a);
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// `x <- sigmoid(x)` over a slice: one pointer, so the loop vectorises (eight lanes where the
/// CPU has AVX2, with the same arithmetic, so the same results, as the four-lane fallback).
pub(crate) fn sigmoid_in_place(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { sigmoid_avx2(x) };
    }
    x.iter_mut().for_each(|v| *v = sigmoid(*v));
}

/// `x <- tanh(x)` over a slice, as [`sigmoid_in_place`].
pub(crate) fn tanh_in_place(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { tanh_avx2(x) };
    }
    x.iter_mut().for_each(|v| *v = tanh(*v));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sigmoid_avx2(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = sigmoid(*v));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tanh_avx2(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = tanh(*v));
}

#[cfg(test)]
mod tests {
    use super::{sigmoid, tanh};

    fn grid() -> impl Iterator<Item = f32> {
        (-400_000..=400_000).map(|i| i as f32 * 1.0e-4)
    }

    #[test]
    fn tanh_matches_the_library() {
        for x in grid().chain([1.0e-30, -1.0e-30, 50.0, -50.0, 1.0e4]) {
            let exact = f64::from(x).tanh();
            let got = f64::from(tanh(x));
            let err = (got - exact).abs();
            assert!(
                err <= 4.0e-7 * exact.abs() + 1.0e-38,
                "tanh({x}) = {got}, exact {exact}"
            );
        }
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert!(tanh(f32::NAN).is_nan());
    }

    #[test]
    fn in_place_forms_match_the_scalar_ones() {
        let xs: Vec<f32> = (-1000..1000).map(|i| i as f32 * 0.013).collect();
        let (mut s, mut t) = (xs.clone(), xs.clone());
        super::sigmoid_in_place(&mut s);
        super::tanh_in_place(&mut t);
        for ((x, s), t) in xs.iter().zip(&s).zip(&t) {
            assert_eq!(s.to_bits(), sigmoid(*x).to_bits());
            assert_eq!(t.to_bits(), tanh(*x).to_bits());
        }
    }

    #[test]
    fn sigmoid_matches_the_library() {
        for x in grid().chain([100.0, -100.0, -1.0e4]) {
            let exact = 1.0 / (1.0 + (-f64::from(x)).exp());
            let got = f64::from(sigmoid(x));
            let err = (got - exact).abs();
            // below e^-87 the clamped exponential keeps a tiny positive value
            assert!(
                err <= 4.0e-7 * exact + 2.0e-38,
                "sigmoid({x}) = {got}, exact {exact}"
            );
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert!(sigmoid(f32::NAN).is_nan());
    }
}

//! What Intel AMX's bf16 tiles would do for the full-catalog products of SASRec's default loss
//! (issue 13's speed target): the two row-major products of one batch, `S = H E^T` and
//! `dH = G E`, through netrex's `f32` `matmul` (the `gemm` crate, AVX-512 where the CPU has it)
//! and through AMX tiles (`tdpbf16ps`: `bf16` inputs, `f32` sums), on one thread.
//!
//! ```text
//! cargo run --release --example amx_products -- [positions] [items] [rounds]
//! cargo run --release --example amx_products -- 875 12102 20
//! ```
//! The defaults are a mean Beauty batch: 128 users' real positions (about 875 of them) against
//! the 12,101 items and the padding row, at dim 64. The AMX side includes what it would cost
//! per batch: packing the item table into the tiles' pair-interleaved layout and converting `H`
//! to `bf16` (forward), and converting `G` row blocks on the fly (`dH`). Prints seconds per
//! product (the fastest and the median of `rounds`), GFLOP/s, and the largest error of the
//! AMX result against the `f32` one relative to the largest `f32` value. A measurement, not a
//! kernel netrex trains with: on CPUs without AMX-BF16 (or kernels that refuse its state) it
//! says so and times the `f32` side only.

use std::time::Instant;

use netrex::representations::host::{matmul, Out, View};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const D: usize = 64;

#[path = "support/cli_args.rs"]
mod cli_args;
use cli_args::arg;

/// Fastest and median of `rounds` timings of `f`.
fn time(rounds: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut t: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[0], t[t.len() / 2])
}

fn report(name: &str, flop: f64, (best, median): (f64, f64)) {
    println!(
        "{name:<44} {:>8.2} ms (median {:>8.2} ms)  {:>6.0} GFLOP/s",
        best * 1e3,
        median * 1e3,
        flop / best / 1e9
    );
}

fn largest_error(approx: &[f32], exact: &[f32]) -> f64 {
    let scale = exact.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let err = approx
        .iter()
        .zip(exact)
        .fold(0f64, |m, (&a, &e)| m.max(f64::from(a - e).abs()));
    err / scale
}

fn main() {
    let m: usize = arg(1, 875);
    let items: usize = arg(2, 12102);
    let rounds: usize = arg(3, 20).max(1);
    let mut rng = StdRng::seed_from_u64(0);
    let h: Vec<f32> = (0..m * D).map(|_| rng.gen_range(-0.5..0.5)).collect();
    let e: Vec<f32> = (0..items * D).map(|_| rng.gen_range(-0.5..0.5)).collect();
    let flop = 2.0 * (m * items * D) as f64;
    println!("{m} positions x {items} items, dim {D}, one thread, {rounds} rounds");

    let mut s = vec![0f32; m * items];
    let forward = time(rounds, || {
        matmul(
            (m, items, D),
            Out::write(&mut s, items),
            View::rows(&h, D),
            View::transposed(&e, D),
        )
    });
    report("f32 matmul, S = H E^T", flop, forward);
    // the same product 32 rows at a time into one reused block (1.5 MB, inside L2): what a
    // loss pass fused with the product would let the scores cost
    let mut block = vec![0f32; 32 * items];
    let blocked = time(rounds, || {
        for r in (0..m).step_by(32) {
            let rows = (m - r).min(32);
            matmul(
                (rows, items, D),
                Out::write(&mut block, items),
                View::rows(&h[r * D..], D),
                View::transposed(&e, D),
            )
        }
    });
    report("f32 matmul, S = H E^T, 32-row blocks in L2", flop, blocked);
    // a stand-in for the loss's gradient: the scores themselves, as dense as a softmax's
    let g = s.clone();
    let mut dh = vec![0f32; m * D];
    let backward = time(rounds, || {
        matmul(
            (m, D, items),
            Out::write(&mut dh, D),
            View::rows(&g, items),
            View::rows(&e, D),
        )
    });
    report("f32 matmul, dH = G E", flop, backward);

    #[cfg(target_arch = "x86_64")]
    amx::compare(&h, &e, &s, &g, &dh, m, items, rounds, flop);
    #[cfg(not(target_arch = "x86_64"))]
    println!("AMX: not an x86-64 build");
}

#[cfg(target_arch = "x86_64")]
mod amx {
    use std::arch::asm;
    use std::arch::x86_64::*;

    use super::{largest_error, report, time, D};

    /// Rows and columns of a tile operand: 16 rows of 64 bytes.
    const TILE: usize = 16;
    /// `bf16` pairs: a tile's 64 bytes hold 32 `bf16` of the summed dimension.
    const KSTEP: usize = 32;

    /// AMX-TILE and AMX-BF16 in CPUID, and the kernel's leave to use the tile state.
    fn available() -> bool {
        let leaf = __cpuid_count(7, 0);
        let (tile, bf16) = (leaf.edx >> 24 & 1 == 1, leaf.edx >> 22 & 1 == 1);
        if !(tile && bf16 && is_x86_feature_detected!("avx512bf16")) {
            return false;
        }
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a request for permission; it touches no memory of ours.
        unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            ) == 0
        }
    }

    /// Palette 1, all eight tiles 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct Config([u8; 64]);

    fn configure() {
        let mut config = Config([0; 64]);
        config.0[0] = 1;
        for t in 0..8 {
            config.0[16 + 2 * t] = 64;
            config.0[48 + t] = TILE as u8;
        }
        // SAFETY: `available()` held; the configuration is a valid palette-1 layout.
        unsafe { asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr(), options(nostack)) };
    }

    fn bf16(x: f32) -> u16 {
        let u = x.to_bits();
        ((u + 0x7fff + ((u >> 16) & 1)) >> 16) as u16
    }

    fn from_bf16(x: u16) -> f32 {
        f32::from_bits(u32::from(x) << 16)
    }

    /// `rows` rounded up to a multiple of `to`.
    fn round_up(rows: usize, to: usize) -> usize {
        rows.div_ceil(to) * to
    }

    /// The item table as `S = H E^T`'s right operand: per block of 16 items and half of `D`,
    /// 16 rows of (16 items x a pair of dimensions). Items past the table are zero.
    fn pack_forward(e: &[f32], items: usize, cols: usize, out: &mut [u16]) {
        for block in 0..cols / TILE {
            for half in 0..D / KSTEP {
                let tile = &mut out[(block * 2 + half) * 512..][..512];
                for pair in 0..TILE {
                    for c in 0..TILE {
                        let item = block * TILE + c;
                        for k in 0..2 {
                            let dim = half * KSTEP + pair * 2 + k;
                            tile[pair * 32 + c * 2 + k] = if item < items {
                                bf16(e[item * D + dim])
                            } else {
                                0
                            };
                        }
                    }
                }
            }
        }
    }

    /// The item table as `dH = G E`'s right operand: per block of 32 items and quarter of `D`,
    /// 16 rows of (16 dimensions x a pair of items).
    fn pack_backward(e: &[f32], items: usize, cols: usize, out: &mut [u16]) {
        for kb in 0..cols / KSTEP {
            for quarter in 0..D / TILE {
                let tile = &mut out[(kb * 4 + quarter) * 512..][..512];
                for pair in 0..TILE {
                    for c in 0..TILE {
                        for k in 0..2 {
                            let item = kb * KSTEP + pair * 2 + k;
                            tile[pair * 32 + c * 2 + k] = if item < items {
                                bf16(e[item * D + quarter * TILE + c])
                            } else {
                                0
                            };
                        }
                    }
                }
            }
        }
    }

    /// `S (rows x cols, f32) = A (rows x D, bf16) B`, rows a multiple of 32, cols of 32.
    fn forward(a: &[u16], b: &[u16], rows: usize, cols: usize, s: &mut [f32]) {
        assert!(a.len() >= rows * D && b.len() >= cols * D && s.len() >= rows * cols);
        let out_stride = cols * 4;
        for r in (0..rows).step_by(2 * TILE) {
            let a0 = a[r * D..].as_ptr();
            let a1 = a[(r + TILE) * D..].as_ptr();
            for block in (0..cols / TILE).step_by(2) {
                let b0 = b[block * 2 * 512..].as_ptr();
                let b1 = b[(block + 1) * 2 * 512..].as_ptr();
                let c0 = s[r * cols + block * TILE..].as_mut_ptr();
                let c2 = s[(r + TILE) * cols + block * TILE..].as_mut_ptr();
                // SAFETY: tiles configured; every tile row read or written lies inside the
                // asserted operands (A: 32 rows of D, B: two blocks of 2 x 512, S: 32 rows of
                // 32 columns).
                unsafe {
                    asm!(
                        "tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3",
                        "tileloadd tmm4, [{a0} + {sa}*1]",
                        "tileloadd tmm5, [{a1} + {sa}*1]",
                        "tileloadd tmm6, [{b0} + {sb}*1]",
                        "tileloadd tmm7, [{b1} + {sb}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm6", "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6", "tdpbf16ps tmm3, tmm5, tmm7",
                        "tileloadd tmm4, [{a0} + {sa}*1 + 64]",
                        "tileloadd tmm5, [{a1} + {sa}*1 + 64]",
                        "tileloadd tmm6, [{b0} + {sb}*1 + 1024]",
                        "tileloadd tmm7, [{b1} + {sb}*1 + 1024]",
                        "tdpbf16ps tmm0, tmm4, tmm6", "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6", "tdpbf16ps tmm3, tmm5, tmm7",
                        "tilestored [{c0} + {so}*1], tmm0",
                        "tilestored [{c0} + {so}*1 + 64], tmm1",
                        "tilestored [{c2} + {so}*1], tmm2",
                        "tilestored [{c2} + {so}*1 + 64], tmm3",
                        a0 = in(reg) a0, a1 = in(reg) a1, b0 = in(reg) b0, b1 = in(reg) b1,
                        c0 = in(reg) c0, c2 = in(reg) c2,
                        sa = in(reg) D * 2, sb = in(reg) 64usize, so = in(reg) out_stride,
                        options(nostack),
                    );
                }
            }
        }
    }

    /// 16 rows of 32 `f32` (`stride` apart) as 16 rows of 32 `bf16`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn convert_block(g: *const f32, stride: usize, out: &mut [u16; 512]) {
        for row in 0..TILE {
            // SAFETY (caller): 16 rows of 32 readable `f32` from `g`.
            let (lo, hi) = unsafe {
                let p = g.add(row * stride);
                (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)))
            };
            // SAFETY: the same 512 bits, read as integers; row `row` of `out` is 64 bytes.
            unsafe {
                let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(out[row * 32..].as_mut_ptr().cast(), v);
            }
        }
    }

    /// `dH (rows x D) = G (rows x cols, f32, converted per tile) B`, rows a multiple of 16,
    /// cols of 32.
    fn backward(g: &[f32], b: &[u16], rows: usize, cols: usize, dh: &mut [f32]) {
        assert!(g.len() >= rows * cols && b.len() >= cols * D && dh.len() >= rows * D);
        let mut scratch = [0u16; 512];
        for r in (0..rows).step_by(TILE) {
            // SAFETY: tiles configured.
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack)
                )
            };
            for kb in 0..cols / KSTEP {
                // SAFETY: 16 rows from `r`, 32 columns from `kb * 32`, all inside `g`.
                unsafe { convert_block(g[r * cols + kb * KSTEP..].as_ptr(), cols, &mut scratch) };
                let bt = b[kb * 4 * 512..].as_ptr();
                // SAFETY: the scratch tile and four packed tiles of `b` from `kb * 4`.
                unsafe {
                    asm!(
                        "tileloadd tmm4, [{a} + {s}*1]",
                        "tileloadd tmm5, [{b} + {s}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm5",
                        "tileloadd tmm6, [{b} + {s}*1 + 1024]",
                        "tdpbf16ps tmm1, tmm4, tmm6",
                        "tileloadd tmm7, [{b} + {s}*1 + 2048]",
                        "tdpbf16ps tmm2, tmm4, tmm7",
                        "tileloadd tmm5, [{b} + {s}*1 + 3072]",
                        "tdpbf16ps tmm3, tmm4, tmm5",
                        a = in(reg) scratch.as_ptr(), b = in(reg) bt, s = in(reg) 64usize,
                        options(nostack),
                    );
                }
            }
            let c = dh[r * D..].as_mut_ptr();
            // SAFETY: 16 rows of D `f32` from row `r` of `dh`.
            unsafe {
                asm!(
                    "tilestored [{c} + {s}*1], tmm0",
                    "tilestored [{c} + {s}*1 + 64], tmm1",
                    "tilestored [{c} + {s}*1 + 128], tmm2",
                    "tilestored [{c} + {s}*1 + 192], tmm3",
                    c = in(reg) c, s = in(reg) D * 4,
                    options(nostack),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn compare(
        h: &[f32],
        e: &[f32],
        s: &[f32],
        g: &[f32],
        dh: &[f32],
        m: usize,
        items: usize,
        rounds: usize,
        flop: f64,
    ) {
        if !available() {
            println!("AMX-BF16: not on this CPU (or the kernel refused its state)");
            return;
        }
        configure();
        let rows = round_up(m, 2 * TILE);
        let cols = round_up(items, KSTEP);
        let mut a = vec![0u16; rows * D];
        let mut packed = vec![0u16; cols * D];
        let mut s_amx = vec![0f32; rows * cols];
        let timing = time(rounds, || {
            for (out, &x) in a.iter_mut().zip(h) {
                *out = bf16(x);
            }
            pack_forward(e, items, cols, &mut packed);
            forward(&a, &packed, rows, cols, &mut s_amx);
        });
        report("AMX bf16, S = H E^T (with packing)", flop, timing);
        let mut block = vec![0f32; 2 * TILE * cols];
        let blocked = time(rounds, || {
            for (out, &x) in a.iter_mut().zip(h) {
                *out = bf16(x);
            }
            pack_forward(e, items, cols, &mut packed);
            for r in (0..rows).step_by(2 * TILE) {
                forward(&a[r * D..], &packed, 2 * TILE, cols, &mut block);
            }
        });
        report("AMX bf16, S = H E^T, 32-row blocks in L2", flop, blocked);
        let pack = time(rounds, || pack_forward(e, items, cols, &mut packed));
        report("  of which packing E", flop, pack);
        let amx: Vec<f32> = (0..m)
            .flat_map(|r| s_amx[r * cols..r * cols + items].iter().copied())
            .collect();
        println!(
            "  largest error / largest |S|: {:.2e}",
            largest_error(&amx, s)
        );

        // G padded to (rows of 16, cols of 32) with zeros, as the loss pass would leave it
        let rows = round_up(m, TILE);
        let mut g_padded = vec![0f32; rows * cols];
        for r in 0..m {
            g_padded[r * cols..r * cols + items].copy_from_slice(&g[r * items..(r + 1) * items]);
        }
        let mut packed = vec![0u16; cols * D];
        let mut dh_amx = vec![0f32; rows * D];
        let timing = time(rounds, || {
            pack_backward(e, items, cols, &mut packed);
            backward(&g_padded, &packed, rows, cols, &mut dh_amx);
        });
        report("AMX bf16, dH = G E (with packing)", flop, timing);
        println!(
            "  largest error / largest |dH|: {:.2e}",
            largest_error(&dh_amx[..m * D], dh)
        );
        // the error bf16 inputs alone explain: the same product on bf16-rounded operands
        let rounded = |v: &[f32]| -> Vec<f32> { v.iter().map(|&x| from_bf16(bf16(x))).collect() };
        let (g16, e16) = (rounded(g), rounded(e));
        let mut exact = vec![0f64; m * D];
        for r in 0..m {
            for i in 0..items {
                let gv = f64::from(g16[r * items + i]);
                for c in 0..D {
                    exact[r * D + c] += gv * f64::from(e16[i * D + c]);
                }
            }
        }
        let exact: Vec<f32> = exact.iter().map(|&v| v as f32).collect();
        println!(
            "  against f64 sums of the bf16-rounded operands: {:.2e}",
            largest_error(&dh_amx[..m * D], &exact)
        );
        // SAFETY: tiles configured above; releasing returns the state to init.
        unsafe { asm!("tilerelease", options(nostack)) };
    }
}

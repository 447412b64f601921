//! What random rows cost on this machine: the memory limit the factorization kernels are
//! measured against (issue: speed that holds on any x86 machine).
//!
//! ```text
//! cargo run --release --example row_bandwidth -- [cols] [reads] [threads]
//! cargo run --release --example row_bandwidth -- 64 4000000
//! cargo run --release --example row_bandwidth -- 64 4000000 2
//! ```
//! For tables of 20k to 4M rows of `cols` `f32`s (the 1M-interaction protocol's item and user
//! tables are 20k and 50k rows of 64), each pass visits `reads` rows drawn uniformly (seeded):
//! - `chase`: each row's address comes from the row before (a pointer chase): one miss at a
//!   time, the latency of a random row;
//! - `read`: the row ids are known in advance, so the core's out-of-order window overlaps the
//!   misses (no software hint);
//! - `read+prefetch`: the same with `_mm_prefetch` of the row `AHEAD` ids later;
//! - `update+prefetch`: each row read, changed and written back (what SGD does to a row);
//! - `bias`: one random `f32` of a separate table (a bias read: one cache line).
//!
//! Layouts: `4k` rows start on a 64-byte line, in 4 KiB pages (what a `Vec<f32>` gets when
//! transparent huge pages are in `madvise` mode, the default of many distributions); `offset`
//! the same 16 bytes past a line (a 256-byte row then spans 5 lines instead of 4); `huge` a
//! 2 MiB-aligned buffer advised `MADV_HUGEPAGE`, so one TLB entry covers 8192 rows instead of
//! 16. Prints ns per row and the bytes per second of the rows' own data.
//!
//! With `threads` above 1, only the workers' section runs: `update+prefetch` by 1 to `threads`
//! workers at once, either on one shared table (Hogwild: relaxed atomic loads and stores, as
//! the fused kernel's workers do) or each on a copy of its own, with ids drawn uniformly or
//! with Zipf popularity (exponent 1, the 1M protocol's items). The aggregate ns per row and
//! the speedup over one worker say how far a second thread can help on this machine, and how
//! much of it sharing hot rows costs.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Instant;

const AHEAD: usize = 8;

#[path = "support/cli_args.rs"]
mod cli_args;
use cli_args::arg;

/// splitmix64: a seeded stream of row ids.
struct Stream(u64);

impl Stream {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % bound as u64) as usize
    }
}

#[inline(always)]
fn prefetch(p: *const f32, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..bytes).step_by(64) {
        // SAFETY: a prefetch is only a hint; it never faults
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                p.cast::<u8>().wrapping_add(offset).cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, bytes);
}

/// A `rows x cols` buffer of values; `shift` bytes past a 64-byte line, or in huge pages.
struct Buffer {
    ptr: *mut f32,
    len: usize,
    layout: std::alloc::Layout,
    start: usize,
}

impl Buffer {
    fn new(rows: usize, cols: usize, shift: usize, huge: bool) -> Self {
        let len = rows * cols + 32;
        let align = if huge { 2 << 20 } else { 64 };
        let bytes = (len * 4).div_ceil(align) * align;
        let layout = std::alloc::Layout::from_size_align(bytes, align).expect("layout");
        // SAFETY: a non-zero size; the memory is zeroed, so every f32 is initialised
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<f32>();
        assert!(!ptr.is_null(), "allocation of {bytes} bytes failed");
        #[cfg(target_os = "linux")]
        if huge {
            // SAFETY: the range is this allocation; advice never invalidates it
            unsafe { libc::madvise(ptr.cast(), bytes, libc::MADV_HUGEPAGE) };
        }
        let mut buffer = Buffer {
            ptr,
            len,
            layout,
            start: shift / 4,
        };
        let mut stream = Stream(7);
        let start = buffer.start;
        for v in &mut buffer.data()[start..start + rows * cols] {
            *v = stream.next(1000) as f32 * 1e-3;
        }
        buffer
    }

    fn data(&mut self) -> &mut [f32] {
        // SAFETY: `len` initialised values from `alloc_zeroed`, owned by this buffer
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`
        unsafe { std::alloc::dealloc(self.ptr.cast(), self.layout) };
    }
}

/// A row's sum in eight lanes (a plain `f32` sum is one serial chain of adds, which would
/// time the adds rather than the memory).
#[inline(always)]
fn lanes(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for chunk in row.chunks_exact(8) {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().sum()
}

/// `count` row ids below `rows` from `seed`: uniform, or with Zipf popularity (row r drawn
/// with weight `1 / (r + 1)`).
fn draw(rows: usize, count: usize, zipfian: bool, seed: u64) -> Vec<usize> {
    let mut stream = Stream(seed);
    if !zipfian {
        return (0..count).map(|_| stream.next(rows)).collect();
    }
    let mut cdf: Vec<f64> = (1..=rows).map(|r| 1.0 / r as f64).collect();
    for r in 1..rows {
        cdf[r] += cdf[r - 1];
    }
    let total = cdf[rows - 1];
    (0..count)
        .map(|_| {
            let u = stream.next(1 << 30) as f64 / (1u64 << 30) as f64 * total;
            cdf.partition_point(|&c| c <= u).min(rows - 1)
        })
        .collect()
}

/// `update+prefetch` over `ids` on a table that other workers may be updating too.
fn update_rows(table: &[AtomicU32], cols: usize, ids: &[usize]) {
    for (k, &r) in ids.iter().enumerate() {
        if let Some(&a) = ids.get(k + AHEAD) {
            prefetch(table[a * cols..].as_ptr().cast(), cols * 4);
        }
        for v in &table[r * cols..(r + 1) * cols] {
            let x = f32::from_bits(v.load(Relaxed));
            v.store((x * 0.999 + 1e-4).to_bits(), Relaxed);
        }
    }
}

/// The workers' section (see the module's docs).
fn workers(cols: usize, reads: usize, threads: usize) {
    println!(
        "row of {cols} f32, update+prefetch {AHEAD} ahead, {reads} rows per pass over all workers"
    );
    println!(
        "{:>7} {:>7} {:>7} {:>8} {:>8} {:>8}",
        "rows", "ids", "tables", "workers", "ns/row", "speedup"
    );
    for (rows, zipfian) in [(50_000usize, false), (20_000, false), (20_000, true)] {
        for shared in [true, false] {
            let mut one = 0.0;
            for count in 1..=threads {
                let per = reads / count;
                let ids: Vec<Vec<usize>> = (0..count)
                    .map(|w| draw(rows, per, zipfian, 1 + w as u64))
                    .collect();
                let tables: Vec<Vec<AtomicU32>> = (0..if shared { 1 } else { count })
                    .map(|_| {
                        (0..rows * cols)
                            .map(|_| AtomicU32::new(0.5f32.to_bits()))
                            .collect()
                    })
                    .collect();
                let t = Instant::now();
                std::thread::scope(|s| {
                    for (w, ids) in ids.iter().enumerate() {
                        let table = &tables[if shared { 0 } else { w }];
                        s.spawn(move || update_rows(table, cols, ids));
                    }
                });
                let ns = t.elapsed().as_secs_f64() * 1e9 / (per * count) as f64;
                if count == 1 {
                    one = ns;
                }
                println!(
                    "{rows:>7} {:>7} {:>7} {count:>8} {ns:>8.1} {:>8.2}",
                    if zipfian { "zipf" } else { "uniform" },
                    if shared { "shared" } else { "own" },
                    one / ns
                );
            }
        }
    }
}

fn main() {
    let cols: usize = arg(1, 64);
    let reads: usize = arg(2, 4_000_000);
    let threads: usize = arg(3, 1);
    if threads > 1 {
        return workers(cols, reads, threads);
    }
    let row_bytes = cols * 4;
    println!(
        "row of {cols} f32 ({row_bytes} bytes), {reads} rows per pass, prefetch {AHEAD} ahead"
    );
    println!(
        "{:>9} {:>8} {:>16} {:>9} {:>9}",
        "rows", "layout", "pass", "ns/row", "GB/s"
    );
    for rows in [20_000usize, 50_000, 1_000_000, 4_000_000] {
        for (layout, shift, huge) in [
            ("4k", 0usize, false),
            ("offset", 16, false),
            ("huge", 0, true),
        ] {
            let mut buffer = Buffer::new(rows, cols, shift, huge);
            let start = buffer.start;
            let mut stream = Stream(rows as u64);
            let ids: Vec<usize> = (0..reads).map(|_| stream.next(rows)).collect();
            // a random cycle through every row for the chase: row r's first value names the next
            let mut order: Vec<usize> = (0..rows).collect();
            for i in (1..rows).rev() {
                order.swap(i, stream.next(i + 1));
            }
            let mut next = vec![0u32; rows];
            for w in 0..rows {
                next[order[w]] = order[(w + 1) % rows] as u32;
            }
            let data = &mut buffer.data()[start..start + rows * cols];
            for (r, &n) in next.iter().enumerate() {
                data[r * cols] = f32::from_bits(n);
            }
            let report = |pass: &str, seconds: f64, count: usize| {
                let ns = seconds * 1e9 / count as f64;
                let gbs = (count * row_bytes) as f64 / seconds / 1e9;
                println!("{rows:>9} {layout:>8} {pass:>16} {ns:>9.1} {gbs:>9.2}");
            };

            let chases = reads.min(2_000_000);
            let t = Instant::now();
            let mut r = order[0];
            let mut sum = 0.0f32;
            for _ in 0..chases {
                let row = &data[r * cols..(r + 1) * cols];
                sum += lanes(&row[8..]);
                r = row[0].to_bits() as usize;
            }
            black_box(sum);
            report("chase", t.elapsed().as_secs_f64(), chases);

            for with_prefetch in [false, true] {
                let t = Instant::now();
                let mut sum = 0.0f32;
                for (k, &r) in ids.iter().enumerate() {
                    if with_prefetch {
                        if let Some(&a) = ids.get(k + AHEAD) {
                            prefetch(data[a * cols..].as_ptr(), row_bytes);
                        }
                    }
                    sum += lanes(&data[r * cols + 8..(r + 1) * cols]);
                }
                black_box(sum);
                let pass = if with_prefetch {
                    "read+prefetch"
                } else {
                    "read"
                };
                report(pass, t.elapsed().as_secs_f64(), reads);
            }

            let t = Instant::now();
            for (k, &r) in ids.iter().enumerate() {
                if let Some(&a) = ids.get(k + AHEAD) {
                    prefetch(data[a * cols..].as_ptr(), row_bytes);
                }
                for v in &mut data[r * cols + 8..(r + 1) * cols] {
                    *v = *v * 0.999 + 1e-4;
                }
            }
            black_box(&data[..cols]);
            report("update+prefetch", t.elapsed().as_secs_f64(), reads);

            if layout == "4k" {
                let biases = vec![0.5f32; rows];
                let t = Instant::now();
                let mut sum = 0.0f32;
                for (k, &r) in ids.iter().enumerate() {
                    if let Some(&a) = ids.get(k + AHEAD) {
                        prefetch(biases[a..].as_ptr(), 4);
                    }
                    sum += biases[r];
                }
                black_box(sum);
                let ns = t.elapsed().as_secs_f64() * 1e9 / reads as f64;
                println!("{rows:>9} {layout:>8} {:>16} {ns:>9.1}", "bias+prefetch");
            }
        }
    }
}

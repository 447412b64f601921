//! Buffers for parameter tables and optimizer state: large ones are advised into transparent
//! huge pages.
//!
//! Training reads and writes rows at random. With 4 KiB pages a table of a few MB spans more
//! pages than the TLB holds, so a random row also costs a page walk (two nested walks in a
//! virtual machine), which prefetching does not hide. Linux's default transparent-huge-page
//! mode on many distributions is `madvise`: only memory that asks gets 2 MiB pages.

/// Buffers smaller than this hold too few whole 2 MiB pages to be worth the advice.
const HUGE_MIN_BYTES: usize = 4 << 20;

/// `len` zeros, with the buffer's whole 2 MiB pages advised into huge pages (Linux,
/// `madvise(MADV_HUGEPAGE)`; a no-op elsewhere, for small buffers and with
/// `NETREX_HUGE_PAGES=0`). The advice takes
/// effect where pages are first written after it: a large `vec![0.0; len]` comes untouched
/// from the allocator, so filling it after this call gets huge pages where the kernel has them.
pub fn zeroed(len: usize) -> Vec<f32> {
    let buffer = vec![0.0f32; len];
    advise_huge_pages(&buffer);
    buffer
}

/// `values` in a buffer from [`zeroed`] (a copy, for large buffers only).
pub fn with_huge_pages(values: Vec<f32>) -> Vec<f32> {
    if std::mem::size_of_val(values.as_slice()) < HUGE_MIN_BYTES {
        return values;
    }
    let mut buffer = zeroed(values.len());
    buffer.copy_from_slice(&values);
    buffer
}

/// Whether large buffers ask for huge pages: yes unless `NETREX_HUGE_PAGES=0` (to compare, or
/// where huge pages are unwelcome).
fn huge_pages_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var("NETREX_HUGE_PAGES").map_or(true, |v| v != "0"))
}

fn advise_huge_pages(buffer: &[f32]) {
    #[cfg(target_os = "linux")]
    if huge_pages_wanted() {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(buffer);
        if bytes < HUGE_MIN_BYTES {
            return;
        }
        let start = buffer.as_ptr() as usize;
        let (first, end) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if end > first {
            // SAFETY: the range lies inside `buffer`'s allocation; the advice changes how its
            // pages are backed, never their contents or validity. A failure (no THP support)
            // leaves 4 KiB pages, which is what the buffer had anyway.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (buffer, huge_pages_wanted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_hold_what_they_are_given() {
        assert_eq!(zeroed(3), vec![0.0; 3]);
        let big: Vec<f32> = (0..2_000_000).map(|i| i as f32).collect();
        let copy = with_huge_pages(big.clone());
        assert_eq!(copy, big);
        let mut z = zeroed(2_000_000);
        z[1_999_999] = 1.0;
        assert_eq!(z.iter().sum::<f32>(), 1.0);
    }
}

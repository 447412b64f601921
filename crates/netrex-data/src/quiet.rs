//! Turning a panic inside a third-party call (polars' readers, CUDA's driver bindings) into
//! an error value, without printing it and without touching other threads' panics.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

thread_local! {
    /// How many `catch_quietly` calls the current thread is inside.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic in it becomes `Err` with the panic's message, and is not printed.
///
/// The first call installs a process-wide panic hook, once, that stays silent for a panic on
/// a thread inside this function and hands every other panic to the hook installed before it.
/// The hook is never swapped back and forth, so panics on other threads are reported as
/// usual, whatever runs concurrently. (A hook set later by the program replaces this one:
/// then a caught panic is printed, and still caught.)
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

//! Positional arguments of the measurement examples.

/// The `k`-th command-line argument parsed as `T`, or `default` when it is absent or does not
/// parse.
pub fn arg<T: std::str::FromStr>(k: usize, default: T) -> T {
    std::env::args()
        .nth(k)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

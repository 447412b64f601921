//! netrex examples and benchmarks.

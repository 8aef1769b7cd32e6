//! End-to-end tests live in tests/*.rs; see tests/it.rs

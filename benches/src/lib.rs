//! Shared fixtures for Conclave benches.

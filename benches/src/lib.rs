//! Shared fixtures for the benches live in the bench files.
